"""The seawall JSON report (schema seawall.report/v1, see DESIGN.md)."""

from __future__ import annotations

from typing import TextIO

import orjson

from seawall.core import Report


def render(report: Report, out: TextIO, options: object) -> None:
    out.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    out.write("\n")
