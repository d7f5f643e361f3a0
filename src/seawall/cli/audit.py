"""`seawall audit PATH...`, `seawall audit aws`, `seawall audit host`: configuration posture."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from seawall.cli.common import (
    IgnoreFileOpt,
    check_output,
    filter_severity,
    finish,
    load_suppressions,
    parse_severity_list,
    suppress,
    warn,
)
from seawall.core import ReportKind
from seawall.core.errors import InputError
from seawall.report import check_format, format_help

HELP = """Audit configuration: Kubernetes manifests, ECS task definitions and services, EKS and ECR JSON,
Dockerfiles, kube-apiserver/kubelet flags, daemon.json (files and directories, type detected by
content). `seawall audit aws` audits live ECR/ECS/EKS; `seawall audit host` a Docker host's files."""


def _list_checks(fmt: str, output: Path | None) -> None:
    """`--list-checks`: a table, or with `--format json` one JSON array (id, title, severity, kind,
    target, references, attack, rationale, remediation) for tools that map checks to frameworks."""
    from seawall.posture import all_checks

    if fmt == "json":
        import json

        text = json.dumps([{"id": c.id, "title": c.title, "severity": c.severity.value,
                            "kind": c.kind.value, "target": c.target, "references": list(c.references),
                            "attack": list(c.attack), "rationale": c.rationale,
                            "remediation": c.remediation} for c in all_checks()], indent=1) + "\n"
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, "utf-8")
        return
    if fmt != "table":
        raise InputError(f"--list-checks prints a table or JSON, not {fmt!r}: use --format table|json")
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="seawall posture checks")
    for col in ("ID", "Severity", "Kind", "Target", "Title", "References"):
        table.add_column(col)
    for check in all_checks():
        table.add_row(check.id, check.severity.value, check.kind.value, check.target,
                      escape(check.title), escape(", ".join(check.references)))
    stream = sys.stdout if output is None else output.open("w", encoding="utf-8")
    try:
        Console(file=stream, width=220, no_color=output is not None or not sys.stdout.isatty()).print(table)
    finally:
        if output is not None:
            stream.close()


def register(app: typer.Typer) -> None:
    @app.command("audit", help=HELP)
    def audit(
        targets: Annotated[list[str] | None, typer.Argument(
            help="Files/directories to audit, or `aws` / `host`", show_default=False)] = None,
        fmt: Annotated[str, typer.Option("--format", "-f", help=format_help(ReportKind.FINDINGS))] = "table",
        output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here")] = None,
        severity: Annotated[str | None, typer.Option(help="Only these severities: HIGH,CRITICAL")] = None,
        fail_on: Annotated[str | None, typer.Option(
            "--fail-on", help="Exit 1 if a finding is at or above this severity")] = None,
        policy: Annotated[Path | None, typer.Option(
            help="Policy YAML: skip, severity, exceptions (with expiry), allowed_registries")] = None,
        allowed_registry: Annotated[list[str] | None, typer.Option(
            "--allowed-registry", help="Trusted registry (repeatable); other images are findings")] = None,
        check: Annotated[list[str] | None, typer.Option(
            "--check", help="Run only these check ids (repeatable)")] = None,
        list_checks: Annotated[bool, typer.Option("--list-checks", help="List the checks and exit")] = False,
        profile: Annotated[str | None, typer.Option(help="audit aws: AWS profile")] = None,
        region: Annotated[list[str] | None, typer.Option(
            help="audit aws: region (repeatable); default: the profile's region")] = None,
        all_regions: Annotated[bool, typer.Option(
            "--all-regions", help="audit aws: every region enabled for the account")] = False,
        endpoint_url: Annotated[str | None, typer.Option(
            "--endpoint-url", envvar="SEAWALL_AWS_ENDPOINT_URL",
            help="audit aws: AWS endpoint (e.g. a local moto server)")] = None,
        root: Annotated[Path, typer.Option(help="audit host: root filesystem to read")] = Path("/"),
        ignore_file: IgnoreFileOpt = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No warnings on stderr")] = False,
    ) -> None:
        if list_checks:
            check_output(output)
            _list_checks(fmt, output)
            return
        from seawall import analyzers
        from seawall.posture.aws import AwsOptions
        from seawall.posture.base import Policy

        fmt = check_format(fmt, ReportKind.FINDINGS, "audit")
        check_output(output)
        suppressions = load_suppressions(ignore_file)
        pol = Policy.load(policy) if policy else Policy()
        if allowed_registry:
            pol.allowed_registries.extend(r.rstrip("/") for r in allowed_registry)
        analyzer = analyzers.get("audit")
        options = analyzer.options(
            policy=pol, only=set(check) if check else None, root=root,
            aws=AwsOptions(profile=profile, regions=list(region or []), all_regions=all_regions,
                           endpoint_url=endpoint_url))
        report = analyzer.run(targets or [], options)
        suppress(report, suppressions)
        if not quiet:
            for message in report.all_warnings():
                warn(message)
        filter_severity(report, parse_severity_list(severity))
        finish(report, fmt, output, fail_on)
