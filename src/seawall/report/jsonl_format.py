"""One finding per line, for streaming consumers (`--format jsonl`)."""

from __future__ import annotations

from typing import TextIO

import orjson

from seawall.core import Finding, Report


def render_finding(finding: Finding, out: TextIO) -> None:
    out.write(orjson.dumps(finding.to_dict()).decode())
    out.write("\n")
    out.flush()


def render(report: Report, out: TextIO, options: object) -> None:
    for finding in report.findings:
        render_finding(finding, out)
