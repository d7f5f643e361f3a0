"""`seawall detect --source TYPE [FILE|DIR|-]...`: threat detection in logs and flows."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from seawall.cli.common import (
    IgnoreFileOpt,
    check_output,
    emit,
    exit_on_findings,
    filter_severity,
    finish,
    load_suppressions,
    parse_severity_list,
    suppress,
    warn,
)
from seawall.core import ReportKind
from seawall.core.errors import InputError
from seawall.core.text import printable
from seawall.report import check_format, format_help

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


def _rules_report(summary: Any) -> None:
    print(f"rule files read: {summary.files}")
    print("rules loaded: " + ", ".join(f"{n} {o}" for o, n in summary.loaded.items()))
    print("rules running per source: " + ", ".join(f"{s}={n}" for s, n in summary.running.items()))
    print(f"rules that run on at least one source: {summary.runnable}; "
          f"disabled by default: {summary.disabled}")
    print(f"rules not loaded or not runnable: {len(summary.problems)}")
    for reason, n in summary.reasons():
        print(f"  {n:4d}  {printable(reason[:160])}")
    for p in summary.problems:
        print(printable(f"  - {p.path}: {p.rule_id or ''} {p.title or ''}: [{p.category}] {p.reason}"[:300]))


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
    fmt: Annotated[str, typer.Option("--format", "-f", help=format_help(ReportKind.FINDINGS))] = "table",
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
    context: Annotated[
        list[Path] | None,
        typer.Option("--context", help="Organisation context (YAML, JSON; repeatable): allowlists, value "
                     "lists and the AWS Organization for log sources; infrastructure, known networks (or AWS "
                     "ip-ranges.json) for flow sources (docs/detect.md, docs/network.md)"),
    ] = None,
    learning_period: Annotated[
        str | None,
        typer.Option("--learning-period", help="Learn this long (e.g. 24h), then alert: on new edges, "
                     "destinations and periodic connections (flow sources); on new users, accounts, networks "
                     "and images (the first-seen rules of log sources, whose own default is 1h)"),
    ] = None,
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
    engine: Annotated[
        str, typer.Option("--engine", help="local, or spark: the same rules on Apache Spark (docs/spark.md)")
    ] = "local",
    spark_master: Annotated[
        str | None, typer.Option("--spark-master", help="With --engine spark: local[N], yarn, spark://...")
    ] = None,
    ignore_file: IgnoreFileOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No warnings on stderr")] = False,
) -> None:
    """Detect attacks in Kubernetes audit, CloudTrail, container logs, Falco/Tetragon events and flows."""
    from seawall import analyzers

    paths = list(paths or [])
    severities = parse_severity_list(severity)
    fmt = check_format(fmt, ReportKind.FINDINGS, "detect")
    check_output(output)
    suppressions = load_suppressions(ignore_file)
    if source in FLOW_SOURCES and not (list_rules or rules_report):
        from seawall.network.options import parse_period

        network = analyzers.get("network")
        options = network.options(source=source, baseline=baseline, intel=list(intel or []),
                                  inventory=list(inventory or []), vpc_format=vpc_format, engine=engine,
                                  spark_master=spark_master, context=list(context or []),
                                  learning_period=parse_period(learning_period))
        report = network.run(paths, options)
        suppress(report, suppressions)
        filter_severity(report, severities)
        if not quiet:
            for w in report.all_warnings()[:20]:
                warn(w)
        finish(report, fmt, output, fail_on)
        return
    from seawall.detect import DetectOptions, default_state_path
    from seawall.detect.analyzer import load_ruleset, rules_summary
    from seawall.detect.loader import duration

    try:
        learn = duration(learning_period) if learning_period is not None else None
    except ValueError as exc:
        raise InputError(f"--learning-period: {exc}") from exc
    options = DetectOptions(source=source or "", paths=paths or ["-"], rule_paths=list(rules or []),
                            builtin=not no_builtin, sigma=not no_sigma, enable=list(enable or []),
                            context_paths=list(context or []), learning_period=learn)
    options.ruleset = load_ruleset(options)
    if list_rules or rules_report:
        if list_rules:
            _rules_table(options.ruleset, source)
        if rules_report:
            _rules_report(rules_summary(options.ruleset, source))
        return
    if source is None:
        raise InputError(
            "--source is required (k8s-audit, cloudtrail, container-logs, falco, tetragon, "
            "vpc-flow, hubble, pcap)"
        )
    if workers is not None and workers < 1:
        raise InputError("--workers: give 1 or more")
    try:
        options.window = duration(window)
    except ValueError as exc:
        raise InputError(f"--window: {exc}") from exc
    streaming = fmt == "jsonl" and output is None
    if streaming:
        from datetime import date

        from seawall.report.jsonl_format import render_finding

        active = [e for e in suppressions if not e.expired(date.today())]

        def on_finding(finding: Any) -> None:
            if severities and finding.severity not in severities:
                return
            if any(entry.matches(finding) for entry in active):
                return
            render_finding(finding, sys.stdout)

        options.on_finding = on_finding
    options.state_path = None if no_state else (state or default_state_path())
    options.follow, options.follow_idle, options.workers = follow, follow_idle, workers
    options.engine, options.spark_master = engine, spark_master
    report = analyzers.get("detect").run(paths or ["-"], options)
    suppress(report, suppressions)
    filter_severity(report, severities)
    if not quiet:
        for w in report.all_warnings()[:20]:
            warn(w)
    if not streaming:
        emit(report, fmt, output)
    exit_on_findings(report, fail_on)


def register(app: typer.Typer) -> None:
    app.command("detect")(detect)
