"""Threat detection over telemetry: `run(DetectOptions) -> DetectResult`.

Rules (built-in native pack, the bundled Sigma subset, and any `--rules` paths) are loaded
once and compiled per source into Polars expressions (detect/engine.py); readers
(seawall.telemetry) stream the inputs in batches; findings come out deduplicated per rule
and workload."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from seawall.core import Finding, Skip
from seawall.core.errors import InputError
from seawall.detect.engine import Engine
from seawall.detect.loader import load_rules
from seawall.detect.model import Rule, RuleProblem, RuleSet
from seawall.detect.parallel import PARALLEL_MIN_BYTES, PART_BYTES, Workers, default_workers, splittable
from seawall.detect.program import SourceProgram
from seawall.detect.state import StateStore
from seawall.telemetry import READERS, ReadStats, get_reader
from seawall.telemetry.lines import LineChunk, LineLimits, expand_inputs, iter_chunks, read_ahead


@dataclass(slots=True)
class DetectOptions:
    source: str
    paths: list[str]
    rule_paths: list[Path] = field(default_factory=list)
    builtin: bool = True
    sigma: bool = True
    window: float = 3600.0
    state_path: Path | None = None
    follow: bool = False
    follow_idle: float | None = None
    limits: LineLimits = field(default_factory=LineLimits)
    on_finding: Callable[[Finding], None] | None = None
    prefilter: bool = True  # skip lines no rule can match (exact; off only to cross-check)
    workers: int | None = None  # processes for large plain files; None: one per CPU; 0 or 1: none
    parallel_min_bytes: int = PARALLEL_MIN_BYTES  # smaller files run in this process
    part_bytes: int = PART_BYTES  # what one worker task reads
    enable: list[str] = field(default_factory=list)  # rules that are off by default, turned on
    context_paths: list[Path] = field(default_factory=list)  # operator context files (--context)
    ruleset: RuleSet | None = None  # rules already loaded (else loaded from the fields above)
    engine: str = "local"  # local | spark (seawall.spark: the same rules on Apache Spark)
    spark_master: str | None = None  # with engine spark and no active session: local[N], yarn ...
    # seconds a first-seen rule only learns when it first sees a scope (None: each rule's `learn`)
    learning_period: float | None = None


@dataclass(slots=True)
class DetectResult:
    findings: list[Finding]
    warnings: list[str]
    stats: ReadStats
    rules: int
    problems: list[RuleProblem]
    matched_events: int = 0
    skips: list[Skip] = field(default_factory=list)


def skips_of(stats: ReadStats, source: str) -> list[Skip]:
    """What could not be analyzed, as values (they end as report warnings with their counts)."""
    out = []
    if stats.unknown_shape:
        out.append(Skip(f"event(s) of the {source} input", f"none of the fields of a {source} event "
                        "(another kind of input? check --source)", stats.unknown_shape, "unsupported"))
    return out


def default_state_path() -> Path:
    base = os.environ.get("SEAWALL_CACHE_DIR")
    if base:
        return Path(base) / "detect-state.sqlite"
    import platformdirs

    return Path(platformdirs.user_cache_dir("seawall")) / "detect-state.sqlite"


def compile_all(ruleset: RuleSet, sources: list[str] | None = None) -> dict[str, SourceProgram]:
    """Compile every rule for each of its sources; rules that cannot compile become problems."""
    programs = {}
    for source in sources or list(READERS):
        programs[source] = SourceProgram(source, ruleset.rules, ruleset.problems)
    return programs


def run(options: DetectOptions, ruleset: RuleSet | None = None) -> DetectResult:
    get_reader(options.source)  # validates the source name
    if ruleset is None:
        ruleset = load_rules(options.rule_paths, builtin=options.builtin, bundled_sigma=options.sigma)
    problems: list[RuleProblem] = []
    program = SourceProgram(options.source, ruleset.rules, problems, prefilter=options.prefilter)
    unreadable: list[str] = []
    inputs = expand_inputs(options.paths or ["-"], unreadable)
    state = StateStore(options.state_path) if options.state_path is not None else None
    engine = Engine(program, window=options.window, state=state, on_finding=options.on_finding)
    stats = ReadStats()
    stats.warnings.extend(unreadable)
    stats.unreadable_inputs += len(unreadable)
    read_stats = ReadStats()  # the reading threads' own counters, merged at the end
    reader = program.reader
    workers = default_workers() if options.workers is None else options.workers
    follow = options.follow and len(inputs) == 1
    pool: Workers | None = None
    pending: list[LineChunk] = []  # records of whole-file documents waiting to be evaluated together
    pending_lines = pending_bytes = 0

    def chunks(origin: str, stop: threading.Event) -> Iterator[LineChunk]:
        return iter_chunks(
            origin,
            options.limits,
            read_stats,
            reader.split_document,
            follow=follow,
            idle_timeout=options.follow_idle,
            stop=stop.is_set,
            stream_document=getattr(reader, "stream_document", None),
        )

    try:
        for origin in inputs:
            parallel = workers > 1 and not follow and origin != "-"
            if parallel and splittable(origin, options.parallel_min_bytes):
                if pool is None:
                    try:
                        pool = Workers(engine, ruleset, workers, options.limits, options.prefilter, origin)
                    except OSError as exc:  # no interpreter to start (an embedded Python...)
                        stats.warnings.append(f"worker processes not started ({exc}); reading in one process")
                        workers = 1
                if pool is not None:
                    pool.feed(origin, stats, options.part_bytes)
                    continue
            # reading and splitting lines (Python) overlaps with the engine's Polars work;
            # `stop` is set when the engine stops (it also ends --follow waits)
            stop = threading.Event()
            for chunk in read_ahead(chunks(origin, stop), stop=stop):
                size = sum(map(len, chunk.lines))
                limits = options.limits
                if chunk.document and not follow and size < limits.batch_bytes // 4:
                    # many small documents (CloudTrail's five-minute files) go through together
                    pending.append(chunk)
                    pending_lines += len(chunk.lines)
                    pending_bytes += size
                    if pending_lines >= limits.batch_lines or pending_bytes >= limits.batch_bytes:
                        engine.process_chunks(pending, stats)
                        pending, pending_lines, pending_bytes = [], 0, 0
                    continue
                if pending:
                    engine.process_chunks(pending, stats)
                    pending, pending_lines, pending_bytes = [], 0, 0
                engine.process(chunk.lines, chunk.first_lineno, origin, stats, chunk.document)
        if pending:
            engine.process_chunks(pending, stats)
    except BaseException:  # an error or Ctrl-C: the workers' parts are not wanted any more
        if pool is not None:
            pool.close(finished=False)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.close()
        if engine.state is not None:
            engine.state.close()
        stats.merge(read_stats)
    problems.extend(engine.problems)
    warnings = stats.summary()
    for p in problems:
        warnings.append(f"rule {p.rule_id or p.path} not used: {p.reason}")
    if stats.events == 0 and (stats.malformed or stats.overlong or stats.unreadable_inputs or stats.warnings):
        raise InputError("no event could be read: " + "; ".join(warnings)[:600])
    return DetectResult(
        findings=engine.findings(),
        warnings=warnings,
        stats=stats,
        rules=len(program.rules),
        problems=problems,
        matched_events=engine.matched_events,
        skips=skips_of(stats, options.source),
    )


__all__ = [
    "DetectOptions",
    "DetectResult",
    "Rule",
    "RuleSet",
    "compile_all",
    "default_state_path",
    "load_rules",
    "run",
]
