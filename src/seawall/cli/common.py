"""Helpers shared by every verb: output, severity filters, exit codes."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import typer

from seawall.core import Report, Severity
from seawall.core.errors import InputError
from seawall.report import RenderOptions, render

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


def parse_severity(value: str | None) -> Severity | None:
    if value is None:
        return None
    sev = Severity.parse(value)
    if sev is Severity.UNKNOWN and value.strip().lower() != "unknown":
        raise InputError(f"unknown severity {value!r}; use critical, high, medium, low or info")
    return sev


def parse_severity_list(value: str | None) -> set[Severity] | None:
    """`--severity HIGH,CRITICAL` (Trivy style): keep only these severities."""
    if not value:
        return None
    return {s for part in value.split(",") if part.strip() and (s := parse_severity(part))}


def filter_severity(report: Report, severities: set[Severity] | None) -> None:
    if severities:
        report.findings = [f for f in report.findings if f.severity in severities]


def emit(report: Report, fmt: str, output: Path | None, view: str = "findings") -> None:
    """Render to --output (atomically) or stdout."""
    if output is None:
        color = fmt == "table" and sys.stdout.isatty() and "NO_COLOR" not in os.environ
        render(report, fmt, sys.stdout, RenderOptions(view=view, color=color))
        sys.stdout.flush()
        return
    buffer = io.StringIO()
    render(report, fmt, buffer, RenderOptions(view=view))
    if output.exists() and not output.is_file():
        # a device, FIFO or the like (/dev/null, /dev/stdout): write to it, never rename over it
        with output.open("w", encoding="utf-8") as stream:
            stream.write(buffer.getvalue())
        return
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    tmp.replace(output)


def exit_code(report: Report, fail_on: Severity | None) -> int:
    if fail_on is None:
        return EXIT_OK
    if any(f.severity.at_least(fail_on) and f.severity is not Severity.UNKNOWN
           for f in report.findings):
        return EXIT_FINDINGS
    return EXIT_OK


def exit_on_findings(report: Report, fail_on: str | None) -> None:
    """Exit 1 when a finding is at or above --fail-on (main() passes the code to the shell)."""
    code = exit_code(report, parse_severity(fail_on))
    if code:
        raise typer.Exit(code)


def finish(report: Report, fmt: str, output: Path | None, fail_on: str | None,
           view: str = "findings") -> None:
    parse_severity(fail_on)  # a bad --fail-on is a usage error before anything is written
    emit(report, fmt, output, view)
    exit_on_findings(report, fail_on)


def warn(message: str) -> None:
    print(f"seawall: warning: {message}", file=sys.stderr)


FORMAT_HELP = "Output format: table, json, sarif, cyclonedx-json, spdx-json, ocsf, jsonl"
