"""The service map: workload -> workload (and -> external) edges with ports, protocols, bytes,
packets, flows and first/last seen; intra-workload edges (replicas of one workload talking to
each other) are marked. Rendered as JSON, Graphviz DOT, or a self-contained HTML page that
draws it with the bundled cytoscape.js (no network access needed to open it).
"""

from __future__ import annotations

import html
from importlib import resources
from typing import Any

import orjson
import polars as pl

from seawall.core.text import printable
from seawall.network.detectors.base import iso, label, proto_name, redact
from seawall.network.engine import reduce_edges
from seawall.network.inventory import split_key

SCHEMA = "seawall.netmap/v1"
INTERNET = "External:/internet"


def build(analysis: Any, max_external: int = 40) -> dict[str, Any]:
    """Map document from an Analysis (seawall.network.analyze)."""
    data = analysis.data
    edges = data.edges
    # keep the busiest external endpoints; fold the rest into one "internet" node
    ext_keys = pl.concat(
        [
            edges.filter(~pl.col("s_int")).select(pl.col("s_key").alias("k"), "bytes"),
            edges.filter(~pl.col("c_int")).select(pl.col("c_key").alias("k"), "bytes"),
        ]
    )
    ranked = ext_keys.group_by("k").agg(pl.col("bytes").sum()).sort(["bytes", "k"], descending=[True, False])
    keep = set(ranked["k"].head(max_external).to_list())
    folded = ranked.height - len(keep)

    def fold(col: str) -> pl.Expr:
        return (
            pl.when(pl.col(col).str.starts_with("External:") & ~pl.col(col).is_in(list(keep)))
            .then(pl.lit(INTERNET))
            .otherwise(pl.col(col))
            .alias(col)
        )

    merged = reduce_edges(edges.with_columns(fold("c_key"), fold("s_key"))).sort(
        ["c_key", "s_key", "s_port"], nulls_last=True
    )
    nodes: dict[str, dict[str, Any]] = {}

    def node(key: str, internal: bool) -> None:
        if key in nodes:
            return
        kind, ns, name = split_key(key)
        entry: dict[str, Any] = {
            "id": key,
            "label": label(key),
            "type": kind,
            "name": name,
            "namespace": ns,
            "internal": bool(internal),
        }
        if kind == "External" and name != "internet":
            names = sorted({redact(n) for n in data.names.get(name, ())})  # names from the wire
            if names:
                entry["names"] = names[:10]
                entry["label"] = f"{names[0]} ({name})"
        if key == INTERNET:
            entry["label"] = f"internet ({folded} addresses)"
        nodes[key] = {k: v for k, v in entry.items() if v is not None}

    # nodes once per key; edges as columns (no per-edge Python work on maps of 100,000s of edges)
    ends = pl.concat([merged.select(pl.col("c_key").alias("k"), pl.col("c_int").alias("i")),
                      merged.select(pl.col("s_key").alias("k"), pl.col("s_int").alias("i"))])
    for key, internal in ends.group_by("k").agg(pl.col("i").max()).sort("k").iter_rows():
        node(key, internal)

    def stamp(col: str) -> pl.Expr:
        return pl.from_epoch(pl.col(col), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")

    protocols = {p: proto_name(p) for p in merged["protocol"].unique().to_list()}
    out_edges = merged.select(
        pl.col("c_key").alias("source"),
        pl.col("s_key").alias("target"),
        pl.col("s_port").alias("port"),
        pl.col("protocol").replace_strict(protocols, return_dtype=pl.String, default="?").fill_null("?")
        .alias("protocol"),
        "bytes", "packets", "flows",
        pl.col("rejects").alias("rejected"),
        stamp("first").alias("first_seen"),
        stamp("last").alias("last_seen"),
        pl.when(pl.col("c_key") == pl.col("s_key")).then(pl.lit("intra-workload"))
        .otherwise(pl.lit("inter-workload")).alias("scope"),
        pl.col("cross_replica").alias("cross_replica_flows"),
    ).to_dicts()
    return {
        "schema": SCHEMA,
        "source": analysis.source,
        "files": analysis.paths,
        "time_range": {"first": iso(data.first), "last": iso(data.last)},
        "stats": {**analysis.stats, "external_addresses_folded": folded},
        "nodes": sorted(nodes.values(), key=lambda n: n["id"]),
        "edges": out_edges,
        "warnings": analysis.all_warnings(),
    }


def to_json(doc: dict[str, Any]) -> str:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def _dot_str(text: str) -> str:
    """A DOT string: control characters (terminal escapes) shown as `?`, quotes and backslashes
    escaped, so that names from hostile input stay labels."""
    return '"' + printable(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(doc: dict[str, Any]) -> str:
    from seawall.network.detectors.base import human_bytes

    lines = [
        "digraph seawall_netmap {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fillcolor="#e8f0fe"];',
        '  edge [fontname="Helvetica", fontsize=10];',
    ]
    for n in doc["nodes"]:
        attrs = f"label={_dot_str(n['label'])}"
        if not n.get("internal"):
            attrs += ', shape=ellipse, fillcolor="#fde8e8"'
        elif n["type"] == "IPAddress":
            attrs += ', fillcolor="#eeeeee"'
        lines.append(f"  {_dot_str(n['id'])} [{attrs}];")
    for e in doc["edges"]:
        text = f"{e['protocol']}/{e['port']}  {human_bytes(e['bytes'])}, {e['flows']} flows"
        style = ", style=dashed" if e["scope"] == "intra-workload" else ""
        color = ', color="#c0392b"' if e["rejected"] and e["rejected"] == e["flows"] else ""
        lines.append(
            f"  {_dot_str(e['source'])} -> {_dot_str(e['target'])} [label={_dot_str(text)}{style}{color}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _script_json(value: Any) -> str:
    """JSON safe inside <script>: no `</script>`, no HTML comment openers, no U+2028/9."""
    text = orjson.dumps(value).decode()
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def to_html(doc: dict[str, Any], findings: list[dict[str, Any]] | None = None) -> str:
    web = resources.files("seawall.network").joinpath("web")
    template = web.joinpath("template.html").read_text(encoding="utf-8")
    library = web.joinpath("vendor/cytoscape.min.js").read_text(encoding="utf-8")
    title = f"seawall service map — {doc.get('source', '')}: {', '.join(doc.get('files', []))[:200]}"
    return (
        template.replace("%%TITLE%%", html.escape(title))
        .replace("%%LIBRARY%%", library.replace("</script", "<\\/script"))
        .replace("%%DATA%%", _script_json({"map": doc, "findings": findings or []}))
    )
