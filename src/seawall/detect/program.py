"""The rules of one source compiled once into Polars expressions, and the stateless part of a
batch: decode it (two-tier for k8s-audit, seawall.detect.tiers), test every rule in one
`select` (Polars runs the predicates vectorized and in parallel)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from seawall.detect import tiers
from seawall.detect.allowlist import allow_expr
from seawall.detect.compiler import Compiler, FieldUse, Unsupported, lower_name
from seawall.detect.context import AllowEntry
from seawall.detect.model import Rule, RuleProblem
from seawall.detect.tiers import Tiers
from seawall.telemetry import COMMON_COLUMNS, get_reader
from seawall.telemetry.base import ReadPlan, ReadStats

SEP = "\x1f"  # joins the values of a key (dedupe_by, threshold by, ...)
SAMPLE_LINES = 2000  # lines the prefilter tiers are planned on


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
    allow: list[AllowEntry] = field(default_factory=list)  # allowlist entries that name this rule
    allow_expr: pl.Expr | None = None  # index of the first entry that matches an event, or null

    def mask(self, step: int = 0) -> str:
        """The batch's mask column of one of the rule's expressions (named by the rule, so
        that a batch evaluated elsewhere still lines up with the rules here)."""
        return mask_name(self.rule.id, step)

    @property
    def allow_column(self) -> str:
        return f"{self.rule.id}#allow"


class SourceProgram:
    """All rules for one source, compiled once into Polars expressions."""

    def __init__(
        self,
        source: str,
        rules: list[Rule],
        problems: list[RuleProblem],
        prefilter: bool = True,
    ) -> None:
        self.source = source
        self.reader = get_reader(source)
        # the field naming one request (k8s auditID, CloudTrail eventID): an event logged more
        # than once (at several audit stages, or delivered twice) counts once per rule
        self.identity: str | None = getattr(self.reader, "identity_field", None)
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
        for cr in self.rules:
            if cr.allow:
                cr.allow_expr = allow_expr(cr.allow, is_list)
        self.mask_names: list[str] = []
        self.mask_exprs: list[pl.Expr] = self._mask_exprs()
        # what the stateful part (Engine.apply) reads of a batch besides the masks
        self.state_columns = {"_row", *COMMON_COLUMNS}
        if self.identity is not None:
            self.state_columns.add(self.identity)
        for cr in self.rules:
            self.state_columns.update(state_fields(cr.rule))
        self.keyword = keyword
        self.use_tiers = prefilter and bool(getattr(self.reader, "prefilter", False))
        self.tiers: Tiers | None = None
        self.sampled = 0  # lines in the sample the tiers were planned on

    def keys_of(self, name: str) -> tuple[str, ...] | None:
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

    def pair_key(self, name: str) -> str | None:
        """The JSON key right before a raw field's string value (for `key":"value` literals), or
        None when the field is computed, a list element or read as JSON text."""
        if self.keys_of(name) is None:
            return None
        reader: Any = self.reader
        try:
            segs = self.plan.schema.effective(reader.resolve(name))
            interior = self.plan.schema.is_interior(segs)
        except (AttributeError, KeyError, ValueError):
            return None
        if not segs or segs[-1].is_list or interior:
            return None
        return str(segs[-1].name)

    def plan_tiers(self, sample: list[bytes]) -> None:
        """Split the rules into selective and broad ones on a sample of lines (seawall.detect.tiers)."""
        self.sampled = max(len(sample), 1)
        self.tiers = tiers.plan(self, sample) if self.use_tiers and self.rules else None

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
            self.rules.append(CompiledRule(rule, exprs, use, list(rule.allow)))
            fields |= use.fields
            for entry in rule.allow:
                fields |= entry.fields()
            for extra in state_fields(rule):
                fields.add(extra)
        if self.identity is not None and self.rules:
            fields.add(self.identity)
        return fields

    def drop_broken(self, df: pl.DataFrame, problems: list[RuleProblem]) -> None:
        """A rule whose expression fails on real data is dropped (with a reason), never fatal."""
        keep = []
        for cr in self.rules:
            try:
                df.head(1).select(cr.exprs + ([cr.allow_expr] if cr.allow_expr is not None else []))
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
        """One boolean column per rule expression (sequence step); beside them, the allowlist
        column of each rule that entries name. A stateful rule does not see allowlisted events."""
        out = []
        for cr in self.rules:
            for i, e in enumerate(cr.exprs):
                if cr.allow_expr is not None and cr.rule.kind != "match":
                    e = e & cr.allow_expr.is_null()
                out.append(e.alias(cr.mask(i)))
            if cr.allow_expr is not None and cr.rule.kind == "match":
                out.append(cr.allow_expr.alias(cr.allow_column))
        self.mask_names = [cr.mask(i) for cr in self.rules for i in range(len(cr.exprs))]
        return out

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
            df = tiers.frame(self.reader, self.tiers, lines, first_lineno, origin, stats, self.plan)
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
        hits = dict(zip(self.mask_names, masks.select(self.mask_names).sum().row(0), strict=True))
        if compact:
            if not any(hits.values()):
                return None
            masks = self._first_seen_firsts(df, masks, hits)
            hit = masks.select(pl.any_horizontal(self.mask_names)).to_series()
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
            key = pl.struct(key_expr(spec.key).alias("k"), key_expr(spec.scope).alias("s"))
            exprs.append((m & key.is_first_distinct().over(m)).alias(cr.mask()))
        if not exprs:
            return masks
        both = pl.concat([df.select(pl.exclude(masks.columns)), masks], how="horizontal")
        return masks.with_columns(both.select(exprs))


def state_fields(rule: Rule) -> list[str]:
    out = list(rule.dedupe_by)
    if rule.threshold:
        out += rule.threshold.by
    if rule.sequence:
        out += rule.sequence.by
    if rule.first_seen:
        out += rule.first_seen.key + rule.first_seen.scope
    return [f for f in out if f not in COMMON_COLUMNS]


def key_expr(fields: list[str]) -> pl.Expr:
    if not fields:
        return pl.lit("")
    return pl.concat_str([pl.col(f).cast(pl.String).fill_null("") for f in fields], separator=SEP)
