"""One pass over a flow source: attribute, orient, and fold every batch into small partial
aggregates (connections per client/server address and port, connection times, hourly egress,
metadata access, DNS names). Memory is bounded by the number of distinct keys, not by the input
size; every reduction is order-free (sums, min, max), so the result does not depend on how the
input was cut into batches (files, streams, restarts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from seawall.core.errors import InputError
from seawall.network.attribution import (
    CODE,
    INTERNET,
    INTERNET_ROW,
    Attributor,
    Codes,
    is_response,
    orient,
    ports_in_range,
)
from seawall.network.base import DNS_SCHEMA, FLOW_SCHEMA, FlowBatch, conform
from seawall.network.context import Context
from seawall.network.inventory import Inventory
from seawall.network.options import NetworkOptions

EDGE_KEYS = ["c_key", "s_key", "s_port", "protocol"]
PAIR_KEYS = ["c_key", "s_addr", "s_port"]
SCAN_KEYS = ["c_key", "s_key", "s_addr", "s_port"]
LINK_KEYS = ["c_key", "s_key", "s_addr", "s_port", "protocol"]
_MIN_PENDING = 250_000  # rows of new partial frames before a compaction, at least
_MAX_PARTS = 64

_I64, _B = pl.Int64, pl.Boolean
LINK_SCHEMA: dict[str, Any] = {
    "c_key": CODE, "s_key": CODE, "s_addr": CODE, "s_port": pl.Int32, "protocol": pl.Int16,
    "bytes": _I64, "packets": _I64, "flows": _I64, "rejects": _I64, "answered": _I64,
    "cross_replica": _I64, "first": _I64, "last": _I64, "c_int": _B, "s_int": _B,
}
EVENT_SCHEMA: dict[str, Any] = {"c_key": CODE, "s_addr": CODE, "s_port": pl.Int32, "c_addr": CODE,
                                "c_port": pl.Int32, "t": _I64}
EGRESS_SCHEMA: dict[str, Any] = {"src_key": CODE, "hour": _I64, "bytes": _I64, "flows": _I64}
IMDS_SCHEMA: dict[str, Any] = {"c_key": CODE, "flows": _I64, "first": _I64, "last": _I64, "bytes": _I64}
DNS_AGG_SCHEMA: dict[str, Any] = {"src_key": CODE, "qname": pl.String, "count": _I64, "first": _I64,
                                  "last": _I64}


@dataclass
class Partial:
    """Partial frames re-aggregated when the new ones outgrow the compacted one (so each row is
    re-aggregated a bounded number of times, and memory stays near the distinct keys)."""

    reduce: Callable[[pl.LazyFrame], pl.LazyFrame]
    parts: list[pl.DataFrame] = field(default_factory=list)
    base_rows: int = 0
    pending_rows: int = 0
    reduced: bool = True  # parts[0] is reduced (a part may repeat keys: it is not, until compacted)

    def add(self, frame: pl.DataFrame) -> None:
        if not frame.height:
            return
        self.parts.append(frame)
        self.reduced = False
        self.pending_rows += frame.height
        if self.pending_rows >= max(self.base_rows, _MIN_PENDING) or len(self.parts) >= _MAX_PARTS:
            self.compacted()

    def _reduced(self) -> pl.DataFrame:
        return self.reduce(pl.concat(self.parts, how="vertical_relaxed").lazy()).collect()

    def result(self, schema: dict[str, Any]) -> pl.DataFrame:
        if not self.parts:
            return pl.DataFrame(schema=schema)
        return self.parts[0] if len(self.parts) == 1 and self.reduced else self._reduced()

    def take(self, schema: dict[str, Any]) -> pl.DataFrame:
        """`result`, the parts released (the partial is empty afterwards)."""
        frame = self.result(schema)
        self.restore(None)
        return frame

    def restore(self, frame: pl.DataFrame | None) -> None:
        self.parts = [frame] if frame is not None and frame.height else []
        self.base_rows, self.pending_rows, self.reduced = (self.parts[0].height if self.parts else 0), 0, True

    def compacted(self) -> pl.DataFrame | None:
        """The parts reduced to one (kept so), or None when there is nothing yet."""
        if not self.parts:
            return None
        if len(self.parts) > 1 or not self.reduced:
            self.parts = [self._reduced()]
        self.base_rows, self.pending_rows, self.reduced = self.parts[0].height, 0, True
        return self.parts[0]


def _sums(*cols: str) -> list[pl.Expr]:
    return [pl.col(c).sum() for c in cols]


def reduce_links(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.group_by(LINK_KEYS).agg(
        *_sums("bytes", "packets", "flows", "rejects", "answered", "cross_replica"),
        pl.col("first").min(), pl.col("last").max(), pl.col("c_int").max(), pl.col("s_int").max(),
    )


def reduce_edges(df: pl.DataFrame) -> pl.DataFrame:
    """Edges of the same (client, server, port, protocol) as one: counts summed, times spanned."""
    return _reduce_edges(df.lazy()).collect()


def links_to_edges(links: pl.DataFrame) -> pl.DataFrame:
    """`reduce_edges` of links (unique on LINK_KEYS): only the servers with more than one address
    (workloads) have links to merge; the others' links are their edges already."""
    columns = reduce_edges(links.clear()).columns
    many = links.group_by("s_key").agg(pl.col("s_addr").n_unique() > 1).filter("s_addr")["s_key"]
    if not len(many):
        return links.select(columns)
    multi = pl.col("s_key").is_in(many.implode())
    return pl.concat([links.filter(~multi).select(columns),
                      reduce_edges(links.filter(multi)).select(columns)])


