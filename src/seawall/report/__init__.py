"""Report formatters: one module per format, registered by name in FORMATS.

A formatter is a module with `render(report: Report, out: TextIO, options: RenderOptions) -> None`.
Modules are imported lazily so that a format's heavy library loads only when used. Each format
declares the report kinds it can render (`KINDS`): an SBOM format cannot render an audit, and the
CLI derives each verb's `--format` choices and help from that (`formats_for`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from seawall.core import Report, ReportKind
from seawall.core.errors import InputError

# format name -> module under seawall.report
FORMATS: dict[str, str] = {
    "table": "seawall.report.table",
    "json": "seawall.report.json_format",
    "jsonl": "seawall.report.jsonl_format",
    "sarif": "seawall.report.sarif",
    "cyclonedx-json": "seawall.report.cyclonedx",
    "cyclonedx": "seawall.report.cyclonedx",
    "spdx-json": "seawall.report.spdx",
    "ocsf": "seawall.report.ocsf",
}

_BOTH = frozenset({ReportKind.FINDINGS, ReportKind.SBOM})
# format name -> the report kinds it renders
KINDS: dict[str, frozenset[ReportKind]] = {
    "table": _BOTH,
    "json": _BOTH,
    "jsonl": frozenset({ReportKind.FINDINGS}),
    "sarif": frozenset({ReportKind.FINDINGS}),
    # CycloneDX 1.6 carries components and vulnerabilities: an SBOM, or a scan's packages + findings
    "cyclonedx-json": _BOTH,
    "cyclonedx": _BOTH,
    "spdx-json": frozenset({ReportKind.SBOM}),
    "ocsf": frozenset({ReportKind.FINDINGS}),
}
ALIASES = {"spdx": "spdx-json"}  # as Trivy spells them


def formats_for(kind: ReportKind) -> list[str]:
    """The formats that can render a report of this kind, in registry order."""
    return [name for name in FORMATS if kind in KINDS[name]]


def check_format(name: str, kind: ReportKind, verb: str, allowed: list[str] | None = None) -> str:
    """The canonical format name, or a one-line error naming the formats this verb can write."""
    name = ALIASES.get(name, name)
    choices = allowed if allowed is not None else formats_for(kind)
    if name not in choices:
        raise InputError(f"unknown format {name!r} for {verb}; choose one of: {', '.join(choices)}")
    return name


def format_help(kind: ReportKind, allowed: list[str] | None = None) -> str:
    return "Output format: " + ", ".join(allowed if allowed is not None else formats_for(kind)) + "."


@dataclass(slots=True)
class RenderOptions:
    """What the formatter should show; `view` lets a verb ask for its own table layout."""

    view: str = "findings"  # findings | sbom
    color: bool = False
    extra: dict[str, object] = field(default_factory=dict)


class Formatter(Protocol):
    def render(self, report: Report, out: TextIO, options: RenderOptions) -> None: ...


def get_formatter(name: str) -> Formatter:
    module_name = FORMATS.get(name)
    if module_name is None:
        raise InputError(f"unknown format {name!r}; choose one of: {', '.join(sorted(FORMATS))}")
    module = importlib.import_module(module_name)
    return module


def render(report: Report, fmt: str, out: TextIO, options: RenderOptions | None = None) -> None:
    get_formatter(fmt).render(report, out, options or RenderOptions())
