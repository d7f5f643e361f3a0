"""Two-tier evaluation of a batch (k8s-audit): a narrow decode of every line for the broad rules,
then the full decode of only the lines a broad rule matched or the literal prefilter kept.

Rules whose literals (seawall.detect.prefilter) are in more than BROAD_SHARE of the sample
lines, or that have none, are *broad*: evaluated on a narrow decode of every line (only the
top-level keys they and the time column read). The lines they match, plus the lines holding
one of the other rules' literals, are decoded fully and tested against every rule -- so the
findings are exactly those of testing every rule on every fully decoded line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from seawall.detect.prefilter import Estimator, LiteralFinder, candidate_rows, needle_patterns
from seawall.telemetry.base import MAX_QUOTED, JsonSchema, ReadPlan, ReadStats

if TYPE_CHECKING:
    from seawall.detect.program import CompiledRule, SourceProgram
    from seawall.telemetry.base import Reader

# a rule whose literals are estimated in more than this share of lines is "broad"; tiers are
# not used when the selective rules' literals together would keep more than TIER_MAX of the lines
BROAD_SHARE = 0.25
TIER_MAX = 0.8


@dataclass(slots=True)
class Tiers:
    """Two-step evaluation of a batch (see `plan`)."""

    plan: ReadPlan  # narrow decode of every line: time + the broad rules' columns
    lower: list[pl.Expr]
    broad: pl.Expr | None  # any broad rule matches
    needles: list[str]  # one of these is in the line of every event a selective rule matches
    patterns: tuple[list[str], list[str]]  # the needles, ready to search (needle_patterns)
    broad_rules: list[str]


def plan(program: SourceProgram, sample: list[bytes]) -> Tiers | None:
    """Split the rules into selective ones (a literal prefilter finds every line they can
    match) and broad ones (evaluated on a narrow decode of every line: only the top-level
    keys they and the time column read). Rows that a broad rule matches or that pass the
    prefilter are decoded fully and tested against every rule -- so the findings are
    exactly those of testing every rule on every fully decoded line."""
    from seawall.detect.program import key_expr

    if "time" not in program.plan.columns:
        return None
    est = Estimator(sample)
    finder = LiteralFinder(program.keys_of, program.keyword, est, program.pair_key)
    broad: list[CompiledRule] = []
    needles: set[str] = set()
    for cr in program.rules:
        lits = finder.rule(cr.rule.conditions)
        if lits is None or est.share(lits) > BROAD_SHARE:
            broad.append(cr)
        else:
            needles |= lits
    if not needles or est.share(needles) > TIER_MAX:
        return None
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
    if not names <= set(program.plan.columns):
        return None
    columns = {n: program.plan.columns[n] for n in names}
    roots: set[str] = set()
    for expr in columns.values():
        roots.update(expr.meta.root_names())
    schema = JsonSchema()
    full = program.plan.schema.root.children
    schema.root.children = {k: v for k, v in full.items() if k in roots}
    plan = ReadPlan(schema=schema, columns=columns, keyword_column="_raw" if keyword else None)
    lower_exprs = [e for n, e in zip(program.lower, program.lower_exprs, strict=True) if n in lower]
    exprs = []
    for cr in broad:
        spec = cr.rule.first_seen
        if spec is None or len(cr.exprs) != 1:
            exprs.extend(cr.exprs)
            continue
        # a first-seen rule only looks at the first event of each (scope, key) in a batch
        key = pl.struct(key_expr(spec.key).alias("k"), key_expr(spec.scope).alias("s"))
        exprs.append(cr.exprs[0] & key.is_first_distinct().over(cr.exprs[0]))
    return Tiers(
        plan=plan,
        lower=lower_exprs,
        broad=pl.any_horizontal(exprs).alias("_broad") if exprs else None,
        needles=sorted(needles),
        patterns=needle_patterns(needles),
        broad_rules=[cr.rule.id for cr in broad],
    )


def frame(
    reader: Reader,
    tiers: Tiers,
    lines: list[bytes],
    first_lineno: int,
    origin: str,
    stats: ReadStats,
    plan: ReadPlan,
) -> pl.DataFrame:
    """Narrow decode of every line (counts, bad lines, timestamps, broad rules), then the
    full decode of only the lines a broad rule matched or the prefilter kept."""
    narrow = reader.frame(lines, first_lineno, origin, tiers.plan, stats)
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
    # (these lines were counted by the narrow pass, invalid UTF-8 included; what only the full
    # decode sees -- bad JSON inside a value the narrow pass skipped -- is added here)
    full_stats = ReadStats()
    df = reader.frame(kept, first_lineno, origin, plan, full_stats)
    stats.malformed += full_stats.malformed
    stats.events -= full_stats.malformed
    if full_stats.bad:
        rows_of = subset.to_list()
        shifted = [(o, n - first_lineno, w) for o, n, w in full_stats.bad]
        stats.bad = (stats.bad + [(o, first_lineno + rows_of[k], w) for o, k, w in shifted])[:MAX_QUOTED]
    if df.height == 0:
        return df
    return df.with_columns(subset.gather(df.get_column("_row")).alias("_row"))