def _reduce_edges(df: pl.LazyFrame) -> pl.LazyFrame:
    return df.group_by(EDGE_KEYS).agg(
        *_sums("bytes", "packets", "flows", "rejects", "answered", "cross_replica"),
        pl.col("first").min(), pl.col("last").max(),
        # deterministic whatever the batching: min/max, never first()
        pl.col("s_addr").min(), pl.col("c_int").max(), pl.col("s_int").max(),
    )


def _egress_reduce(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.group_by(["src_key", "hour"]).agg(*_sums("bytes", "flows"))


def _imds_reduce(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.group_by(["c_key"]).agg(*_sums("flows", "bytes"), pl.col("first").min(), pl.col("last").max())


def _dns_reduce(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.group_by(["src_key", "qname"]).agg(pl.col("count").sum(), pl.col("first").min(),
                                                 pl.col("last").max())


def _scans_reduce(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.group_by(SCAN_KEYS).agg(*_sums("flows", "rejects", "answered"), pl.col("first").min(),
                                      pl.col("last").max())


def reduce_events(lf: pl.LazyFrame, max_events: int) -> pl.LazyFrame:
    """One start per connection (client address and port) of a pair, its earliest; of a pair
    with more than `max_events` connections, only the first ones (by time, then client)."""
    conn = lf.group_by([*PAIR_KEYS, "c_addr", "c_port"]).agg(pl.col("t").min())
    many = pl.len().over(PAIR_KEYS) > max_events  # few pairs: only they are sorted
    return pl.concat([
        conn.filter(~many),
        conn.filter(many).sort(["t", "c_addr", "c_port"]).group_by(PAIR_KEYS, maintain_order=True)
        .head(max_events),
    ])


def reducers(options: NetworkOptions) -> dict[str, Callable[[pl.DataFrame], pl.DataFrame]]:
    """How to merge the tables of several `Collected` (same columns, any key type): the reduce of
    each, so that aggregates made apart (files in Spark executors) fold as one process would."""

    def eager(reduce: Callable[[pl.LazyFrame], pl.LazyFrame]) -> Callable[[pl.DataFrame], pl.DataFrame]:
        return lambda frame: reduce(frame.lazy()).collect()

    def events(lf: pl.LazyFrame) -> pl.LazyFrame:
        return reduce_events(lf, options.beacon_max_events)

    return {"edges": reduce_edges, "scans": eager(_scans_reduce), "events": eager(events),
            "egress": eager(_egress_reduce), "imds": eager(_imds_reduce), "dns": eager(_dns_reduce)}


@dataclass
class Collected:
    edges: pl.DataFrame  # c_key s_key s_port protocol bytes packets flows rejects answered ... s_addr
    scans: pl.DataFrame  # c_key s_key s_addr s_port flows rejects answered first last (internal only)
    events: pl.DataFrame  # c_key, s_addr, s_port, c_addr, c_port, t: connection starts (bounded per pair)
    egress: pl.DataFrame  # src_key, hour, bytes, flows: bytes to external addresses per hour
    imds: pl.DataFrame
    dns: pl.DataFrame  # src_key, qname, count, first, last
    names: dict[str, set[str]]
    first: int | None
    last: int | None


class Collector:
    def __init__(self, inventory: Inventory, options: NetworkOptions, context: Context | None = None) -> None:
        self.options = options
        self.context = context or Context.load(list(options.context), options.max_json_bytes)
        self.codes = Codes()
        self.attributor = Attributor(inventory, self.codes, options.max_addresses, self.context)
        self.links = Partial(reduce_links)
        self.egress = Partial(_egress_reduce)
        self.imds = Partial(_imds_reduce)
        self.dns = Partial(_dns_reduce)
        self.events = Partial(self._events_reduce)
        self.names: dict[str, set[str]] = {}
        self.first: int | None = None
        self.last: int | None = None

    def _events_reduce(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        return reduce_events(lf, self.options.beacon_max_events)

    def add(self, batch: FlowBatch) -> None:
        if batch.flows.height:
            self._add_flows(conform(batch.flows, FLOW_SCHEMA))
        if batch.dns is not None and batch.dns.height:
            self._add_dns(conform(batch.dns, DNS_SCHEMA))

    def _add_flows(self, flows: pl.DataFrame) -> None:
        plain = not self.attributor.inventory.by_ip_port and all(
            flows[f"{side}_id_name"].null_count() == flows.height for side in ("src", "dst"))
        frames = self._aggregate_by_address(flows) if plain else self._aggregate(flows)
        links, events, egress, imds_hits, span = frames
        self.links.add(links)
        self.events.add(events)
        self.egress.add(egress)
        self.imds.add(imds_hits)
        lo, hi = span["lo"][0], span["hi"][0]
        if lo is not None:
            self.first = lo if self.first is None else min(self.first, lo)
        if hi is not None:
            self.last = hi if self.last is None else max(self.last, hi)
        if flows["dst_name"].null_count() < flows.height:
            named = flows.filter(pl.col("dst_name").is_not_null()).select("dst_addr", "dst_name").unique()
            for addr, name in named.iter_rows():
                self.names.setdefault(addr, set()).add(name)

    def _beacon_filter(self) -> pl.Expr:
        """Connection starts the beaconing detector looks at (of a client inside, not rejected,
        tcp SYN or udp, not to infrastructure), on oriented rows with c_int, s_int, s_infra."""
        opts = self.options
        syn = pl.col("tcp_flags").is_null() | ((pl.col("tcp_flags") & 2) > 0)
        beacon_scope = pl.lit(True) if opts.beacon_internal else ~pl.col("s_int")
        infra_port = pl.any_horizontal(
            [(pl.col("s_port") == p) & (pl.col("protocol") == proto) for p, proto in
             sorted(self.context.infra_ports)] or [pl.lit(False)]
        ).fill_null(False)
        return (pl.col("c_int") & beacon_scope & ~pl.col("s_infra") & ~infra_port & ~pl.col("rej")
                & pl.col("protocol").is_in([6, 17]) & (syn | (pl.col("protocol") == 17)))

    def _aggregate_by_address(self, flows: pl.DataFrame) -> list[pl.DataFrame]:
        """The batch's partial aggregates when every endpoint is attributed by its address alone
        (no identity in the records, no IP:port in the inventory): rows are grouped by address
        indexes (integers), and workload keys are looked up on the (far fewer) groups."""
        at = self.attributor
        src_ai, dst_ai = at.index(flows["src_addr"]), at.index(flows["dst_addr"])
        attrs = at.attrs

        def of(column: str, ai: str) -> pl.Expr:
            return pl.lit(attrs[column]).gather(pl.col(ai))

        resp = pl.col("resp")
        rows = (
            flows.lazy()
            .select("start", "end", "protocol", "bytes", "packets", "tcp_flags", "answered",
                    (pl.col("action") == "REJECT").alias("rej"),
                    is_response(in_range=ports_in_range(flows)).alias("resp"),
                    src_ai.alias("src_ai"), dst_ai.alias("dst_ai"), "src_port", "dst_port")
            .with_columns(
                pl.when(resp).then(pl.col("dst_ai")).otherwise(pl.col("src_ai")).alias("c_ai"),
                pl.when(resp).then(pl.col("src_ai")).otherwise(pl.col("dst_ai")).alias("s_ai"),
                pl.when(resp).then(pl.col("dst_port")).otherwise(pl.col("src_port")).alias("c_port"),
                pl.when(resp).then(pl.col("src_port")).otherwise(pl.col("dst_port")).alias("s_port"),
            )
            .with_columns(of("int", "c_ai").alias("c_int"), of("int", "s_ai").alias("s_int"),
                          of("infra", "s_ai").alias("s_infra"))
            .collect()
            .lazy()
        )
        ai_pair = pl.col("c_ai").cast(pl.UInt64) * (1 << 32) + pl.col("s_ai")
        c_of = (pl.col("pair") // (1 << 32)).cast(pl.UInt32)
        s_of = (pl.col("pair") % (1 << 32)).cast(pl.UInt32)

        def kid(ai: pl.Expr) -> pl.Expr:
            return pl.lit(attrs["kid"]).gather(ai)

        def iid(ai: pl.Expr) -> pl.Expr:
            return pl.lit(attrs["iid"]).gather(ai)

        links = (
            # inbound internet clients fold into one node: the aggregate stays bounded on public
            # services (detections judge internal clients)
            rows.with_columns(pl.when(pl.col("c_int")).then(pl.col("c_ai"))
                              .otherwise(pl.lit(INTERNET_ROW, CODE)).alias("c_ai"))
            .group_by(ai_pair.alias("pair"), "s_port", "protocol")
            .agg(
                pl.col("bytes").sum(),
                pl.col("packets").sum(),
                pl.len().cast(pl.Int64).alias("flows"),
                pl.col("rej").sum().cast(pl.Int64).alias("rejects"),
                # records of the server's side: the server answered (v2 logs have no flags)
                pl.coalesce(pl.col("answered"), resp & ~pl.col("rej")).sum().cast(pl.Int64).alias("answered"),
                pl.col("start").min().alias("first"),
                pl.col("end").max().alias("last"),
            )
            .with_columns(c_of.alias("c"), s_of.alias("s"))
            .select(
                kid(pl.col("c")).alias("c_key"), kid(pl.col("s")).alias("s_key"),
                pl.lit(attrs["aid"]).gather(pl.col("s")).alias("s_addr"), "s_port", "protocol", "bytes",
                "packets", "flows", "rejects", "answered",
                pl.when((kid(pl.col("c")) == kid(pl.col("s"))) & (iid(pl.col("c")) != iid(pl.col("s"))))
                .then(pl.col("flows")).otherwise(0).alias("cross_replica"),
                "first", "last",
                pl.lit(attrs["int"]).gather(pl.col("c")).alias("c_int"),
                pl.lit(attrs["int"]).gather(pl.col("s")).alias("s_int"),
            )
        )
        events = (
            rows.filter(self._beacon_filter())
            .group_by(ai_pair.alias("pair"), "s_port", "c_port")
            .agg(pl.col("start").min().alias("t"))
            .with_columns(c_of.alias("c"), s_of.alias("s"))
            .select(kid(pl.col("c")).alias("c_key"), pl.lit(attrs["aid"]).gather(pl.col("s")).alias("s_addr"),
                    "s_port", pl.lit(attrs["aid"]).gather(pl.col("c")).alias("c_addr"), "c_port", "t")
        )
        egress = _egress_reduce(
            rows.filter(of("int", "src_ai") & ~of("int", "dst_ai"))
            .group_by("src_ai", (pl.col("start") // 3600 * 3600).alias("hour"))
            .agg(pl.col("bytes").sum(), pl.len().cast(pl.Int64).alias("flows"))
            .select(kid(pl.col("src_ai")).alias("src_key"), "hour", "bytes", "flows")
        )
        imds = _imds_reduce(
            rows.filter(of("imds", "s_ai"))
            .group_by("c_ai")
            .agg(pl.len().cast(pl.Int64).alias("flows"), pl.col("bytes").sum(),
                 pl.col("start").min().alias("first"), pl.col("end").max().alias("last"))
            .select(kid(pl.col("c_ai")).alias("c_key"), "flows", "bytes", "first", "last")
        )
        span = rows.select(pl.col("start").min().alias("lo"), pl.col("end").max().alias("hi"))
        return pl.collect_all([links, events, egress, imds, span])

    def _aggregate(self, flows: pl.DataFrame) -> list[pl.DataFrame]:
        """The batch's partial aggregates, endpoints attributed row by row (identities the
        records carry, the inventory's IP:port)."""
        # attribute + orient once, keep only the integer-coded columns the aggregations need
        lf = (
            orient(self.attributor.attribute(flows), in_range=ports_in_range(flows))
            .select(
                "c_key", "s_key", "c_inst", "s_inst", "c_int", "s_int", "s_infra", "src_key", "src_int",
                "dst_int", "s_port", "c_port", "protocol", "bytes", "packets", "start", "end", "resp",
                "answered",
                pl.col("c_aid").alias("c_addr"),
                pl.col("s_aid").alias("s_addr"),
                (pl.col("action") == "REJECT").alias("rej"),
                pl.col("tcp_flags"),
            )
            .collect()
            .lazy()
        )
        reject = pl.col("rej").cast(pl.Int64)
        imds = sorted(self.attributor.imds_codes)
        internet = self.codes.code(INTERNET)
        return pl.collect_all(
            [
                # inbound internet clients fold into one node: the aggregate stays bounded on
                # public services (detections judge internal clients)
                lf.with_columns(
                    pl.when(pl.col("c_int")).then(pl.col("c_key")).otherwise(pl.lit(internet, CODE))
                    .alias("c_key")
                )
                .group_by(LINK_KEYS)
                .agg(
                    pl.col("bytes").sum(),
                    pl.col("packets").sum(),
                    pl.len().cast(pl.Int64).alias("flows"),
                    reject.sum().alias("rejects"),
                    # records of the server's side: the server answered (v2 logs have no flags)
                    pl.coalesce(pl.col("answered"), pl.col("resp") & ~pl.col("rej"))
                    .cast(pl.Int64).sum().alias("answered"),
                    ((pl.col("c_key") == pl.col("s_key")) & (pl.col("c_inst") != pl.col("s_inst")))
                    .cast(pl.Int64)
                    .sum()
                    .alias("cross_replica"),
                    pl.col("start").min().alias("first"),
                    pl.col("end").max().alias("last"),
                    pl.col("c_int").max(),
                    pl.col("s_int").max(),
                ),
                lf.filter(self._beacon_filter())
                .group_by([*PAIR_KEYS, "c_addr", "c_port"])
                .agg(pl.col("start").min().alias("t")),
                lf.filter(pl.col("src_int") & ~pl.col("dst_int"))
                .group_by(["src_key", (pl.col("start") // 3600 * 3600).alias("hour")])
                .agg(pl.col("bytes").sum(), pl.len().cast(pl.Int64).alias("flows")),
                lf.filter(pl.col("s_key").is_in(imds))
                .group_by("c_key")
                .agg(
                    pl.len().cast(pl.Int64).alias("flows"),
                    pl.col("bytes").sum(),
                    pl.col("start").min().alias("first"),
                    pl.col("end").max().alias("last"),
                ),
                lf.select(pl.col("start").min().alias("lo"), pl.col("end").max().alias("hi")),
            ]
        )

    def _add_dns(self, dns: pl.DataFrame) -> None:
        lf = self.attributor.attribute(dns, ("src",))
        self.dns.add(
            lf.group_by(["src_key", "qname"])
            .agg(
                pl.len().cast(pl.Int64).alias("count"),
                pl.col("time").min().alias("first"),
                pl.col("time").max().alias("last"),
            )
            .collect()
        )

    def _partials(self) -> dict[str, Partial]:
        return {"links": self.links, "events": self.events, "egress": self.egress, "imds": self.imds,
                "dns": self.dns}

    def state(self) -> tuple[dict[str, Any], dict[str, pl.DataFrame]]:
        """What a snapshot holds (seawall.network.snapshot): the partial aggregates, compacted, the
        codes they are written in, the names seen, and the time span."""
        tables = {name: frame for name, part in self._partials().items()
                  if (frame := part.compacted()) is not None}
        tables["codes"] = pl.DataFrame({"value": self.codes.values}, schema={"value": pl.String})
        pairs = [(a, n) for a, names in sorted(self.names.items()) for n in sorted(names)]
        tables["names"] = pl.DataFrame(pairs, schema={"addr": pl.String, "name": pl.String}, orient="row")
        manifest = {"first": self.first, "last": self.last}
        return manifest, tables

    def restore(self, manifest: dict[str, Any], tables: dict[str, pl.DataFrame]) -> None:
        try:
            values = tables["codes"]["value"].to_list()
            self.codes.values = [str(v) for v in values]
            self.codes.index = {v: i for i, v in enumerate(self.codes.values)}
            self.attributor.reset()
            for name, part in self._partials().items():
                part.restore(tables.get(name))
            self.names = {}
            for addr, name in tables["names"].iter_rows():
                self.names.setdefault(str(addr), set()).add(str(name))
            self.first = None if manifest.get("first") is None else int(manifest["first"])
            self.last = None if manifest.get("last") is None else int(manifest["last"])
        except (KeyError, TypeError, ValueError, pl.exceptions.PolarsError) as exc:
            raise InputError(f"damaged network snapshot: {exc}") from exc

    def _learned_remap(self) -> dict[int, int]:
        """Bare addresses (IPAddress:/...) whose own records named their workload -> that workload."""
        values = self.codes.values
        return {a: k for a, k in self.attributor.learned.items() if values[a].startswith("IPAddress:")}

    @staticmethod
    def _rekey(frame: pl.DataFrame, remap: dict[int, int], columns: list[str],
               reduce: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.DataFrame:
        if not remap or not frame.height:
            return frame
        old = pl.Series(list(remap), dtype=CODE)
        new = pl.Series(list(remap.values()), dtype=CODE)
        hit = pl.any_horizontal([pl.col(c).is_in(old.implode()) for c in columns])
        if not frame.select(hit.any()).item():
            return frame
        moved = frame.with_columns(pl.col(c).replace(old, new) for c in columns)
        if "c_key" in columns and "c_int" in frame.columns:
            moved = moved.with_columns(pl.col("c_int") | pl.col("c_key").is_in(new.implode()))
        return reduce(moved.lazy()).collect()

    def finish(self, source_names: dict[str, set[str]], final: bool = False) -> Collected:
        """The aggregates decoded (the collector goes on: a stream may be flushed many times).
        `final`: it does not go on (one analysis): each partial is released once read and each
        coded table once decoded, which lowers the peak."""
        for addr, names in source_names.items():
            self.names.setdefault(addr, set()).update(names)
        dec = self.codes.decode
        remap = self._learned_remap()

        def read(part: Partial, schema: dict[str, Any]) -> pl.DataFrame:
            return part.take(schema) if final else part.result(schema)

        links = self._rekey(read(self.links, LINK_SCHEMA), remap, ["c_key", "s_key"], reduce_links)
        scans = _scans_reduce(
            links.lazy().filter(pl.col("c_int") & pl.col("s_int") & (pl.col("c_key") != pl.col("s_key")))
        ).collect()
        edges = dec(links_to_edges(links), ["c_key", "s_key", "s_addr"])
        del links
        return Collected(
            edges=edges,
            scans=dec(scans, ["c_key", "s_key", "s_addr"]),
            events=dec(self._rekey(read(self.events, EVENT_SCHEMA), remap, ["c_key"], self._events_reduce),
                       ["c_key", "s_addr", "c_addr"]),
            egress=dec(self._rekey(read(self.egress, EGRESS_SCHEMA), remap, ["src_key"], _egress_reduce),
                       ["src_key"]),
            imds=dec(self._rekey(read(self.imds, IMDS_SCHEMA), remap, ["c_key"], _imds_reduce), ["c_key"]),
            dns=dec(self._rekey(read(self.dns, DNS_AGG_SCHEMA), remap, ["src_key"], _dns_reduce),
                    ["src_key"]),
            names=self.names,
            first=self.first,
            last=self.last,
        )
