"""Beaconing: many connections from one workload to one address:port at near-constant intervals."""

from __future__ import annotations

import polars as pl

from seawall.core.models import Finding
from seawall.network.detectors.base import Context, as_int, finding
from seawall.network.engine import PAIR_KEYS


class Beaconing:
    rule = "net-beaconing"

    def run(self, ctx: Context) -> list[Finding]:
        o = ctx.options
        ev = ctx.data.events
        if not ev.height:
            return []
        # well-known infrastructure (NTP, DNS, AWS endpoints, mirrors: ranges and names from the
        # context) is periodic by design; infrastructure ranges and ports were left out while reading
        addrs = ev["s_addr"].unique().to_list()
        infra = [a for a in addrs if ctx.is_infra(a)]
        if infra:
            ev = ev.filter(~pl.col("s_addr").is_in(infra))
        if o.learning_period is not None and ctx.data.first is not None:
            # periodic connections that already ran in the learning period are the usual ones
            known = ev.group_by(PAIR_KEYS).agg(pl.col("t").min().alias("t0")).filter(
                pl.col("t0") < ctx.data.first + o.learning_period)
            ev = ev.join(known.select(PAIR_KEYS), on=PAIR_KEYS, how="anti")
        # one event per connection start per pair (several client addresses = replicas merge)
        stats = (
            ev.group_by([*PAIR_KEYS, "t"])
            .agg()
            .sort([*PAIR_KEYS, "t"])
            .with_columns(pl.col("t").diff().over(PAIR_KEYS).alias("dt"))
            .group_by(PAIR_KEYS)
            .agg(
                pl.len().alias("n"),
                pl.col("t").min().alias("first"),
                pl.col("t").max().alias("last"),
                pl.col("dt").drop_nulls().median().alias("median"),
                (pl.col("dt").drop_nulls() - pl.col("dt").drop_nulls().median()).abs().median().alias("mad"),
            )
            .with_columns((pl.col("mad") / pl.col("median")).alias("jitter"))
            .filter(
                (pl.col("n") >= o.beacon_min_connections)
                & (pl.col("median") >= o.beacon_min_interval)
                & (pl.col("jitter") <= o.beacon_max_jitter)
            )
        )
        out = []
        for (key,), group in stats.sort("n", descending=True).group_by(["c_key"], maintain_order=True):
            lines = [
                f"{r['s_addr']}:{r['s_port']} every {r['median']:.0f}s (jitter {r['jitter']:.2f}, "
                f"{r['n']} connections)"
                for r in group.head(5).iter_rows(named=True)
            ]
            out.append(
                finding(
                    self.rule,
                    str(key),
                    ctx,
                    "; ".join(lines),
                    count=int(group["n"].sum()),
                    first=as_int(group["first"].min()),
                    last=as_int(group["last"].max()),
                    extra={
                        "destinations": [f"{r['s_addr']}:{r['s_port']}" for r in group.iter_rows(named=True)][
                            :50
                        ]
                    },
                )
            )
        return out
