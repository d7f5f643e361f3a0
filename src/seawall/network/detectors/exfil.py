"""Exfiltration: an hour of bytes to the internet far above the workload's own usual hour."""

from __future__ import annotations

import polars as pl

from seawall.core.models import Finding
from seawall.network.detectors.base import Context, as_int, finding, human_bytes, iso, label


class Exfiltration:
    rule = "net-exfiltration"

    def run(self, ctx: Context) -> list[Finding]:
        o = ctx.options
        egress = ctx.data.egress.filter(~pl.col("src_key").str.starts_with("External:"))
        if not egress.height:
            return []
        own = egress.group_by("src_key").agg(
            pl.col("bytes").median().alias("own_median"), pl.len().alias("hours")
        )
        known = pl.DataFrame(
            {
                "src_key": list(ctx.baseline.egress) if ctx.baseline else [],
                "base_median": [s.get("median_hour", 0.0) for s in ctx.baseline.egress.values()]
                if ctx.baseline
                else [],
            },
            schema={"src_key": pl.String, "base_median": pl.Float64},
        )
        table = (
            egress.join(own, on="src_key")
            .join(known, on="src_key", how="left")
            .with_columns(
                pl.coalesce(
                    [
                        pl.col("base_median"),
                        pl.when(pl.col("hours") >= 3).then(pl.col("own_median")).otherwise(0.0),
                    ]
                ).alias("usual")
            )
            .with_columns(
                pl.max_horizontal(pl.col("usual") * o.exfil_factor, pl.lit(float(o.exfil_min_bytes))).alias(
                    "limit"
                )
            )
            .filter(pl.col("bytes") > pl.col("limit"))
        )
        out = []
        for (key,), group in table.sort("hour").group_by(["src_key"], maintain_order=True):
            top = (
                ctx.data.edges.filter((pl.col("c_key") == key) & ~pl.col("s_int"))
                .sort("bytes", descending=True)
                .head(3)
            )
            dests = ", ".join(
                f"{label(r['s_key'])}:{r['s_port']} ({human_bytes(r['bytes'])})"
                for r in top.iter_rows(named=True)
            )
            hours = "; ".join(
                f"{iso(r['hour'])}: {human_bytes(r['bytes'])} (usual hour {human_bytes(r['usual'])})"
                for r in group.head(5).iter_rows(named=True)
            )
            total = int(group["bytes"].sum())
            out.append(
                finding(
                    self.rule,
                    str(key),
                    ctx,
                    f"{human_bytes(total)} sent to the internet in {group.height} unusual hour(s): "
                    f"{hours}; top destinations: {dests or 'n/a'}",
                    count=int(group["flows"].sum()),
                    first=as_int(group["hour"].min()),
                    last=(as_int(group["hour"].max()) or 0) + 3599,
                    extra={"bytes": total},
                )
            )
        return out
