"""`seawall detect --source TYPE [FILE|DIR|-]...`: threat detection in logs and flows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from seawall.cli.common import (
    FORMAT_HELP,
    emit,
    exit_on_findings,
    filter_severity,
    finish,
    parse_severity_list,
    warn,
)
from seawall.core import Report, Target
from seawall.core.errors import InputError

FLOW_SOURCES = ("vpc-flow", "hubble", "pcap")


def _rules_table(ruleset: Any, source: str | None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Detection rules")
    for col in ("Rule", "Origin", "Sources", "Kind", "Severity", "ATT&CK", "Title"):
        table.add_column(col)
    for rule in sorted(ruleset.rules, key=lambda r: (r.origin != "builtin", r.id)):
        if source and source not in rule.sources:
            continue
        kind = rule.kind if rule.enabled else f"{rule.kind} (disabled)"
        table.add_row(
            escape(rule.id),
            rule.origin,
            ",".join(rule.sources),
            kind,
            rule.severity.value,
            ",".join(rule.attack),
            escape(rule.title[:70]),
        )
    Console(file=sys.stdout, width=200, highlight=False).print(table)


def _rules_report(ruleset: Any, programs: dict[str, Any], problems: list[Any]) -> None:
    from collections import Counter

    by_origin = Counter(r.origin for r in ruleset.rules)
    runnable = {src: len(p.rules) for src, p in programs.items()}
    compiled_ids = {cr.rule.id for p in programs.values() for cr in p.rules}
    disabled = [r for r in ruleset.rules if not r.enabled]
    print(f"rule files read: {ruleset.files}")
    print("rules loaded: " + ", ".join(f"{n} {o}" for o, n in sorted(by_origin.items())))
    print("rules running per source: " + ", ".join(f"{s}={n}" for s, n in runnable.items()))
    print(f"rules that run on at least one source: {len(compiled_ids)}; disabled by default: {len(disabled)}")
    not_loaded = ruleset.problems + problems
    print(f"rules not loaded or not runnable: {len(not_loaded)}")
    reasons = Counter(
        f"{p.category}: {p.reason.split(':')[0] if p.category == 'no-source' else p.reason}"
        for p in not_loaded
    )
    for reason, n in reasons.most_common():
        print(f"  {n:4d}  {reason[:160]}")
    for p in not_loaded:
        print(f"  - {p.path}: {p.rule_id or ''} {p.title or ''}: [{p.category}] {p.reason}"[:300])


def detect(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Files, gzip files, directories, or - for stdin")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            "-s",
            help="k8s-audit, cloudtrail, container-logs, falco, tetragon, vpc-flow, hubble, pcap",
        ),
    ] = None,
    rules: Annotated[
        list[Path] | None, typer.Option("--rules", "-r", help="More Sigma or native rule files/dirs")
    ] = None,
    no_builtin: Annotated[bool, typer.Option("--no-builtin", help="Skip the built-in rule pack")] = False,
    no_sigma: Annotated[bool, typer.Option("--no-sigma", help="Skip the bundled Sigma rules")] = False,
    enable: Annotated[
        list[str] | None, typer.Option("--enable", help="Enable a rule that is off by default")
    ] = None,
    list_rules: Annotated[bool, typer.Option("--list-rules", help="List the rules and exit")] = False,
    rules_report: Annotated[
        bool, typer.Option("--rules-report", help="How many rules load, and why the rest do not")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here")] = None,
    severity: Annotated[
        str | None, typer.Option("--severity", help="Only these severities, e.g. HIGH,CRITICAL")
    ] = None,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="Exit 1 if a finding is at least this severe")
    ] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep reading a growing file (or stdin)")] = False,
    follow_idle: Annotated[
        float | None, typer.Option("--follow-idle", help="With --follow: stop after this many idle seconds")
    ] = None,
    window: Annotated[
        str, typer.Option("--window", help="Events of one rule and workload closer than this are one finding")
    ] = "1h",
    state: Annotated[Path | None, typer.Option("--state", help="First-seen state file (SQLite)")] = None,
    no_state: Annotated[
        bool, typer.Option("--no-state", help="Keep first-seen state in memory only")
    ] = False,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="Flow sources: baseline file")] = None,
    intel: Annotated[
        list[Path] | None, typer.Option("--intel", help="Flow sources: threat intel file (repeatable)")
    ] = None,
    inventory: Annotated[
        list[Path] | None, typer.Option("--inventory", help="Flow sources: workload inventory (repeatable)")
    ] = None,
    vpc_format: Annotated[
        str | None,
        typer.Option("--vpc-format", help="vpc-flow: field names of a headerless custom format"),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Processes for large plain log files (default: one per CPU; 1: all in this process)",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No warnings on stderr")] = False,
) -> None:
    """Detect attacks in Kubernetes audit, CloudTrail, container logs, Falco/Tetragon events and flows."""
    paths = list(paths or [])
    severities = parse_severity_list(severity)
    if source in FLOW_SOURCES:
        _flows(source, paths, baseline, intel or [], inventory or [], vpc_format, fmt, output, severities,
               fail_on, quiet)
        return
    from seawall.detect import DetectOptions, compile_all, default_state_path, run
    from seawall.detect.loader import duration, load_rules

    ruleset = load_rules(list(rules or []), builtin=not no_builtin, bundled_sigma=not no_sigma)
    for rid in enable or []:
        matched = [r for r in ruleset.rules if r.id == rid]
        if not matched:
            raise InputError(f"--enable {rid}: no such rule")
        for r in matched:
            r.enabled = True
    if list_rules or rules_report:
        if list_rules:
            _rules_table(ruleset, source)
        if rules_report:
            loading = list(ruleset.problems)
            programs = compile_all(ruleset, [source] if source else None)
            compiling = ruleset.problems[len(loading) :]
            ruleset.problems = loading
            _rules_report(ruleset, programs, compiling)
        return
    if source is None:
        raise InputError(
            "--source is required (k8s-audit, cloudtrail, container-logs, falco, tetragon, "
            "vpc-flow, hubble, pcap)"
        )
    if workers is not None and workers < 1:
        raise InputError("--workers: give 1 or more")
    try:
        window_s = duration(window)
    except ValueError as exc:
        raise InputError(f"--window: {exc}") from exc
    streaming = fmt == "jsonl" and output is None
    on_finding = None
    if streaming:
        from seawall.report.jsonl_format import render_finding

        def on_finding(finding: Any) -> None:
            if severities and finding.severity not in severities:
                return
            render_finding(finding, sys.stdout)

    options = DetectOptions(
        source=source,
        paths=paths or ["-"],
        rule_paths=list(rules or []),
        window=window_s,
        state_path=None if no_state else (state or default_state_path()),
        follow=follow,
        follow_idle=follow_idle,
        on_finding=on_finding,
        workers=workers,
    )
    result = run(options, ruleset)
    report = Report(
        target=Target(
            kind="logs",
            name=f"{source}: " + ", ".join(paths or ["-"])[:200],
            metadata={
                "source": source,
                "events": result.stats.events,
                "lines": result.stats.lines,
                "rules": result.rules,
            },
        ),
        findings=result.findings,
        warnings=result.warnings,
    )
    filter_severity(report, severities)
    if not quiet:
        for w in result.warnings[:20]:
            warn(w)
    if not streaming:
        emit(report, fmt, output)
    exit_on_findings(report, fail_on)


def _flows(
    source: str,
    paths: list[str],
    baseline: Path | None,
    intel: list[Path],
    inventory: list[Path],
    vpc_format: str | None,
    fmt: str,
    output: Path | None,
    severities: Any,
    fail_on: str | None,
    quiet: bool,
) -> None:
    from seawall.network import NetworkOptions
    from seawall.network import detect as detect_flows

    options = NetworkOptions(baseline=baseline, intel=list(intel), inventory=list(inventory),
                             vpc_format=vpc_format)
    result = detect_flows(source, paths, options)
    warnings = list(getattr(result, "warnings", []) or [])
    report = Report(
        target=Target(kind="flows", name=f"{source}: " + ", ".join(paths)[:200]),
        findings=list(result.findings),
        warnings=warnings,
    )
    filter_severity(report, severities)
    if not quiet:
        for w in warnings[:20]:
            warn(w)
    finish(report, fmt, output, fail_on)


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)
