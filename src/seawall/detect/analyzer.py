"""The detection analyzer, as `seawall.analyzers` enters it: `detect`, one-shot or streaming.

    DETECT.run(["audit.log"], DetectOptions(source="k8s-audit"))  -> Report
    stream = DETECT.open_stream(DetectOptions(source="k8s-audit", paths=[]))
    stream.feed(Batch(lines=[...], origin="webhook"))              -> findings opened or grown
    stream.snapshot() / DETECT.open_stream(options, state=blob)    -> resume after a restart

Rules are the built-in pack, the bundled Sigma subset and any `rule_paths`, loaded once; rules
that are off by default are turned on with `enable`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seawall.analyzers import Batch
from seawall.core import Finding, Report, ReportKind, Target
from seawall.core.errors import InputError
from seawall.detect import DetectOptions, SourceProgram, compile_all, run, skips_of
from seawall.detect.engine import Engine
from seawall.detect.loader import load_rules
from seawall.detect.model import RuleProblem, RuleSet
from seawall.detect.state import StateStore
from seawall.telemetry import ReadStats


def check_rule_files(ruleset: RuleSet, options: DetectOptions) -> None:
    """A rule file the user gave (--rules) that does not parse is an error, not a silent drop.
    (Unsupported rules and logsources without a source are listed by --rules-report.)"""
    mine = [
        p
        for p in ruleset.problems
        if p.category == "parse-error"
        and "duplicate rule id" not in p.reason
        and any(_under(p.path, root) for root in options.rule_paths)
    ]
    if mine:
        first = mine[0]
        more = f" (and {len(mine) - 1} more problem(s); --rules-report lists them)" if len(mine) > 1 else ""
        raise InputError(
            f"--rules {first.path}: {first.rule_id + ': ' if first.rule_id else ''}{first.reason}{more}"
        )


def _under(path: str, root: Path) -> bool:
    try:
        return Path(path).resolve().is_relative_to(Path(root).resolve())
    except (OSError, ValueError):
        return False


def load_ruleset(options: DetectOptions) -> RuleSet:
    """The rules `options` ask for, with `enable`d ones switched on (an unknown id is an error)."""
    from seawall.detect.context import load_context

    context = load_context(list(options.context_paths))
    ruleset = load_rules(
        list(options.rule_paths), builtin=options.builtin, bundled_sigma=options.sigma, context=context
    )
    for rid in options.enable:
        matched = [r for r in ruleset.rules if r.id == rid]
        if not matched:
            raise InputError(f"--enable {rid}: no such rule")
        for r in matched:
            r.enabled = True
    if options.learning_period is not None:  # (--learning-period: every first-seen rule's `learn`)
        for r in ruleset.rules:
            if r.first_seen is not None:
                r.first_seen.learn = options.learning_period
    return ruleset


@dataclass(slots=True)
class RulesSummary:
    """How many rules load and run per source, and why the others do not (`--rules-report`)."""

    files: int
    loaded: dict[str, int]  # origin -> rules
    running: dict[str, int]  # source -> rules that run on it
    runnable: int  # rules that run on at least one source
    disabled: int
    problems: list[RuleProblem]

    def reasons(self) -> list[tuple[str, int]]:
        return Counter(
            f"{p.category}: {p.reason.split(':')[0] if p.category == 'no-source' else p.reason}"
            for p in self.problems
        ).most_common()


def rules_summary(ruleset: RuleSet, source: str | None) -> RulesSummary:
    loading = list(ruleset.problems)
    programs = compile_all(ruleset, [source] if source else None)
    compiling = ruleset.problems[len(loading) :]
    ruleset.problems = loading
    return RulesSummary(
        files=ruleset.files,
        loaded=dict(sorted(Counter(r.origin for r in ruleset.rules).items())),
        running={src: len(p.rules) for src, p in programs.items()},
        runnable=len({cr.rule.id for p in programs.values() for cr in p.rules}),
        disabled=sum(1 for r in ruleset.rules if not r.enabled),
        problems=loading + compiling,
    )


def _target(source: str, paths: Sequence[str], stats: ReadStats | None, rules: int) -> Target:
    metadata: dict[str, Any] = {"source": source, "rules": rules}
    if stats is not None:
        metadata["events"] = stats.events
        metadata["lines"] = stats.lines
    return Target(kind="logs", name=f"{source}: " + ", ".join(paths or ["-"])[:200], metadata=metadata)


class DetectStream:
    """Batches of one source in input order through the compiled rules and the stateful engine."""

    def __init__(self, options: DetectOptions, ruleset: RuleSet, state: bytes | None) -> None:
        from seawall.detect import snapshot

        self.options = options
        self.problems: list[RuleProblem] = []
        self.program = SourceProgram(
            options.source, ruleset.rules, self.problems, prefilter=options.prefilter
        )
        store = StateStore(options.state_path) if options.state_path is not None else None
        self.engine = Engine(self.program, window=options.window, state=store)
        self.stats = ReadStats()
        self.origins: list[str] = []
        if state is not None:
            snapshot.load(self.engine, state)

    def feed(self, batch: Batch) -> list[Finding]:
        if batch.origin not in self.origins and len(self.origins) < 100:
            self.origins.append(batch.origin)
        lines = list(batch.lines)
        self.engine.process(lines, batch.first_lineno, batch.origin, self.stats, batch.document)
        changed = self.engine.take_changed()
        self.engine.drain_closed()
        return changed

    def flush(self) -> list[Finding]:
        self.engine.take_changed()
        if self.engine.state is not None:
            self.engine.state.commit()
        return self.engine.findings()

    def snapshot(self) -> bytes:
        from seawall.detect import snapshot

        return snapshot.dump(self.engine)

    def report(self) -> Report:
        warnings = self.stats.summary()
        warnings.extend(
            f"rule {p.rule_id or p.path} not used: {p.reason}" for p in self.problems + self.engine.problems
        )
        return Report(
            target=_target(self.options.source, self.origins, self.stats, len(self.program.rules)),
            findings=self.engine.findings(),
            warnings=warnings,
            skips=skips_of(self.stats, self.options.source),
        )

    def close(self) -> None:
        if self.engine.state is not None:
            self.engine.state.close()
            self.engine.state = None


class DetectAnalyzer:
    name = "detect"
    report_kind = ReportKind.FINDINGS

    def options(self, **values: Any) -> DetectOptions:
        return DetectOptions(**values)

    def run(self, target: str | Sequence[str], options: DetectOptions) -> Report:
        paths = [target] if isinstance(target, str) else list(target)
        if paths:
            options.paths = paths
        if options.engine == "spark":
            from seawall.spark.analyzer import run_on_spark

            return run_on_spark(options)
        if options.engine != "local":
            raise InputError(f"unknown engine {options.engine!r}; use local or spark")
        ruleset = options.ruleset or load_ruleset(options)
        check_rule_files(ruleset, options)
        result = run(options, ruleset)
        return Report(
            target=_target(options.source, options.paths, result.stats, result.rules),
            findings=result.findings,
            warnings=result.warnings,
            skips=result.skips,
        )

    def open_stream(self, options: DetectOptions, state: bytes | None = None) -> DetectStream:
        from seawall.telemetry import get_reader

        get_reader(options.source)  # validates the source name
        ruleset = options.ruleset or load_ruleset(options)
        check_rule_files(ruleset, options)
        return DetectStream(options, ruleset, state)


DETECT = DetectAnalyzer()
