"""The detection engine: rules compiled once per source, evaluated on whole batches.

Per batch: one `select` evaluates every rule's predicate (Polars runs them vectorized and in
parallel); only rules with hits are looked at, and only their matching rows leave Polars.
Stateless matches are grouped into findings per rule + workload (+ `dedupe_by` fields): events
closer than the dedupe window join one finding (count, first/last time, a few sample events).
Thresholds, sequences and first-seen rules keep small state across batches (first-seen also
across runs, in the SQLite state store)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from seawall.core import Finding, FindingKind, Location, Resource
from seawall.detect.compiler import Compiler, FieldUse, Unsupported, lower_name
from seawall.detect.model import Rule, RuleProblem
from seawall.detect.prefilter import Estimator, LiteralFinder, candidate_rows, needle_patterns
from seawall.detect.state import StateStore
from seawall.telemetry import COMMON_COLUMNS, get_reader
from seawall.telemetry.base import MAX_QUOTED, WORKLOAD_COLUMNS, JsonSchema, ReadPlan, ReadStats

EVIDENCE_BYTES = 2048
SAMPLES = 3
_SEP = "\x1f"
# prefilter tiers: a rule whose literals are estimated in more than this share of lines is
# "broad" (evaluated on a narrow decode of every line); tiers are not used when the selective
# rules' literals together would keep more than TIER_MAX of the lines
BROAD_SHARE = 0.25
TIER_MAX = 0.5
SAMPLE_LINES = 2000


@dataclass(slots=True)
class Tiers:
    """Two-step evaluation of a batch (see SourceProgram.plan_tiers)."""

    plan: ReadPlan  # narrow decode of every line: time + the broad rules' columns
    lower: list[pl.Expr]
    broad: pl.Expr | None  # any broad rule matches
    needles: list[str]  # one of these is in the line of every event a selective rule matches
    patterns: tuple[list[str], list[str]]  # the needles, ready to search (needle_patterns)
    broad_rules: list[str]


def mask_name(rule_id: str, step: int) -> str:
    return f"{rule_id}#{step}"


@dataclass(slots=True)
class Evaluation:
    """One batch after the stateless part of detection: the decoded events (all of them, or
    only those some rule matched when compact) and one boolean column per rule expression."""

    df: pl.DataFrame
    masks: pl.DataFrame
    hits: dict[str, int]  # mask column -> number of matching events


@dataclass(slots=True)
class CompiledRule:
    rule: Rule
    exprs: list[pl.Expr]
    use: FieldUse

    def mask(self, step: int = 0) -> str:
        """The batch's mask column of one of the rule's expressions (named by the rule, so
        that a batch evaluated elsewhere still lines up with the rules here)."""
        return mask_name(self.rule.id, step)


@dataclass(slots=True)
class _Agg:
    rule: Rule
    workload: dict[str, Any]
    dkey: str
    count: int
    first: datetime | None
    last: datetime | None
    origin: str
    lineno: int | None
    record: int | None
    samples: list[str]
    emitted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def resource_of(w: dict[str, Any]) -> Resource:
    """The workload columns of an event -> the finding's Resource (namespace/kind/name ...)."""
    wt, ns, kind = w.get("workload_type"), w.get("namespace"), w.get("workload_kind")
    name, cluster = w.get("workload_name"), w.get("cluster")
    cid, cname = w.get("container_id"), w.get("container_name")
    if wt == "k8s":
        if not kind and not name:
            return Resource(type="k8s:cluster", name="kube-apiserver", namespace=ns)
        return Resource(
            type=f"k8s:{kind or 'object'}",
            name=name or "*",
            namespace=ns,
            workload=f"{kind}/{name}" if name else kind,
        )
    if wt == "ecs":
        wname = name or cname or cid or cluster or "unknown"
        return Resource(
            type=f"ecs:{kind or 'task'}",
            name=wname,
            namespace=cluster,
            workload="/".join(x for x in (cluster, wname) if x),
        )
    if wt in ("ecr", "eks", "aws"):
        return Resource(
            type=f"{wt}:{kind or 'service'}", name=name or ns or "unknown", namespace=ns if name else None
        )
    label = cname or name or cid or "unknown"
    return Resource(
        type="container", name=label, namespace=ns, workload=f"container/{cid[:12]}" if cid else None
    )


