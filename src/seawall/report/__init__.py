"""Report formatters: one module per format, registered by name in FORMATS.

A formatter is a module with `render(report: Report, out: TextIO, options: RenderOptions) -> None`.
Modules are imported lazily so that a format's heavy library loads only when used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Protocol, TextIO

from seawall.core import Report
from seawall.core.errors import InputError

# format name -> module under seawall.report
FORMATS: dict[str, str] = {
    "json": "seawall.report.json_format",
    "jsonl": "seawall.report.jsonl_format",
    "table": "seawall.report.table",
    "sarif": "seawall.report.sarif",
    "cyclonedx-json": "seawall.report.cyclonedx",
    "cyclonedx": "seawall.report.cyclonedx",
    "spdx-json": "seawall.report.spdx",
    "ocsf": "seawall.report.ocsf",
}


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
