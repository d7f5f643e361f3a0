"""Lateral movement towards administrative and database ports of other internal hosts."""

from __future__ import annotations

from typing import Any

import polars as pl

from seawall.core.models import Finding
from seawall.network.baseline import edge_class_expr
from seawall.network.detectors.base import Context, finding, label, matches


def _target(row: dict[str, Any]) -> str:
    name = label(str(row["s_key"]))
    return name if name == row["s_addr"] else f"{name} ({row['s_addr']})"


class LateralMovement:
    rule = "net-lateral-admin-port"

    def run(self, ctx: Context) -> list[Finding]:
        o = ctx.options
        ports = set(o.admin_ports) | set(o.data_ports)
        edges = ctx.data.edges.filter(
            pl.col("c_int")
            & pl.col("s_int")
            & (pl.col("c_key") != pl.col("s_key"))
            & pl.col("s_port").is_in(list(ports))
            & (pl.col("flows") > pl.col("rejects"))
        )
        if ctx.baseline is not None and edges.height:
            known = ctx.baseline.edges_frame().select("c_key", "s_class", "s_port").unique()
            edges = edges.with_columns(edge_class_expr().alias("s_class")).join(
                known, on=["c_key", "s_class", "s_port"], how="anti"
            )
        exposed = ctx.inventory.exposed
        rows = [
            r
            for r in edges.iter_rows(named=True)
            if r["s_port"] not in exposed.get(r["s_key"], ())
            and not r["s_key"].startswith("InstanceMetadata:")
            and not matches(r["c_key"], o.admin_allow)
        ]
        # database ports: clients of databases are normal; only a database port of a node, or (with a
        # baseline, whose edges were removed above) a database the workload never used, is suspicious
        hits: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            if r["s_port"] in o.admin_ports or r["s_key"].startswith("Node:") or ctx.baseline is not None:
                hits.setdefault(r["c_key"], []).append(r)
        out = []
        for c_key, group in sorted(hits.items()):
            group.sort(key=lambda r: r["first"] or 0)
            lines = [
                f"{_target(r)} port {r['s_port']}: {int(r['flows']) - int(r['rejects'])} accepted flow(s)"
                for r in group[:10]
            ]
            out.append(
                finding(
                    self.rule,
                    c_key,
                    ctx,
                    "; ".join(lines),
                    count=sum(int(r["flows"]) for r in group),
                    first=min(int(r["first"]) for r in group),
                    last=max(int(r["last"]) for r in group),
                    extra={
                        "targets": [
                            {"server": r["s_key"], "address": r["s_addr"], "port": r["s_port"]}
                            for r in group[:50]
                        ]
                    },
                )
            )
        return out