class SourceProgram:
    """All rules for one source, compiled once into Polars expressions."""

    def __init__(
        self, source: str, rules: list[Rule], problems: list[RuleProblem], prefilter: bool = True
    ) -> None:
        self.source = source
        self.reader = get_reader(source)
        reader_is_list = getattr(self.reader, "is_list", None)
        keyword = "message" if source == "container-logs" else "_raw"

        def reader_list(name: str) -> bool:
            return bool(reader_is_list(name)) if callable(reader_is_list) else False

        is_list: Callable[[str], bool] = reader_list
        # pass 1 collects the fields; pass 2 compiles with the list shapes the plan settled on
        fields = self._compile(source, rules, is_list, keyword, [])
        plan = self.reader.plan(fields)
        schema_is_list = self._schema_is_list(plan, is_list)
        fields = self._compile(source, rules, schema_is_list, keyword, problems)
        self.plan = self.reader.plan(fields)
        is_list = self._schema_is_list(self.plan, is_list)
        lower = set()
        for cr in self.rules:
            lower |= cr.use.lower
        self.lower = sorted(lower)
        self.lower_exprs = []
        for name in self.lower:
            col = pl.col(name)
            expr = col.list.eval(pl.element().str.to_lowercase()) if is_list(name) else col.str.to_lowercase()
            self.lower_exprs.append(expr.alias(lower_name(name)))
        self.mask_exprs: list[pl.Expr] = self._mask_exprs()
        # what the stateful part (Engine.apply) reads of a batch besides the masks
        self.state_columns = {"_row", *COMMON_COLUMNS}
        for cr in self.rules:
            self.state_columns.update(_state_fields(cr.rule))
        self.keyword = keyword
        self.use_tiers = prefilter and bool(getattr(self.reader, "prefilter", False))
        self.tiers: Tiers | None = None
        self.sampled = 0  # lines in the sample the tiers were planned on

    def _keys_of(self, name: str) -> tuple[str, ...] | None:
        """JSON key names of a raw field, or None for computed columns."""
        reader: Any = self.reader
        if (
            name in COMMON_COLUMNS
            or name == "_raw"
            or name in getattr(reader, "derived", {})
            or name in getattr(reader, "list_derived", ())
        ):
            return None
        try:
            return tuple(seg.name for seg in reader.resolve(name))
        except (AttributeError, KeyError, ValueError):
            return None

    def plan_tiers(self, sample: list[bytes]) -> None:
        """Split the rules into selective ones (a literal prefilter finds every line they can
        match) and broad ones (evaluated on a narrow decode of every line: only the top-level
        keys they and the time column read). Rows that a broad rule matches or that pass the
        prefilter are decoded fully and tested against every rule -- so the findings are
        exactly those of testing every rule on every fully decoded line."""
        self.sampled = max(len(sample), 1)
        self.tiers = None
        if not self.use_tiers or not self.rules or "time" not in self.plan.columns:
            return
        est = Estimator(sample)
        finder = LiteralFinder(self._keys_of, self.keyword, est)
        broad: list[CompiledRule] = []
        needles: set[str] = set()
        for cr in self.rules:
            lits = finder.rule(cr.rule.conditions)
            if lits is None or est.share(lits) > BROAD_SHARE:
                broad.append(cr)
            else:
                needles |= lits
        if not needles or est.share(needles) > TIER_MAX:
            return
        names = {"time"}
        lower: set[str] = set()
        keyword = False
        for cr in broad:
            names |= cr.use.fields
            lower |= cr.use.lower
            keyword = keyword or cr.use.keywords
            if cr.rule.first_seen is not None:
                names.update(cr.rule.first_seen.key + cr.rule.first_seen.scope)
        keyword = keyword or "_raw" in names
        names.discard("_raw")
        if not names <= set(self.plan.columns):
            return
        columns = {n: self.plan.columns[n] for n in names}
        roots: set[str] = set()
        for expr in columns.values():
            roots.update(expr.meta.root_names())
        schema = JsonSchema()
        full = self.plan.schema.root.children
        schema.root.children = {k: v for k, v in full.items() if k in roots}
        plan = ReadPlan(schema=schema, columns=columns, keyword_column="_raw" if keyword else None)
        lower_exprs = [e for n, e in zip(self.lower, self.lower_exprs, strict=True) if n in lower]
        exprs = []
        for cr in broad:
            spec = cr.rule.first_seen
            if spec is None or len(cr.exprs) != 1:
                exprs.extend(cr.exprs)
                continue
            # a first-seen rule only looks at the first event of each (scope, key) in a batch
            key = pl.struct(_key_expr(spec.key).alias("k"), _key_expr(spec.scope).alias("s"))
            exprs.append(cr.exprs[0] & key.is_first_distinct().over(cr.exprs[0]))
        self.tiers = Tiers(
            plan=plan,
            lower=lower_exprs,
            broad=pl.any_horizontal(exprs).alias("_broad") if exprs else None,
            needles=sorted(needles),
            patterns=needle_patterns(needles),
            broad_rules=[cr.rule.id for cr in broad],
        )

    def _schema_is_list(self, plan: ReadPlan, fallback: Callable[[str], bool]) -> Callable[[str], bool]:
        resolve = getattr(self.reader, "resolve", None)

        def is_list(name: str) -> bool:
            if fallback(name):
                return True
            if resolve is None or name in COMMON_COLUMNS or name not in plan.columns:
                return False
            derived = getattr(self.reader, "derived", {})
            if name in derived:
                return False
            try:
                return any(s.is_list for s in plan.schema.effective(resolve(name)))
            except (KeyError, ValueError):
                return False

        return is_list

    def _compile(
        self,
        source: str,
        rules: list[Rule],
        is_list: Callable[[str], bool],
        keyword: str,
        problems: list[RuleProblem],
    ) -> set[str]:
        compiler = Compiler(is_list, keyword)
        self.rules = []
        fields: set[str] = set()
        for rule in rules:
            if source not in rule.sources or not rule.enabled:
                continue
            use = FieldUse()
            try:
                exprs = [compiler.compile(tree, use) for tree in rule.conditions]
            except Unsupported as exc:
                problems.append(
                    RuleProblem(rule.path or "", rule.id, rule.title, f"{source}: {exc}", "unsupported")
                )
                continue
            except Exception as exc:  # a rule must never take the engine down
                problems.append(
                    RuleProblem(
                        rule.path or "",
                        rule.id,
                        rule.title,
                        f"{source}: cannot compile: {type(exc).__name__}: {exc}"[:300],
                        "unsupported",
                    )
                )
                continue
            self.rules.append(CompiledRule(rule, exprs, use))
            fields |= use.fields
            for extra in _state_fields(rule):
                fields.add(extra)
        return fields

    def drop_broken(self, df: pl.DataFrame, problems: list[RuleProblem]) -> None:
        """A rule whose expression fails on real data is dropped (with a reason), never fatal."""
        keep = []
        for cr in self.rules:
            try:
                df.head(1).select(cr.exprs)
                keep.append(cr)
            except Exception as exc:
                problems.append(
                    RuleProblem(
                        cr.rule.path or "",
                        cr.rule.id,
                        cr.rule.title,
                        f"{self.source}: fails on events: {type(exc).__name__}: {str(exc).splitlines()[0]}"[
                            :300
                        ],
                        "unsupported",
                    )
                )
        self.rules = keep
        self.mask_exprs = self._mask_exprs()

    def _mask_exprs(self) -> list[pl.Expr]:
        return [e.alias(cr.mask(i)) for cr in self.rules for i, e in enumerate(cr.exprs)]

    # -- the stateless part of a batch --------------------------------------------------------
    def evaluate(
        self,
        lines: list[bytes],
        first_lineno: int,
        origin: str,
        stats: ReadStats,
        problems: list[RuleProblem],
        compact: bool = False,
    ) -> Evaluation | None:
        """Decode a batch and test every rule on it. `compact` keeps only the events some rule
        matched (what a worker process sends back)."""
        if self.sampled < min(len(lines), SAMPLE_LINES):
            # (re)plan on the largest sample seen so far, up to SAMPLE_LINES lines
            step = max(1, len(lines) // SAMPLE_LINES)
            self.plan_tiers(lines[::step][:SAMPLE_LINES])
        if self.tiers is not None:
            df = self._tiered_frame(self.tiers, lines, first_lineno, origin, stats)
        else:
            df = self.reader.frame(lines, first_lineno, origin, self.plan, stats)
            if df.height:
                stats.no_timestamp += df["time"].null_count()
        if df.height == 0 or not self.mask_exprs:
            return None
        if self.lower_exprs:
            df = df.with_columns(self.lower_exprs)
        try:
            masks = df.select(self.mask_exprs)
        except Exception:
            self.drop_broken(df, problems)
            if not self.mask_exprs:
                return None
            masks = df.select(self.mask_exprs)
        hits = dict(zip(masks.columns, masks.sum().row(0), strict=True))
        if compact:
            if not any(hits.values()):
                return None
            masks = self._first_seen_firsts(df, masks, hits)
            hit = masks.select(pl.any_horizontal(pl.all())).to_series()
            kept = [c for c in df.columns if c in self.state_columns]
            df, masks = df.select(kept).filter(hit), masks.filter(hit)
        return Evaluation(df, masks, hits)

    def _first_seen_firsts(self, df: pl.DataFrame, masks: pl.DataFrame, hits: dict[str, int]) -> pl.DataFrame:
        """A first-seen rule only ever looks at the first event of each (scope, key) in a
        batch (see Engine._first_seen): keep just those, so a compact batch stays small."""
        exprs = []
        for cr in self.rules:
            spec = cr.rule.first_seen
            if spec is None or not hits.get(cr.mask()):
                continue
            m = pl.col(cr.mask())
            key = pl.struct(_key_expr(spec.key).alias("k"), _key_expr(spec.scope).alias("s"))
            exprs.append((m & key.is_first_distinct().over(m)).alias(cr.mask()))
        if not exprs:
            return masks
        both = pl.concat([df.select(pl.exclude(masks.columns)), masks], how="horizontal")
        return masks.with_columns(both.select(exprs))

    def _tiered_frame(
        self, tiers: Tiers, lines: list[bytes], first_lineno: int, origin: str, stats: ReadStats
    ) -> pl.DataFrame:
        """Narrow decode of every line (counts, bad lines, timestamps, broad rules), then the
        full decode of only the lines a broad rule matched or the prefilter kept."""
        narrow = self.reader.frame(lines, first_lineno, origin, tiers.plan, stats)
        if narrow.height == 0:
            return narrow
        stats.no_timestamp += narrow["time"].null_count()
        rows = narrow.get_column("_row")
        keep = candidate_rows(lines, rows, tiers.patterns)
        if tiers.broad is not None:
            try:
                if tiers.lower:
                    narrow = narrow.with_columns(tiers.lower)
                hit = narrow.select(tiers.broad).to_series()
                keep = pl.concat([keep, rows.filter(hit.fill_null(False))]).unique().sort()
            except Exception:  # a broad rule fails on this data: decode every line fully
                keep = rows
        if keep.len() == 0:
            return pl.DataFrame()
        subset = keep.cast(pl.Int32)
        kept = [lines[i] for i in subset.to_list()]
        # (these lines were counted by the narrow pass; what only the full decode sees -- invalid
        # UTF-8 or bad JSON inside a value the narrow pass skipped -- is added here)
        full_stats = ReadStats()
        df = self.reader.frame(kept, first_lineno, origin, self.plan, full_stats)
        stats.repaired_utf8 += full_stats.repaired_utf8
        stats.malformed += full_stats.malformed
        stats.events -= full_stats.malformed
        if full_stats.bad:
            rows_of = subset.to_list()
            shifted = [(o, n - first_lineno, w) for o, n, w in full_stats.bad]
            stats.bad = (stats.bad + [(o, first_lineno + rows_of[k], w) for o, k, w in shifted])[:MAX_QUOTED]
        if df.height == 0:
            return df
        return df.with_columns(subset.gather(df.get_column("_row")).alias("_row"))


def _state_fields(rule: Rule) -> list[str]:
    out = list(rule.dedupe_by)
    if rule.threshold:
        out += rule.threshold.by
    if rule.sequence:
        out += rule.sequence.by
    if rule.first_seen:
        out += rule.first_seen.key + rule.first_seen.scope
    return [f for f in out if f not in COMMON_COLUMNS]


def _key_expr(fields: list[str]) -> pl.Expr:
    if not fields:
        return pl.lit("")
    return pl.concat_str([pl.col(f).cast(pl.String).fill_null("") for f in fields], separator=_SEP)


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
        self.open: dict[tuple[str, str, str], _Agg] = {}
        self.closed: list[_Agg] = []
        self.thresholds: dict[tuple[str, str], dict[int, list[Any]]] = {}
        self.threshold_fired: set[tuple[str, str, int]] = set()
        self.sequences: dict[tuple[str, str], list[Any]] = {}
        self.matched_events = 0
        self.problems: list[RuleProblem] = []
        self._opened: list[_Agg] = []
        self.changed: dict[int, _Agg] = {}  # aggregates opened or grown since take_changed()

    # -- per batch -----------------------------------------------------------------------
    def process(
        self, lines: list[bytes], first_lineno: int, origin: str, stats: ReadStats, document: bool = False
    ) -> None:
        evaluation = self.program.evaluate(lines, first_lineno, origin, stats, self.problems)
        if evaluation is not None:
            self.apply(evaluation, (lines, first_lineno, origin, document))

    def apply(self, evaluation: Evaluation, ctx: tuple[Any, ...]) -> None:
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
                    _key_expr(rule.dedupe_by).alias("_dkey"),
                )
                match_parts.append(part)
                self.matched_events += part.height
            elif rule.kind == "threshold":
                self._threshold(cr, df, masks, ctx)
            elif rule.kind == "sequence":
                self._sequence(cr, df, masks, ctx)
            elif rule.kind == "first_seen":
                self._first_seen(cr, df, masks, ctx)
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

    def _group_matches(self, m: pl.DataFrame, ctx: tuple[Any, ...]) -> None:
        rules = {cr.rule.id: cr.rule for cr in self.program.rules}
        key = [pl.col(c).fill_null("") for c in WORKLOAD_COLUMNS]
        m = m.with_columns(pl.concat_str([*key, pl.col("_dkey")], separator=_SEP).alias("_wkey"))
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
            self._hit(
                rules[g["_rule"]],
                workload,
                g["_dkey"],
                g["n"],
                g["first"],
                g["last"],
                _samples(ctx, g["rows"]),
                _loc(ctx, g["rows"][0]),
            )

    def _hit(
        self,
        rule: Rule,
        workload: dict[str, Any],
        dkey: str,
        count: int,
        first: datetime | None,
        last: datetime | None,
        samples: list[str],
        loc: tuple[str, int | None, int | None],
        extra: dict[str, Any] | None = None,
    ) -> None:
        wkey = _SEP.join(str(workload.get(c) or "") for c in WORKLOAD_COLUMNS)
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
            agg = _Agg(
                rule,
                workload,
                dkey,
                count,
                first,
                last,
                loc[0],
                loc[1],
                loc[2],
                samples[:SAMPLES],
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
            agg.samples.extend(samples[: SAMPLES - len(agg.samples)])
        if extra:
            agg.extra.update(extra)

    # -- stateful rules ---------------------------------------------------------------------
    def _threshold(
        self, cr: CompiledRule, df: pl.DataFrame, masks: pl.DataFrame, ctx: tuple[Any, ...]
    ) -> None:
        spec = cr.rule.threshold
        assert spec is not None
        half = max(spec.window / 2, 0.001)
        rows = masks.get_column(cr.mask()).arg_true()
        sub = (
            df[rows]
            .filter(pl.col("time").is_not_null())
            .select(
                _key_expr(spec.by).alias("_key"),
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
            state = self.thresholds.setdefault((cr.rule.id, g["_key"]), {})
            b = g["_bucket"]
            cur = state.setdefault(b, [0, g["first"], g["last"]])
            cur[0] += g["n"]
            cur[1] = min(cur[1], g["first"])
            cur[2] = max(cur[2], g["last"])
            prev = state.get(b - 1)
            total = cur[0] + (prev[0] if prev else 0)
            for old in [x for x in state if x < b - 1]:
                del state[old]
            if (
                total >= spec.count
                and (cr.rule.id, g["_key"], b) not in self.threshold_fired
                and (cr.rule.id, g["_key"], b - 1) not in self.threshold_fired
            ):
                self.threshold_fired.add((cr.rule.id, g["_key"], b))
                first = prev[1] if prev else cur[1]
                workload = {c: g[c] for c in WORKLOAD_COLUMNS}
                self._hit(
                    cr.rule,
                    workload,
                    g["_key"],
                    total,
                    first,
                    cur[2],
                    _samples(ctx, g["rows"]),
                    _loc(ctx, g["rows"][0]),
                    {
                        "threshold": {
                            "count": total,
                            "window_seconds": spec.window,
                            "key": g["_key"].replace(_SEP, " "),
                        }
                    },
                )

    def _sequence(
        self, cr: CompiledRule, df: pl.DataFrame, masks: pl.DataFrame, ctx: tuple[Any, ...]
    ) -> None:
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
                        _key_expr(spec.by).alias("_key"),
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
            state = self.sequences.get(skey)
            t = ev["time"]
            if (
                state is not None
                and state[1] is not None
                and t is not None
                and (t - state[1]).total_seconds() > spec.within
            ):
                state = None
                self.sequences.pop(skey, None)
            step = ev["_step"]
            if state is not None and step == state[0]:
                state[0] += 1
                state[2].extend(_samples(ctx, [ev["_row"]]))
                if state[0] == steps:
                    workload = {c: ev[c] for c in WORKLOAD_COLUMNS}
                    self._hit(
                        cr.rule,
                        workload,
                        ev["_key"],
                        steps,
                        state[1],
                        t,
                        state[2],
                        state[3],
                        {"sequence": {"key": ev["_key"].replace(_SEP, " ")}},
                    )
                    self.sequences.pop(skey, None)
            elif step == 0 and (state is None or state[0] == 1):
                self.sequences[skey] = [1, t, _samples(ctx, [ev["_row"]]), _loc(ctx, ev["_row"])]

    def _first_seen(
        self, cr: CompiledRule, df: pl.DataFrame, masks: pl.DataFrame, ctx: tuple[Any, ...]
    ) -> None:
        spec = cr.rule.first_seen
        assert spec is not None
        rows = masks.get_column(cr.mask()).arg_true()
        sub = df[rows].select(
            _key_expr(spec.key).alias("_key"),
            _key_expr(spec.scope).alias("_scope"),
            "time",
            "_row",
            *WORKLOAD_COLUMNS,
        )
        sub = sub.filter(pl.col("_key") != "").unique(["_scope", "_key"], keep="first", maintain_order=True)
        store = self.state if self.state is not None else StateStore(None)
        self.state = store
        for ev in sub.iter_rows(named=True):
            t = ev["time"]
            scope = f"{cr.rule.id}|{ev['_scope']}"
            start = store.scope_start(scope, t)
            if store.seen(scope, ev["_key"], t):
                continue
            learning = start is not None and t is not None and (t - start).total_seconds() < spec.learn
            if learning:
                continue
            workload = {c: ev[c] for c in WORKLOAD_COLUMNS}
            self._hit(
                cr.rule,
                workload,
                ev["_key"],
                1,
                t,
                t,
                _samples(ctx, [ev["_row"]]),
                _loc(ctx, ev["_row"]),
                {"first_seen": {"key": ev["_key"].replace(_SEP, " ")}},
            )

    # -- output -------------------------------------------------------------------------------
    def _finding(self, agg: _Agg) -> Finding:
        rule = agg.rule
        extra: dict[str, Any] = {"source": self.program.source, "rule_origin": rule.origin}
        if len(agg.samples) > 1:
            extra["events"] = agg.samples
        if agg.record is not None:
            extra["record"] = agg.record
        if agg.dkey and rule.dedupe_by:
            extra["key"] = dict(zip(rule.dedupe_by, agg.dkey.split(_SEP), strict=False))
        extra.update(agg.extra)
        return Finding(
            kind=FindingKind.DETECTION,
            rule=rule.id,
            title=rule.title,
            severity=rule.severity,
            resource=resource_of(agg.workload),
            location=Location(path=agg.origin, line=agg.lineno),
            evidence=agg.samples[0] if agg.samples else None,
            remediation=rule.remediation,
            references=list(rule.references),
            attack=list(rule.attack),
            count=agg.count,
            first_seen=_iso(agg.first),
            last_seen=_iso(agg.last),
            extra=extra,
        )

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


def _samples(ctx: tuple[Any, ...], rows: list[int]) -> list[str]:
    lines = ctx[0]
    return [_evidence(lines[r]) for r in rows[:SAMPLES]]


def _loc(ctx: tuple[Any, ...], row: int) -> tuple[str, int | None, int | None]:
    _, first_lineno, origin, document = ctx
    if document:
        return (origin, None, first_lineno + row)
    return (origin, first_lineno + row, None)


def _evidence(line: bytes) -> str:
    text = line[:EVIDENCE_BYTES].decode("utf-8", "replace")
    if len(line) > EVIDENCE_BYTES:
        text += f"... [{len(line) - EVIDENCE_BYTES} more bytes]"
    return text
