"""Lateral movement towards administrative and database ports of other internal hosts.

Only connections the server answered count (VPC Flow Logs record an unanswered probe as an
accepted egress record on the prober's ENI). Exempt: servers the inventory shows serving the
port, edges of the baseline, clients allowed by the context (`admin_clients`: the control plane,
metrics collectors) or by `admin_allow`, and shared services: an admin port of one server that
at least `lateral_shared_clients` client workloads use (an API server, a bastion) is a service,
not a path of attack. One finding per client workload with the count of its targets; high when
it reached several hosts or a node/container-runtime/etcd port, medium for one other target.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from seawall.core.models import Finding, Severity
from seawall.network.baseline import edge_class_expr
from seawall.network.detectors.base import Context, finding, label, matches

# ports that hand over a node or the cluster: one accepted connection is already high
_CRITICAL_PORTS = {2375, 2376, 2379, 2380, 10250, 10255}


def _target(row: dict[str, Any]) -> str:
    name = label(str(row["s_key"]))
    return name if name == row["s_addr"] else f"{name} ({row['s_addr']})"


class LateralMovement:
    rule = "net-lateral-admin-port"

    def run(self, ctx: Context) -> list[Finding]:
        o = ctx.options
        ports = sorted(set(o.admin_ports) | set(o.data_ports))
        edges = ctx.data.edges.filter(
            pl.col("c_int")
            & pl.col("s_int")
            & (pl.col("c_key") != pl.col("s_key"))
            & pl.col("s_port").is_in(ports)
            & (pl.col("answered") > 0)
            & ~pl.col("s_key").str.starts_with("InstanceMetadata:")
        )
        if not edges.height:
            return []
        if ctx.baseline is not None:
            known = ctx.baseline.edges_frame().select("c_key", "s_class", "s_port").unique()
            edges = edges.with_columns(edge_class_expr().alias("s_class")).join(
                known, on=["c_key", "s_class", "s_port"], how="anti"
            )
        exposed = pl.DataFrame(
            [(k, p) for k, served in ctx.inventory.exposed.items() for p in served],
            schema={"s_key": pl.String, "s_port": pl.Int32}, orient="row",
        )
        edges = edges.join(exposed, on=["s_key", "s_port"], how="anti")
        allow = (*o.admin_allow, *ctx.env.admin_clients)
        allowed = [k for k in edges["c_key"].unique().to_list() if matches(k, allow)]
        # database ports: clients of databases are normal; only a database port of a node, or (with a
        # baseline, whose edges were removed above) a database the workload never used, is suspicious
        edges = edges.filter(
            ~pl.col("c_key").is_in(allowed)
            & (pl.col("s_port").is_in(list(o.admin_ports)) | pl.col("s_key").str.starts_with("Node:")
               | pl.lit(ctx.baseline is not None))
        )
        shared = (
            edges.group_by("s_key", "s_port").agg(pl.col("c_key").n_unique().alias("clients"))
            .filter(pl.col("clients") >= o.lateral_shared_clients)
        )
        edges = edges.join(shared.select("s_key", "s_port"), on=["s_key", "s_port"], how="anti")
        out = []
        for (c_key,), group in edges.sort("c_key", "first", "s_key", "s_port").group_by(
            ["c_key"], maintain_order=True
        ):
            rows = list(group.iter_rows(named=True))
            hosts = {r["s_key"] for r in rows}
            critical = any(r["s_port"] in _CRITICAL_PORTS or r["s_key"].startswith("Node:") for r in rows)
            lines = [f"{_target(r)} port {r['s_port']}: {int(r['answered'])} answered record(s)"
                     for r in rows[:10]]
            more = f"; and {len(rows) - 10} more" if len(rows) > 10 else ""
            out.append(
                finding(
                    self.rule,
                    str(c_key),
                    ctx,
                    f"{len(rows)} admin/database port target(s) on {len(hosts)} host(s): "
                    + "; ".join(lines) + more,
                    count=int(group["flows"].sum()),
                    first=int(group["first"].min()),  # type: ignore[arg-type]
                    last=int(group["last"].max()),  # type: ignore[arg-type]
                    severity=Severity.HIGH if critical or len(hosts) > 1 else Severity.MEDIUM,
                    extra={
                        "target_count": len(rows),
                        "hosts": len(hosts),
                        "targets": [
                            {"server": r["s_key"], "address": r["s_addr"], "port": r["s_port"]}
                            for r in rows[:50]
                        ],
                    },
                )
            )
        return out
