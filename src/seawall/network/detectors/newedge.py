"""New edges against what was learnt: a baseline file (`--baseline`), or the learning period of
this input/stream (`learning_period`: edges first seen after it). A workload talking to a
workload or port it never did, and (learning period) to internet addresses it never did."""

from __future__ import annotations

import polars as pl

from seawall.core.models import Finding
from seawall.network.baseline import edge_class_expr
from seawall.network.detectors.base import Context, as_int, finding, human_bytes, label, proto_name


def _learnt_after(ctx: Context) -> int | None:
    """Edges first seen at or after this time are new (learning period), or None."""
    if ctx.options.learning_period is None or ctx.data.first is None:
        return None
    return int(ctx.data.first + ctx.options.learning_period)


class NewEdge:
    rule = "net-new-edge"

    def run(self, ctx: Context) -> list[Finding]:
        after = _learnt_after(ctx)
        if ctx.baseline is None and after is None:
            return []
        edges = ctx.data.edges.filter(pl.col("c_int") & (pl.col("flows") > pl.col("rejects"))).with_columns(
            edge_class_expr().alias("s_class"),
            pl.col("s_port").fill_null(-1).alias("port_k"),
            pl.col("protocol").fill_null(-1).alias("proto_k"),
        )
        keys = ["c_key", "s_class", "port_k", "proto_k"]
        if after is not None:
            # an edge class (external addresses collapse) first seen after the learning period
            seen = edges.group_by(keys).agg(pl.col("first").min().alias("class_first"))
            edges = edges.join(seen, on=keys).filter(pl.col("class_first") >= after)
        if ctx.baseline is not None:
            known = ctx.baseline.edges_frame().rename({"s_port": "port_k", "protocol": "proto_k"})
            edges = edges.join(known, on=keys, how="anti")
        out = []
        ordered = edges.sort("first", "s_key", "s_port")
        for (c_key,), group in ordered.group_by(["c_key"], maintain_order=True):
            rows = group.sort("bytes", "s_key", descending=[True, False])
            lines = [
                f"{label(r['s_key'])}:{r['s_port']}/{proto_name(r['protocol'])} "
                f"({r['flows']} flows, {human_bytes(r['bytes'])})"
                for r in rows.head(10).iter_rows(named=True)
            ]
            more = f" and {rows.height - 10} more" if rows.height > 10 else ""
            where = ("not in the baseline" if ctx.baseline is not None
                     else "first seen after the learning period")
            out.append(
                finding(
                    self.rule,
                    str(c_key),
                    ctx,
                    f"{rows.height} edge(s) {where}: " + "; ".join(lines) + more,
                    count=int(rows["flows"].sum()),
                    first=as_int(rows["first"].min()),
                    last=as_int(rows["last"].max()),
                    extra={
                        "target_count": rows.height,
                        "new_edges": [
                            {"server": r["s_key"], "port": r["s_port"], "protocol": proto_name(r["protocol"])}
                            for r in rows.head(50).iter_rows(named=True)
                        ],
                    },
                )
            )
        return out


class NewDestination:
    """Internet addresses a workload first reached after the learning period (infrastructure and
    addresses it already used excepted): low, one finding per workload with the count."""

    rule = "net-new-destination"

    def run(self, ctx: Context) -> list[Finding]:
        after = _learnt_after(ctx)
        if after is None:
            return []
        edges = ctx.data.edges.filter(
            pl.col("c_int") & ~pl.col("s_int") & (pl.col("flows") > pl.col("rejects")))
        firsts = edges.group_by("c_key", "s_addr").agg(
            pl.col("first").min(), pl.col("last").max(), pl.col("flows").sum(), pl.col("bytes").sum(),
            pl.col("s_port").min())
        new = firsts.filter(pl.col("first") >= after)
        if not new.height:
            return []
        infra = [a for a in new["s_addr"].unique().to_list() if ctx.is_infra(a)]
        new = new.filter(~pl.col("s_addr").is_in(infra))
        out = []
        for (c_key,), group in new.sort("c_key", "first", "s_addr").group_by(["c_key"], maintain_order=True):
            rows = group.sort("bytes", "s_addr", descending=[True, False])
            lines = [f"{r['s_addr']}:{r['s_port']} ({r['flows']} flows, {human_bytes(r['bytes'])})"
                     for r in rows.head(10).iter_rows(named=True)]
            more = f" and {rows.height - 10} more" if rows.height > 10 else ""
            out.append(finding(
                self.rule, str(c_key), ctx,
                f"{rows.height} internet address(es) first reached after the learning period: "
                + "; ".join(lines) + more,
                count=int(rows["flows"].sum()), first=as_int(rows["first"].min()),
                last=as_int(rows["last"].max()),
                extra={"target_count": rows.height, "destinations": rows["s_addr"].head(50).to_list()},
            ))
        return out
