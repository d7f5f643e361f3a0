"""The one way every analyzer is entered: `run(target, options) -> Report`.

    from seawall import analyzers

    report = analyzers.get("scan").run("oci:.cache/demo/oci:demo:1", ScanOptions())
    report = analyzers.get("audit").run(["k8s/", "ecs/"], AuditOptions())

    detect = analyzers.get_streaming("detect")
    stream = detect.open_stream(DetectOptions(source="k8s-audit", paths=[]))
    for batch in batches:                    # Batch(lines=[b'{...}', ...], origin="webhook")
        store(stream.feed(batch))            # findings opened or changed by this batch
    store(stream.flush())                    # every finding, final counts
    blob = stream.snapshot()                 # state to restore with open_stream(options, blob)

The CLI, the service, Spark and the tests call these entry points; nothing of an analyzer lives
in `cli/`. The long-running analyzers (detect, network) also stream: feed batches of raw lines,
get findings as they are decided, save and restore their state. What an analyzer could not look
at is a `Skip` (seawall.core.Skip) in the report, never silence.

An analyzer is registered here by name -> "module:attribute"; modules load only when asked for
(start-up time matters for every command).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from seawall.core import Finding, Report, ReportKind
from seawall.core.errors import InputError

Target = str | Sequence[str]
"""What an analyzer reads: an image reference, or paths (files, directories, `-`), or a word
(`aws`, `host`) that the analyzer documents."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Raw input lines of one origin, in input order (a file, a webhook request, a log stream).

    `first_lineno` numbers the first line (1-based) so that findings point at their line;
    `document` says the lines are the records of one whole-file document (CloudTrail's
    `{"Records": [...]}`), so that locations name a record instead of a line."""

    lines: Sequence[bytes]
    origin: str
    first_lineno: int = 1
    document: bool = False


@runtime_checkable
class Analyzer(Protocol):
    """An analyzer: a name, the kind of report it makes, its options type and `run`."""

    name: str
    report_kind: ReportKind

    def options(self, **values: Any) -> Any:
        """A new options object of this analyzer's own type (its dataclass), from keywords."""
        ...

    def run(self, target: Target, options: Any) -> Report: ...


@runtime_checkable
class Stream(Protocol):
    """A long-running analysis: batches in, findings out as they are decided."""

    def feed(self, batch: Batch) -> list[Finding]:
        """Analyze one batch; return the findings it opened or changed (current counts)."""
        ...

    def flush(self) -> list[Finding]:
        """End of input (or a checkpoint): every finding with its final counts."""
        ...

    def snapshot(self) -> bytes:
        """The analysis state (windows, thresholds, sequences, aggregates), to restore later."""
        ...

    def report(self) -> Report:
        """The report so far: findings, warnings, skips and reading statistics."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class StreamingAnalyzer(Analyzer, Protocol):
    def open_stream(self, options: Any, state: bytes | None = None) -> Stream:
        """A stream with `options`; `state` (from `Stream.snapshot`) resumes an earlier one."""
        ...


# name -> "module:attribute"
ANALYZERS: dict[str, str] = {
    "sbom": "seawall.scan.analyzer:SBOM",
    "scan": "seawall.scan.analyzer:SCAN",
    "audit": "seawall.posture.analyzer:AUDIT",
    "detect": "seawall.detect.analyzer:DETECT",
    "network": "seawall.network.analyzer:NETWORK",
    "runtime": "seawall.runtime.analyzer:RUNTIME",
}


def get(name: str) -> Analyzer:
    spec = ANALYZERS.get(name)
    if spec is None:
        raise InputError(f"unknown analyzer {name!r}; choose one of: {', '.join(ANALYZERS)}")
    module_name, attribute = spec.split(":")
    analyzer = getattr(importlib.import_module(module_name), attribute)
    assert isinstance(analyzer, Analyzer)
    return analyzer


def get_streaming(name: str) -> StreamingAnalyzer:
    analyzer = get(name)
    if not isinstance(analyzer, StreamingAnalyzer):
        raise InputError(f"analyzer {name!r} does not stream")
    return analyzer


def run(name: str, target: Target, options: Any = None, **values: Any) -> Report:
    """`analyzers.run("audit", ["k8s/"], severity=...)`: options built from keywords when not given."""
    analyzer = get(name)
    return analyzer.run(target, options if options is not None else analyzer.options(**values))


__all__ = ["ANALYZERS", "Analyzer", "Batch", "Stream", "StreamingAnalyzer", "Target", "get",
           "get_streaming", "run"]
