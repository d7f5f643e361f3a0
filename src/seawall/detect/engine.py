"""The detection engine: feeds batches of one source through its compiled program
(seawall.detect.program: decoding and every rule's predicate in one `select`), then does the
stateful part in input order. Stateless matches are grouped into findings per rule + workload
(+ `dedupe_by` fields): events closer than the window join one finding (count, first/last
time, a few sample events). Thresholds, sequences and first-seen rules keep small state across
batches (seawall.detect.stateful; first-seen also across runs, in the SQLite state store)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import polars as pl

from seawall.core import Finding
from seawall.detect import stateful
from seawall.detect.findings import SAMPLES, Agg, Context, location, resource_of, samples, to_finding
from seawall.detect.model import Rule, RuleProblem
from seawall.detect.program import (
    SAMPLE_LINES,
    SEP,
    CompiledRule,
    Evaluation,
    SourceProgram,
    key_expr,
    mask_name,
)
from seawall.detect.state import StateStore
from seawall.telemetry.base import WORKLOAD_COLUMNS, ReadStats

_Agg = Agg  # (the name snapshots and older callers use)


class Engine:
    """Feeds batches of one source through its program; collects findings."""

    def __init__(
        self,
        program: SourceProgram,
        window: float = 3600.0,
        state: StateStore | None = None,
        on_finding: Callable[[Finding], None] | None = None,
    ) -> None:
        self.program = program
        self.window = window
        self.state = state
        self.on_finding = on_finding
        self.open: dict[tuple[str, str, str], Agg] = {}
        self.closed: list[Agg] = []
        self.thresholds: dict[tuple[str, str], dict[int, list[Any]]] = {}
        self.threshold_fired: set[tuple[str, str, int]] = set()
        self.sequences: dict[tuple[str, str], list[Any]] = {}
        self.matched_events = 0
        self.problems: list[RuleProblem] = []
        self._opened: list[Agg] = []
        self.changed: dict[int, Agg] = {}  # aggregates opened or grown since take_changed()

    # -- per batch -----------------------------------------------------------------------
    def process(
        self, lines: list[bytes], first_lineno: int, origin: str, stats: ReadStats, document: bool = False
    ) -> None:
        evaluation = self.program.evaluate(lines, first_lineno, origin, stats, self.problems)
        if evaluation is not None:
            self.apply(evaluation, (lines, first_lineno, origin, document))

    def apply(self, evaluation: Evaluation, ctx: Context) -> None:
        """The stateful part of a batch, in input order: findings, windows, thresholds,
        sequences, first-seen. `ctx` is (lines, first line number, origin, document); `lines`
        only has to hold the lines of the events in the evaluation."""
        df, masks, hits = evaluation.df, evaluation.masks, evaluation.hits
        match_parts: list[pl.DataFrame] = []
        for cr in self.program.rules:
            if not any(hits.get(cr.mask(i)) for i in range(len(cr.exprs))):
                continue
            rule = cr.rule
            if rule.kind == "match":
                rows = masks.get_column(cr.mask()).arg_true()
                part = df[rows].select(
                    pl.lit(rule.id).alias("_rule"),
                    "time",
                    "_row",
                    *WORKLOAD_COLUMNS,
                    key_expr(rule.dedupe_by).alias("_dkey"),
                )
                match_parts.append(part)
                self.matched_events += part.height
            elif rule.kind == "threshold":
                stateful.threshold(self, cr, df, masks, ctx)
            elif rule.kind == "sequence":
                stateful.sequence(self, cr, df, masks, ctx)
            elif rule.kind == "first_seen":
                stateful.first_seen(self, cr, df, masks, ctx)
        if match_parts:
            self._group_matches(pl.concat(match_parts), ctx)
        self._emit_opened()

    def _emit_opened(self) -> None:
        """Stream the findings opened by this batch, in the order their first events happened."""
        if self.on_finding is None or not self._opened:
            return
        opened, self._opened = self._opened, []
        opened.sort(key=lambda a: (a.first is None, a.first or 0, a.lineno or 0, a.record or 0))
        for agg in opened:
            self.on_finding(self._finding(agg))
            agg.emitted = True

    def _group_matches(self, m: pl.DataFrame, ctx: Context) -> None:
        rules = {cr.rule.id: cr.rule for cr in self.program.rules}
        key = [pl.col(c).fill_null("") for c in WORKLOAD_COLUMNS]
        m = m.with_columns(pl.concat_str([*key, pl.col("_dkey")], separator=SEP).alias("_wkey"))
        m = m.sort(["_rule", "_wkey", "time", "_row"], nulls_last=False)
        gap = pl.col("time").diff().over(["_rule", "_wkey"]).dt.total_seconds() > self.window
        m = m.with_columns(gap.fill_null(False).cum_sum().over(["_rule", "_wkey"]).alias("_seg"))
        groups = m.group_by(["_rule", "_wkey", "_seg"], maintain_order=True).agg(
            pl.len().alias("n"),
            pl.col("time").min().alias("first"),
            pl.col("time").max().alias("last"),
            # samples and location: the first lines in the input (whatever the batches)
            pl.col("_row").sort().head(SAMPLES).alias("rows"),
            pl.col("_dkey").first(),
            *[pl.col(c).first() for c in WORKLOAD_COLUMNS],
        )
        for g in groups.iter_rows(named=True):
            workload = {c: g[c] for c in WORKLOAD_COLUMNS}
            self.hit(
                rules[g["_rule"]],
                workload,
                g["_dkey"],
                g["n"],
                g["first"],
                g["last"],
                samples(ctx, g["rows"]),
                location(ctx, g["rows"][0]),
            )

    def hit(
        self,
        rule: Rule,
        workload: dict[str, Any],
        dkey: str,
        count: int,
        first: datetime | None,
        last: datetime | None,
        shown: list[str],
        loc: tuple[str, int | None, int | None],
        extra: dict[str, Any] | None = None,
    ) -> None:
        """`count` events of `rule` on one workload: a new finding, or more of an open one
        (unless the window since its last event has passed)."""
        wkey = SEP.join(str(workload.get(c) or "") for c in WORKLOAD_COLUMNS)
        k = (rule.id, wkey, dkey)
        agg = self.open.get(k)
        if (
            agg is not None
            and agg.last is not None
            and first is not None
            and (first - agg.last).total_seconds() > self.window
        ):
            self.closed.append(agg)
            agg = None
        if agg is None:
            agg = Agg(
                rule,
                workload,
                dkey,
                count,
                first,
                last,
                loc[0],
                loc[1],
                loc[2],
                shown[:SAMPLES],
                extra=dict(extra or {}),
            )
            self.open[k] = agg
            self.changed[id(agg)] = agg
            if self.on_finding is not None:
                self._opened.append(agg)
            return
        self.changed[id(agg)] = agg
        agg.count += count
        if first is not None and (agg.first is None or first < agg.first):
            agg.first = first
        if last is not None and (agg.last is None or last > agg.last):
            agg.last = last
        if len(agg.samples) < SAMPLES:
            agg.samples.extend(shown[: SAMPLES - len(agg.samples)])
        if extra:
            agg.extra.update(extra)

    # -- output -------------------------------------------------------------------------------
    def _finding(self, agg: Agg) -> Finding:
        return to_finding(agg, self.program.source)

    def take_changed(self) -> list[Finding]:
        """The findings opened or grown since the last call (streaming: what to store now)."""
        changed, self.changed = list(self.changed.values()), {}
        return [self._finding(a) for a in changed]

    def drain_closed(self) -> None:
        """Forget windows that are closed (a stream has handed them on): bounded memory."""
        self.closed = []

    def findings(self) -> list[Finding]:
        aggs = self.closed + list(self.open.values())
        out = [self._finding(a) for a in aggs]
        out.sort(key=lambda f: (f.first_seen or "", f.location.path or "", f.location.line or 0, f.rule))
        return out


__all__ = [
    "SAMPLE_LINES",
    "CompiledRule",
    "Engine",
    "Evaluation",
    "SourceProgram",
    "mask_name",
    "resource_of",
]
