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
        # a pair with fewer connections than a beacon needs is never one (each row is a connection);
        # counted by a hash of the pair (a collision only keeps rows that the exact count below drops)
        ev = (ev.with_columns(ev.select(PAIR_KEYS).hash_rows(seed=3).alias("__pair"))
              .filter(pl.len().over("__pair") >= o.beacon_min_connections).drop("__pair"))
        if not ev.height:
            return []
        # well-known infrastructure (NTP, DNS, AWS endpoints, mirrors: ranges and names from the
        # context) is periodic by design; infrastructure ranges and ports were left out while reading
        infra = ctx.infra_among(ev["s_addr"])
        if infra:
            ev = ev.filter(~pl.col("s_addr").is_in(infra))
        if o.learning_period is not None and ctx.data.first is not None:
            # periodic connections that already ran in the learning period are the usual ones
            ev = ev.filter(pl.col("t").min().over(PAIR_KEYS) >= ctx.data.first + o.learning_period)
        # one event per connection start per pair (several client addresses = replicas merge)
        dt = pl.col("ts").list.diff(null_behavior="drop")
        stats = (
            ev.group_by(PAIR_KEYS)
            .agg(pl.col("t").unique().sort().alias("ts"))
            .select(
                *PAIR_KEYS,
                pl.col("ts").list.len().alias("n"),
                pl.col("ts").list.first().alias("first"),
                pl.col("ts").list.last().alias("last"),
                dt.list.median().alias("median"),
                dt.list.eval((pl.element() - pl.element().median()).abs().median()).list.first().alias("mad"),
            )
            .with_columns((pl.col("mad") / pl.col("median")).alias("jitter"))
            .filter(
                (pl.col("n") >= o.beacon_min_connections)
                & (pl.col("median") >= o.beacon_min_interval)
                & (pl.col("jitter") <= o.beacon_max_jitter)
            )
        )
        out = []
        ranked = stats.sort(["n", "s_addr", "s_port"], descending=[True, False, False], nulls_last=True)
        for (key,), group in ranked.group_by(["c_key"], maintain_order=True):
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
