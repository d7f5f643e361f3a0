"""The rules that keep state across batches: thresholds (N events per key in a window, counted
in half-window buckets), sequences (steps per key in event order, within a time limit) and
first-seen (keys never seen before in a scope, after its learning period; remembered across
runs in the StateStore). Each hands what fires to `Engine.hit`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from seawall.detect.findings import SAMPLES, Context, location, samples
from seawall.detect.program import SEP, CompiledRule, key_expr
from seawall.detect.state import StateStore
from seawall.telemetry.base import WORKLOAD_COLUMNS

if TYPE_CHECKING:
    from seawall.detect.engine import Engine


def threshold(engine: Engine, cr: CompiledRule, df: pl.DataFrame, rows: pl.Series, ctx: Context) -> None:
    """`rows`: the events of the batch that the rule matched (each request once)."""
    spec = cr.rule.threshold
    assert spec is not None
    half = max(spec.window / 2, 0.001)
    sub = (
        df[rows]
        .filter(pl.col("time").is_not_null())
        .select(
            key_expr(spec.by).alias("_key"),
            "time",
            "_row",
            *WORKLOAD_COLUMNS,
            (pl.col("time").dt.epoch("us") // int(half * 1_000_000)).alias("_bucket"),
        )
    )
    groups = sub.group_by(["_key", "_bucket"], maintain_order=True).agg(
        pl.len().alias("n"),
        pl.col("time").min().alias("first"),
        pl.col("time").max().alias("last"),
        pl.col("_row").head(SAMPLES).alias("rows"),
        *[pl.col(c).first() for c in WORKLOAD_COLUMNS],
    )
    for g in groups.sort("_bucket").iter_rows(named=True):
        state = engine.thresholds.setdefault((cr.rule.id, g["_key"]), {})
        b = g["_bucket"]
        cur = state.setdefault(b, [0, g["first"], g["last"]])
        cur[0] += g["n"]
        cur[1] = min(cur[1], g["first"])
        cur[2] = max(cur[2], g["last"])
        prev = state.get(b - 1)
        total = cur[0] + (prev[0] if prev else 0)
        for old in [x for x in state if x < b - 1]:
            del state[old]
        fired = engine.threshold_fired
        if (
            total >= spec.count
            and (cr.rule.id, g["_key"], b) not in fired
            and (cr.rule.id, g["_key"], b - 1) not in fired
        ):
            fired.add((cr.rule.id, g["_key"], b))
            first = prev[1] if prev else cur[1]
            workload = {c: g[c] for c in WORKLOAD_COLUMNS}
            engine.hit(
                cr.rule,
                workload,
                g["_key"],
                total,
                first,
                cur[2],
                samples(ctx, g["rows"]),
                location(ctx, g["rows"][0]),
                {
                    "threshold": {
                        "count": total,
                        "window_seconds": spec.window,
                        "key": g["_key"].replace(SEP, " "),
                    }
                },
            )


def sequence(engine: Engine, cr: CompiledRule, df: pl.DataFrame, masks: pl.DataFrame, ctx: Context) -> None:
    spec = cr.rule.sequence
    assert spec is not None
    steps = len(cr.exprs)
    parts = []
    for i in range(steps):
        rows = masks.get_column(cr.mask(i)).arg_true()
        if rows.len():
            parts.append(
                df[rows].select(
                    pl.lit(i).alias("_step"),
                    key_expr(spec.by).alias("_key"),
                    "time",
                    "_row",
                    *WORKLOAD_COLUMNS,
                )
            )
    if not parts:
        return
    events = pl.concat(parts).sort(["_row", "_step"], descending=[False, True])
    for ev in events.iter_rows(named=True):
        skey = (cr.rule.id, ev["_key"])
        state = engine.sequences.get(skey)
        t = ev["time"]
        if (
            state is not None
            and state[1] is not None
            and t is not None
            and (t - state[1]).total_seconds() > spec.within
        ):
            state = None
            engine.sequences.pop(skey, None)
        step = ev["_step"]
        if state is not None and step == state[0]:
            state[0] += 1
            state[2].extend(samples(ctx, [ev["_row"]]))
            if state[0] == steps:
                workload = {c: ev[c] for c in WORKLOAD_COLUMNS}
                engine.hit(
                    cr.rule,
                    workload,
                    ev["_key"],
                    steps,
                    state[1],
                    t,
                    state[2],
                    state[3],
                    {"sequence": {"key": ev["_key"].replace(SEP, " ")}},
                )
                engine.sequences.pop(skey, None)
        elif step == 0 and (state is None or state[0] == 1):
            engine.sequences[skey] = [1, t, samples(ctx, [ev["_row"]]), location(ctx, ev["_row"])]


def first_seen(engine: Engine, cr: CompiledRule, df: pl.DataFrame, masks: pl.DataFrame, ctx: Context) -> None:
    spec = cr.rule.first_seen
    assert spec is not None
    rows = masks.get_column(cr.mask()).arg_true()
    sub = df[rows].select(
        key_expr(spec.key).alias("_key"),
        key_expr(spec.scope).alias("_scope"),
        "time",
        "_row",
        *WORKLOAD_COLUMNS,
    )
    sub = sub.filter(pl.col("_key") != "").unique(["_scope", "_key"], keep="first", maintain_order=True)
    store = engine.state if engine.state is not None else StateStore(None)
    engine.state = store
    for ev in sub.iter_rows(named=True):
        t = ev["time"]
        scope = f"{cr.rule.id}|{ev['_scope']}"
        start = store.scope_start(scope, t)
        if store.seen(scope, ev["_key"], t):
            continue
        if start is not None and t is not None and (t - start).total_seconds() < spec.learn:
            continue  # the scope's learning period: keys are only remembered
        workload = {c: ev[c] for c in WORKLOAD_COLUMNS}
        engine.hit(
            cr.rule,
            workload,
            ev["_key"],
            1,
            t,
            t,
            samples(ctx, [ev["_row"]]),
            location(ctx, ev["_row"]),
            {"first_seen": {"key": ev["_key"].replace(SEP, " ")}},
        )
