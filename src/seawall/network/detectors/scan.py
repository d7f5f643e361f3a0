"""Port scans: vertical (many ports on one host), horizontal (one port on many hosts), rejects."""

from __future__ import annotations

import polars as pl

from seawall.core.models import Finding
from seawall.network.baseline import edge_class_expr
from seawall.network.detectors.base import Context, finding


class PortScan:
    rule = "net-port-scan"

    @staticmethod
    def _candidates(scans: pl.DataFrame, ctx: Context) -> pl.Series:
        """The clients that could pass a test below, by bounds one grouping gives: a vertical scan
        needs as many distinct ports, a horizontal one as many rows and (with a reject share) a
        target that never answered, the rejects test as many rows that never answered."""
        o = ctx.options
        silent = ((pl.col("answered") == 0) | (pl.col("rejects") >= pl.col("flows"))).sum()
        bounds = scans.group_by("c_key").agg(
            pl.col("s_port").n_unique().alias("ports"), pl.len().alias("rows"), silent.alias("silent"))
        horizontal = (pl.col("rows") >= o.scan_hosts) & (
            (pl.col("silent") >= 1) if o.scan_min_reject_share > 0 else pl.lit(True))
        return bounds.filter(
            (pl.col("ports") >= o.scan_ports) | horizontal | (pl.col("silent") >= o.scan_rejects))["c_key"]

    def run(self, ctx: Context) -> list[Finding]:
        o = ctx.options
        scans = ctx.data.scans
        if ctx.baseline is not None and scans.height:
            known = ctx.baseline.edges_frame().select("c_key", "s_class", "s_port").unique()
            scans = (
                scans.with_columns(pl.lit(True).alias("s_int"))
                .with_columns(edge_class_expr().alias("s_class"))
                .join(known, on=["c_key", "s_class", "s_port"], how="anti")
            )
        scans = scans.filter(pl.col("c_key").is_in(self._candidates(scans, ctx).implode()))
        # the strings as integer codes (a local dictionary): the counting below groups on integers
        words = pl.concat([scans["c_key"], scans["s_key"], scans["s_addr"]]).unique().sort()
        coded = scans.with_columns(pl.col(c).cast(pl.Enum(words)).to_physical().cast(pl.UInt64)
                                   for c in ("c_key", "s_key", "s_addr"))
        # (address, port) as one integer (a port of any Int32 value, or none, stays distinct)
        port = (pl.col("s_port").cast(pl.Int64) + (1 << 31)).fill_null(1 << 32).cast(pl.UInt64)
        target = pl.col("s_addr") * (1 << 33) + port
        per_client = coded.group_by("c_key").agg(
            target.n_unique().alias("targets"),
            pl.col("s_key").n_unique().alias("hosts"),
            pl.col("s_port").n_unique().alias("ports"),
            # targets that never answered (rejected, or silent: VPC Flow Logs show an unanswered
            # probe as an accepted record on the prober's side only) -- a scanner's misses
            target.filter((pl.col("answered") == 0) | (pl.col("rejects") >= pl.col("flows")))
            .n_unique()
            .alias("rejected"),
            pl.col("flows").sum(),
            pl.col("first").min(),
            pl.col("last").max(),
        )
        vertical = (
            coded.group_by((pl.col("c_key") * (1 << 32) + pl.col("s_addr")).alias("c_addr"))
            .agg(pl.col("s_port").n_unique().alias("n"))
            .group_by((pl.col("c_addr") // (1 << 32)).alias("c_key"))
            .agg(
                pl.col("n").max().alias("max_ports"),
                (pl.col("c_addr") % (1 << 32)).filter(pl.col("n") >= o.scan_ports).alias("v_hosts"),
            )
        )
        horizontal = (
            coded.group_by("c_key", "s_port")
            .agg(pl.col("s_key").n_unique().alias("n"))
            .group_by("c_key")
            .agg(
                pl.col("n").max().alias("max_hosts"),
                pl.col("s_port").filter(pl.col("n") >= o.scan_hosts).alias("h_ports"),
            )
        )
        table = (
            per_client.join(vertical, on="c_key")
            .join(horizontal, on="c_key")
            # one port on many hosts, all answering, is how monitoring scrapes; a scan misses some
            .with_columns(
                (
                    (pl.col("max_hosts") >= o.scan_hosts)
                    & (pl.col("rejected") >= o.scan_min_reject_share * pl.col("targets"))
                ).alias("is_horizontal")
            )
            .filter(
                (pl.col("max_ports") >= o.scan_ports)
                | pl.col("is_horizontal")
                | (pl.col("rejected") >= o.scan_rejects)
            )
            .with_columns(pl.lit(words).gather(pl.col("c_key")).alias("c_key"),
                          pl.col("v_hosts").list.eval(pl.lit(words).gather(pl.element())))
        )
        out = []
        for r in table.sort("c_key").iter_rows(named=True):
            kinds = []
            if r["max_ports"] >= o.scan_ports:
                kinds.append(
                    f"vertical: up to {r['max_ports']} ports on one host "
                    f"({', '.join(sorted(r['v_hosts'])[:5])})"
                )
            if r["is_horizontal"]:
                kinds.append(
                    f"horizontal: port(s) {', '.join(map(str, sorted(r['h_ports'])[:10]))} "
                    f"on up to {r['max_hosts']} hosts"
                )
            if r["rejected"] >= o.scan_rejects:
                kinds.append(f"{r['rejected']} rejected targets")
            out.append(
                finding(
                    self.rule,
                    r["c_key"],
                    ctx,
                    f"{r['targets']} host:port targets on {r['hosts']} hosts, {r['ports']} ports; "
                    + "; ".join(kinds),
                    count=r["flows"],
                    first=r["first"],
                    last=r["last"],
                    extra={
                        "targets": r["targets"],
                        "hosts": r["hosts"],
                        "ports": r["ports"],
                        "rejected": r["rejected"],
                    },
                )
            )
        return out
