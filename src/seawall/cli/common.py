"""Helpers shared by every verb: output, severity filters, exit codes."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from seawall.core import Finding, Report, Severity
from seawall.core.errors import InputError
from seawall.core.text import printable
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


def load_suppressions(ignore_file: Path | None) -> list[Any]:
    """`--ignore-file` (default ./.seawallignore): the one suppression format of every verb."""
    from seawall.suppress import default_ignore_file, load_ignore_file

    path = ignore_file or default_ignore_file()
    return load_ignore_file(path) if path is not None else []


def suppress(report: Report, entries: list[Any]) -> None:
    from seawall.suppress import apply_to_report

    apply_to_report(report, entries)


def suppress_findings(findings: list[Finding], entries: list[Any]) -> tuple[list[Finding], list[str]]:
    """Findings outside a report (a map's): those no active entry suppresses, and the warnings
    about expired entries."""
    if not entries:
        return findings, []
    from seawall.suppress import apply_ignores

    result = apply_ignores(findings, entries)
    return result.kept, result.warnings


def check_output(output: Path | None) -> None:
    """`--output` names a file that can be written: before any work is done, one line if not."""
    if output is None:
        return
    if output.is_dir():
        raise InputError(f"--output {output}: is a directory; name a file")
    parent = output.parent
    if not parent.is_dir():
        raise InputError(f"--output {output}: directory {parent} does not exist")
    if output.exists() and not output.is_file():
        return  # a device or FIFO (/dev/null, /dev/stdout): written in place
    if not os.access(parent, os.W_OK | os.X_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise InputError(f"--output {output}: not writable")


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
    write_atomically(output, buffer.getvalue())


def write_atomically(output: Path, text: str) -> None:
    """Write `text` to `output` through a temporary file in the same directory, then rename."""
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"--output {output}: {exc.strerror or exc}") from None


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


IgnoreFileOpt = Annotated[Path | None, typer.Option(
    "--ignore-file", help="Accepted findings: ids (rule, CVE, finding id) with optional expiry, "
    "resource, path, package and reason (default: ./.seawallignore when present).",
    show_default=False)]


def warn(message: str) -> None:
    print(f"seawall: warning: {printable(message)}", file=sys.stderr)

