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

from seawall.core import Finding, Severity
from seawall.detect import stateful
from seawall.detect.findings import (
    SAMPLES,
    Agg,
    Context,
    finish_evidence,
    location,
    raw_evidence,
    resource_of,
    to_finding,
)
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
from seawall.telemetry.lines import LineChunk

_Agg = Agg  # (the name snapshots and older callers use)
SEEN_IDS = 100_000  # request ids remembered per rule (the oldest are forgotten first)
# workload columns that name one object: allowlisted events of many objects group without them
_PER_OBJECT = ("workload_name", "container_id", "container_name")
# what a rule that aggregates by its own key (`aggregate.by`, e.g. the actor) keeps of the workload
_AGGREGATED = (*_PER_OBJECT, "namespace", "workload_kind")


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
        # per rule: the request ids (auditID, eventID) already counted, oldest first
        self.seen_ids: dict[str, dict[str, None]] = {}

    # -- per batch -----------------------------------------------------------------------
    def process(
        self, lines: list[bytes], first_lineno: int, origin: str, stats: ReadStats, document: bool = False
    ) -> None:
        evaluation = self.program.evaluate(lines, first_lineno, origin, stats, self.problems)
        if evaluation is not None:
            self.apply(evaluation, (lines, first_lineno, origin, document))

    def process_chunks(self, chunks: list[LineChunk], stats: ReadStats) -> None:
        """Records of several whole-file documents (each small: a CloudTrail file holds five
        minutes) evaluated as one batch; each event keeps its own file and record number."""
        if len(chunks) == 1:
            c = chunks[0]
            self.process(c.lines, c.first_lineno, c.origin, stats, c.document)
            return
        lines = [line for c in chunks for line in c.lines]
        locs = [(c.origin, None, c.first_lineno + i) for c in chunks for i in range(len(c.lines))]
        evaluation = self.program.evaluate(lines, 1, chunks[0].origin, stats, self.problems)
        if evaluation is not None:
            self.apply(evaluation, (lines, 1, chunks[0].origin, True, locs))

    def apply(self, evaluation: Evaluation, ctx: Context) -> None:
        """The stateful part of a batch, in input order: findings, windows, thresholds,
        sequences, first-seen. `ctx` is (lines, first line number, origin, document[, location
        of each row]); `lines` only has to hold the lines of the events in the evaluation."""
        df, masks, hits = evaluation.df, evaluation.masks, evaluation.hits
        match_parts: list[pl.DataFrame] = []
        allows: dict[str, CompiledRule] = {}
        for cr in self.program.rules:
            if not any(hits.get(cr.mask(i)) for i in range(len(cr.exprs))):
                continue
            rule = cr.rule
            if rule.kind in ("match", "threshold"):
                rows = self._unseen(rule.id, df, masks.get_column(cr.mask()).arg_true())
            if rule.kind == "match":
                part = df[rows].select(
                    pl.lit(rule.id).alias("_rule"),
                    "time",
                    "_row",
                    *WORKLOAD_COLUMNS,
                    key_expr(rule.dedupe_by).alias("_dkey"),
                )
                if cr.allow_column in masks.columns:
                    allow = masks.get_column(cr.allow_column).gather(rows)
                    allows[rule.id] = cr
                else:
                    allow = pl.Series(values=[None] * part.height, dtype=pl.Int16)
                match_parts.append(part.with_columns(allow.alias("_allow")))
                self.matched_events += part.height
            elif rule.kind == "threshold":
                stateful.threshold(self, cr, df, rows, ctx)
            elif rule.kind == "sequence":
                stateful.sequence(self, cr, df, masks, ctx)
            elif rule.kind == "first_seen":
                stateful.first_seen(self, cr, df, masks, ctx)
        if match_parts:
            self._group_matches(pl.concat(match_parts), ctx, allows)
        self._emit_opened()

    def _unseen(self, rule_id: str, df: pl.DataFrame, rows: pl.Series) -> pl.Series:
        """The rows whose request was not counted by this rule yet: the same request logged at
        several audit stages (ResponseStarted and ResponseComplete of an exec) or delivered
        twice is one event."""
        ident = self.program.identity
        if ident is None or ident not in df.columns or rows.len() == 0:
            return rows
        seen = self.seen_ids.setdefault(rule_id, {})
        keep = []
        for row, value in zip(rows.to_list(), df.get_column(ident).gather(rows).to_list(), strict=True):
            if value is None or value == "":
                keep.append(row)
            elif value not in seen:
                seen[value] = None
                keep.append(row)
        while len(seen) > SEEN_IDS:
            del seen[next(iter(seen))]
        return rows if len(keep) == rows.len() else pl.Series(rows.name, keep, dtype=rows.dtype)

    def _emit_opened(self) -> None:
        """Stream the findings opened by this batch, in the order their first events happened."""
        if self.on_finding is None or not self._opened:
            return
        opened, self._opened = self._opened, []
        opened.sort(key=lambda a: (a.first is None, a.first or 0, a.lineno or 0, a.record or 0))
        for agg in opened:
            self.on_finding(self._finding(agg))
            agg.emitted = True

    def _group_matches(self, m: pl.DataFrame, ctx: Context, allows: dict[str, CompiledRule]) -> None:
        """Matches -> findings: per rule, workload (and dedupe key), split where the window
        passes between two events. Events an allowlist entry matched are a finding of their own
        per entry and namespace (a DaemonSet rollout, every CronJob run: one finding)."""
        rules = {cr.rule.id: cr.rule for cr in self.program.rules}
        allowed = pl.col("_allow").is_not_null()
        # a rule that aggregates by its own key (`aggregate.by`) keeps no per-object workload
        per_rule = pl.col("_rule").is_in([r for r, rule in rules.items() if rule.aggregate is not None])
        key = []
        for c in WORKLOAD_COLUMNS:
            cleared = (allowed & pl.lit(c in _PER_OBJECT)) | (per_rule & pl.lit(c in _AGGREGATED))
            key.append(pl.when(cleared).then(pl.lit("")).otherwise(pl.col(c).fill_null("")))
        windows = {
            r: (rule.aggregate.window if rule.aggregate and rule.aggregate.window else self.window)
            for r, rule in rules.items()
        }
        m = m.with_columns(pl.col("_rule").replace_strict(windows, return_dtype=pl.Float64).alias("_window"))
        allow_key = pl.col("_allow").cast(pl.String).fill_null("")
        m = m.with_columns(pl.concat_str([*key, pl.col("_dkey"), allow_key], separator=SEP).alias("_wkey"))
        m = m.sort(["_rule", "_wkey", "time", "_row"], nulls_last=False)
        # (allowlisted events are one finding per entry for the whole run: never split by time)
        gap = (
            pl.col("time").diff().over(["_rule", "_wkey"]).dt.total_seconds() > pl.col("_window")
        ) & ~allowed
        m = m.with_columns(gap.fill_null(False).cum_sum().over(["_rule", "_wkey"]).alias("_seg"))
        groups = m.group_by(["_rule", "_wkey", "_seg"], maintain_order=True).agg(
            pl.len().alias("n"),
            pl.col("time").min().alias("first"),
            pl.col("time").max().alias("last"),
            # samples and location: the first lines in the input (whatever the batches)
            pl.col("_row").sort().head(SAMPLES).alias("rows"),
            pl.col("_dkey").first(),
            pl.col("_allow").first(),
            *[pl.col(c).first() for c in WORKLOAD_COLUMNS],
            *[pl.col(c).n_unique().alias(f"_n_{c}") for c in _PER_OBJECT],
        )
        wanted: list[tuple[Agg, list[int]]] = []  # the sample events that findings have room for
        promised: dict[int, int] = {}  # samples already wanted, per aggregate
        for g in groups.iter_rows(named=True):
            workload = {c: g[c] for c in WORKLOAD_COLUMNS}
            extra, severity = None, None
            rule = rules[g["_rule"]]
            if rule.aggregate is not None:
                for c in _AGGREGATED:
                    workload[c] = None
            if g["_allow"] is not None:
                entry = allows[g["_rule"]].allow[g["_allow"]]
                extra = {"allowlist": entry.describe()}
                severity = entry.severity
                for c in _PER_OBJECT:  # one name for the group, or none
                    if g[f"_n_{c}"] > 1:
                        workload[c] = None
            agg = self.hit(
                rule,
                workload,
                g["_dkey"],
                g["n"],
                g["first"],
                g["last"],
                [],
                location(ctx, g["rows"][0]),
                extra,
                severity,
                allow=g["_allow"],
            )
            room = SAMPLES - len(agg.samples) - promised.get(id(agg), 0)
            if room > 0:
                wanted.append((agg, g["rows"][:room]))
                promised[id(agg)] = promised.get(id(agg), 0) + min(room, len(g["rows"]))
        # (secrets redacted in one pass over every new sample of the batch)
        texts = finish_evidence([raw_evidence(ctx[0][r]) for _, rows in wanted for r in rows])
        k = 0
        for agg, rows in wanted:
            agg.samples.extend(texts[k : k + len(rows)])
            k += len(rows)

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
        severity: Severity | None = None,
        allow: int | None = None,
    ) -> Agg:
        """`count` events of `rule` on one workload: a new finding, or more of an open one
        (unless the window since its last event has passed). Allowlisted events (`allow`: the
        entry's index) are kept apart, at the entry's `severity`. `shown`: sample events (the
        finding keeps the first SAMPLES). Returns the finding's aggregate."""
        if allow is None:
            wkey = SEP.join(str(workload.get(c) or "") for c in WORKLOAD_COLUMNS)
        else:
            wkey = SEP.join(str(workload.get(c) or "") for c in WORKLOAD_COLUMNS if c not in _PER_OBJECT)
            wkey += f"{SEP}allow:{allow}"
        k = (rule.id, wkey, dkey)
        agg = self.open.get(k)
        window = rule.aggregate.window if rule.aggregate and rule.aggregate.window else self.window
        if (
            agg is not None
            and allow is None
            and agg.last is not None
            and first is not None
            and (first - agg.last).total_seconds() > window
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
                severity=severity,
            )
            self.open[k] = agg
            self.changed[id(agg)] = agg
            if self.on_finding is not None:
                self._opened.append(agg)
            return agg
        self.changed[id(agg)] = agg
        agg.count += count
        for c in _PER_OBJECT:  # (allowlisted groups: more than one object -> no name)
            if agg.workload.get(c) != workload.get(c):
                agg.workload[c] = None
        if first is not None and (agg.first is None or first < agg.first):
            agg.first = first
        if last is not None and (agg.last is None or last > agg.last):
            agg.last = last
        if len(agg.samples) < SAMPLES:
            agg.samples.extend(shown[: SAMPLES - len(agg.samples)])
        if extra:
            agg.extra.update(extra)
        return agg

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
