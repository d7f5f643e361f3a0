"""Human tables: plain aligned text, linear in the number of rows.

A rich Table measures and wraps every cell and took minutes for a few hundred thousand rows
(2.5 ms a row); this writes each row once, with column widths from one pass over the cells
(each column capped), so a 337k-package SBOM prints in seconds. Every string from input is
shown through `seawall.core.text.printable` (no control characters, no terminal escapes) and
cut to its column's cap; colour (severity, titles) only when asked (a terminal, no NO_COLOR).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TextIO

from seawall.core import Finding, Report, Severity
from seawall.core.text import printable

_SEVERITY_STYLE = {
    Severity.CRITICAL: "\x1b[1;31m",
    Severity.HIGH: "\x1b[31m",
    Severity.MEDIUM: "\x1b[33m",
    Severity.LOW: "\x1b[36m",
    Severity.INFO: "\x1b[2m",
    Severity.UNKNOWN: "\x1b[2m",
}
_BOLD = "\x1b[1m"
_YELLOW = "\x1b[33m"
_RESET = "\x1b[0m"
_GAP = "  "
_INDENT = " "  # rows start with a space: a name is always a whole word (" django ")
_BATCH = 512  # rows written per out.write()


def _text(value: object, limit: int = 160) -> str:
    text = "" if value is None else str(value)
    if not (text.isascii() and text.isprintable()):  # the common case needs no regex
        text = printable(text)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def _short_layer(layer: str | None) -> str:
    if not layer:
        return ""
    return layer.split(":", 1)[-1][:12]


class _Painter:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: str) -> str:
        return f"{style}{text}{_RESET}" if self.color and text else text


def _table(out: TextIO, title: str, headers: Sequence[str], rows: Sequence[Sequence[str]],
           paint: _Painter, styles: Sequence[str | None] | None = None) -> None:
    """Write one table: its title, a header, a rule, then each row padded to its column width.
    `styles[i]` is the colour of column i ("severity": from the cell's own word)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            if len(cell) > widths[i]:
                widths[i] = len(cell)
    last = len(headers) - 1
    out.write(paint(title, _BOLD) + "\n")
    header = _GAP.join(h.ljust(widths[i]) if i < last else h for i, h in enumerate(headers))
    out.write(_INDENT + header + "\n")
    out.write(_INDENT + _GAP.join("-" * w for w in widths) + "\n")
    batch: list[str] = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            padded = cell.ljust(widths[i]) if i < last else cell
            style = styles[i] if styles is not None else None
            if style == "severity" and paint.color:
                padded = paint(padded, _SEVERITY_STYLE.get(Severity.parse(cell), ""))
            cells.append(padded)
        batch.append(_INDENT + _GAP.join(cells).rstrip() + "\n")
        if len(batch) >= _BATCH:
            out.write("".join(batch))
            batch.clear()
    out.write("".join(batch))
    out.write("\n")


def render_sbom(report: Report, out: TextIO, paint: _Painter) -> None:
    if report.target.os:
        osinfo = report.target.os
        out.write(f"OS: {_text(osinfo.id)} {_text(osinfo.version or '')}".rstrip() + "\n")
    rows = []
    for pkg in sorted(report.packages, key=lambda p: (p.ecosystem, p.name.lower(), p.version)):
        loc = pkg.locations[0] if pkg.locations else None
        rows.append((_text(pkg.name, 60), _text(pkg.version, 40), _text(pkg.ecosystem, 20),
                     _text(loc.path if loc else "", 80), _short_layer(loc.layer if loc else None)))
    _table(out, _text(f"{report.target.name}  ({len(report.packages)} packages)", 200),
           ("Name", "Version", "Ecosystem", "Path", "Layer"), rows, paint)
    _warnings_footer(report, out, paint)


def _finding_row(f: Finding) -> tuple[str, ...]:
    where = f.location.path or ""
    if f.location.line:
        where += f":{f.location.line}"
    subject = f.resource.name
    if f.resource.namespace:
        subject = f"{f.resource.namespace}/{subject}"
    return (f.severity.value.upper(), _text(f.rule, 40), _text(f.title, 80),
            _text(f"{f.resource.type}:{subject}", 60), _text(where, 60), _text(f.evidence, 60))


def _vulnerability_rows(vulns: Iterable[Finding]) -> list[tuple[str, ...]]:
    by_pkg: dict[tuple[str, str, str], list[Finding]] = defaultdict(list)
    for f in vulns:
        assert f.package is not None
        by_pkg[(f.package.ecosystem, f.package.name, f.package.version)].append(f)
    rows: list[tuple[str, ...]] = []
    for (eco, name, version), items in sorted(by_pkg.items()):
        for i, f in enumerate(sorted(items, key=lambda x: (-x.severity.rank, x.rule))):
            vuln = f.vulnerability
            rows.append((_text(f"{name} ({eco})", 60) if i == 0 else "", _text(version, 40) if i == 0 else "",
                         _text(f.rule, 40), f.severity.value.upper(),
                         _text(", ".join(vuln.fixed_versions) if vuln else "", 40),
                         _short_layer(f.location.layer)))
    return rows


def render_findings(report: Report, out: TextIO, paint: _Painter) -> None:
    vulns = [f for f in report.findings if f.kind.value == "vulnerability" and f.package]
    vuln_ids = {id(f) for f in vulns}
    others = [f for f in report.findings if id(f) not in vuln_ids]
    if vulns:
        headers = ("Package", "Installed", "Vulnerability", "Severity", "Fixed in", "Layer")
        _table(out, "Vulnerabilities", headers, _vulnerability_rows(vulns), paint,
               (None, None, None, "severity", None, None))
    if others:
        rows = [_finding_row(f) for f in sorted(others, key=lambda x: (-x.severity.rank, x.rule,
                                                                        x.location.path or ""))]
        headers = ("Severity", "Rule", "Title", "Resource", "Location", "Evidence")
        _table(out, "Findings", headers, rows, paint, ("severity", None, None, None, None, None))
    counts: dict[str, int] = defaultdict(int)
    for f in report.findings:
        counts[f.severity.value] += 1
    summary = ", ".join(f"{sev.value}: {counts[sev.value]}" for sev in Severity if counts[sev.value])
    out.write(f"{len(report.findings)} findings" + (f" ({summary})" if summary else "") + "\n")
    _warnings_footer(report, out, paint)


def _warnings_footer(report: Report, out: TextIO, paint: _Painter) -> None:
    for warning in report.all_warnings():
        out.write(f"{paint('warning:', _YELLOW)} {_text(warning, 300)}\n")


def render(report: Report, out: TextIO, options: object) -> None:
    view = getattr(options, "view", "findings")
    paint = _Painter(bool(getattr(options, "color", False)))
    if view == "sbom":
        render_sbom(report, out, paint)
    else:
        render_findings(report, out, paint)
