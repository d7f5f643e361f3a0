"""New edge against the baseline: a workload talking to a workload (or port) it never did."""

from __future__ import annotations

import polars as pl

from seawall.core.models import Finding
from seawall.network.baseline import edge_class_expr
from seawall.network.detectors.base import Context, as_int, finding, human_bytes, label, proto_name


class NewEdge:
    rule = "net-new-edge"

    def run(self, ctx: Context) -> list[Finding]:
        if ctx.baseline is None:
            return []
        edges = ctx.data.edges.filter(pl.col("c_int") & (pl.col("flows") > pl.col("rejects"))).with_columns(
            edge_class_expr().alias("s_class"),
            pl.col("s_port").fill_null(-1).alias("port_k"),
            pl.col("protocol").fill_null(-1).alias("proto_k"),
        )
        known = ctx.baseline.edges_frame().rename({"s_port": "port_k", "protocol": "proto_k"})
        new = edges.join(known, on=["c_key", "s_class", "port_k", "proto_k"], how="anti")
        out = []
        for (c_key,), group in new.sort("first").group_by(["c_key"], maintain_order=True):
            rows = group.sort("bytes", descending=True)
            lines = [
                f"{label(r['s_key'])}:{r['s_port']}/{proto_name(r['protocol'])} "
                f"({r['flows']} flows, {human_bytes(r['bytes'])})"
                for r in rows.head(10).iter_rows(named=True)
            ]
            more = f" and {rows.height - 10} more" if rows.height > 10 else ""
            out.append(
                finding(
                    self.rule,
                    str(c_key),
                    ctx,
                    f"{rows.height} edge(s) not in the baseline: " + "; ".join(lines) + more,
                    count=int(rows["flows"].sum()),
                    first=as_int(rows["first"].min()),
                    last=as_int(rows["last"].max()),
                    extra={
                        "new_edges": [
                            {"server": r["s_key"], "port": r["s_port"], "protocol": proto_name(r["protocol"])}
                            for r in rows.head(50).iter_rows(named=True)
                        ]
                    },
                )
            )
        return out
