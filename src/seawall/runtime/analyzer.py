"""The runtime analyzer, as `seawall.analyzers` enters it:

    RUNTIME.run(["podman:unix:///run/podman/podman.sock"], RuntimeOptions()) -> Report
    RUNTIME.run("kubernetes:pods.json", RUNTIME.options(drift=False))

A target is one or more inventory sources, `KIND[:ADDRESS]` (seawall.runtime.inventory); an
empty target means the Docker/Podman sockets found on this machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seawall.core import Report, ReportKind
from seawall.runtime.running import RuntimeOptions, scan_running


class RuntimeAnalyzer:
    name = "runtime"
    report_kind = ReportKind.FINDINGS

    def options(self, **values: Any) -> RuntimeOptions:
        return RuntimeOptions(**values)

    def run(self, target: str | Sequence[str], options: RuntimeOptions) -> Report:
        specs = [target] if isinstance(target, str) else list(target)
        specs = [s for s in specs if s]
        if specs:
            options.sources = specs
        return scan_running(options)


RUNTIME = RuntimeAnalyzer()
