"""Human tables (rich). Every attacker-influenced string is escaped before printing."""

from __future__ import annotations

from collections import defaultdict
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from seawall.core import Finding, Report, Severity

_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
    Severity.UNKNOWN: "dim",
}


def _text(value: object, limit: int = 160) -> str:
    text = "" if value is None else str(value)
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return escape(text)


def _short_layer(layer: str | None) -> str:
    if not layer:
        return ""
    return layer.split(":", 1)[-1][:12]


def _console(out: TextIO, color: bool) -> Console:
    return Console(file=out, force_terminal=color, no_color=not color, width=200, emoji=False,
                   highlight=False, soft_wrap=False)


def render_sbom(report: Report, console: Console) -> None:
    table = Table(title=_text(f"{report.target.name}  ({len(report.packages)} packages)"))
    for col in ("Name", "Version", "Ecosystem", "Path", "Layer"):
        table.add_column(col)
    for pkg in sorted(report.packages, key=lambda p: (p.ecosystem, p.name.lower(), p.version)):
        loc = pkg.locations[0] if pkg.locations else None
        table.add_row(_text(pkg.name), _text(pkg.version), _text(pkg.ecosystem),
                      _text(loc.path if loc else "", 80), _short_layer(loc.layer if loc else None))
    if report.target.os:
        osinfo = report.target.os
        console.print(f"OS: {_text(osinfo.id)} {_text(osinfo.version or '')}")
    console.print(table)
    _warnings_footer(report, console)


def _finding_row(f: Finding) -> list[str]:
    where = f.location.path or ""
    if f.location.line:
        where += f":{f.location.line}"
    subject = f.resource.name
    if f.resource.namespace:
        subject = f"{f.resource.namespace}/{subject}"
    return [
        f"[{_SEVERITY_STYLE[f.severity]}]{f.severity.value.upper()}[/]",
        _text(f.rule, 40),
        _text(f.title, 80),
        _text(f"{f.resource.type}:{subject}", 60),
        _text(where, 60),
        _text(f.evidence, 60),
    ]


def render_findings(report: Report, console: Console) -> None:
    vulns = [f for f in report.findings if f.kind.value == "vulnerability" and f.package]
    others = [f for f in report.findings if f not in vulns]
    if vulns:
        by_pkg: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
        for f in vulns:
            assert f.package is not None
            by_pkg[(f.package.ecosystem, f.package.name, f.package.version)].append(f)
        table = Table(title="Vulnerabilities")
        for col in ("Package", "Installed", "Vulnerability", "Severity", "Fixed in", "Layer"):
            table.add_column(col)
        for (eco, name, version), items in sorted(by_pkg.items()):
            for i, f in enumerate(sorted(items, key=lambda x: (-x.severity.rank, x.rule))):
                vuln = f.vulnerability
                table.add_row(
                    _text(f"{name} ({eco})") if i == 0 else "",
                    _text(version) if i == 0 else "",
                    _text(f.rule),
                    f"[{_SEVERITY_STYLE[f.severity]}]{f.severity.value.upper()}[/]",
                    _text(", ".join(vuln.fixed_versions) if vuln else ""),
                    _short_layer(f.location.layer),
                )
        console.print(table)
    if others:
        table = Table(title="Findings")
        for col in ("Severity", "Rule", "Title", "Resource", "Location", "Evidence"):
            table.add_column(col)
        for f in sorted(others, key=lambda x: (-x.severity.rank, x.rule, x.location.path or "")):
            table.add_row(*_finding_row(f))
        console.print(table)
    counts: dict[str, int] = defaultdict(int)
    for f in report.findings:
        counts[f.severity.value] += 1
    summary = ", ".join(f"{sev.value}: {counts[sev.value]}" for sev in Severity if counts[sev.value])
    console.print(f"{len(report.findings)} findings" + (f" ({summary})" if summary else ""))
    _warnings_footer(report, console)


def _warnings_footer(report: Report, console: Console) -> None:
    for warning in report.all_warnings():
        console.print(f"[yellow]warning:[/] {_text(warning, 300)}")


def render(report: Report, out: TextIO, options: object) -> None:
    view = getattr(options, "view", "findings")
    console = _console(out, bool(getattr(options, "color", False)))
    if view == "sbom":
        render_sbom(report, console)
    else:
        render_findings(report, console)
