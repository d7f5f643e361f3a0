"""The one interface of the service's sources.

    source = FileSource(config, context)         # built from its seawall.yaml entry
    source.start(checkpoint)                     # where the last committed run left off ({} at first)
    pulled = source.poll(max_lines)              # Pulled(batches, checkpoint after them) or None
    ... the pipeline feeds the batches to the analyzer, commits findings + pulled.checkpoint ...
    source.committed(pulled.checkpoint)          # e.g. the spool may now drop what it held

A checkpoint is JSON (offsets, S3 keys, CloudWatch tokens, spool positions) and is stored with
the analyzer's snapshot and the findings decided up to it, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from seawall.analyzers import Batch
from seawall.core.errors import InputError
from seawall.service.config import Limits, SourceConfig

# telemetry formats a streaming source can carry, and the analyzer that reads each
DETECT_FORMATS = ("k8s-audit", "cloudtrail", "container-logs", "falco", "tetragon")
FLOW_FORMATS = ("vpc-flow", "hubble")


def analyzer_for(fmt: str) -> str:
    if fmt in DETECT_FORMATS:
        return "detect"
    if fmt in FLOW_FORMATS:
        return "network"
    raise InputError(f"unknown format {fmt!r}; choose one of: {', '.join(DETECT_FORMATS + FLOW_FORMATS)}")


@dataclass(slots=True)
class Context:
    """What a source may use: its own folder under the data dir, the limits, the metrics."""

    data_dir: Path
    limits: Limits
    wake: Any = None  # threading.Event: set by a receiver when it has spooled something


@dataclass(slots=True)
class Pulled:
    batches: list[Batch]
    checkpoint: dict[str, Any]
    events: int = 0
    malformed: int = 0
    dropped: int = 0
    document: bool = False
    lines: list[bytes] = field(default_factory=list)  # for the archive (all lines of all batches)


@runtime_checkable
class Source(Protocol):
    name: str
    type: str
    format: str  # the telemetry format (k8s-audit, falco, vpc-flow ...)

    def start(self, checkpoint: dict[str, Any]) -> None: ...

    def poll(self, max_lines: int) -> Pulled | None:
        """The next lines after the last poll, or None when there is nothing new now."""
        ...

    def committed(self, checkpoint: dict[str, Any]) -> None: ...

    def health(self) -> dict[str, Any]:
        """Lag and other state for /api/v1/sources and /metrics."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Receiver(Source, Protocol):
    """A source that is sent data: the API hands it each request's body."""

    def receive(self, body: bytes, content_type: str) -> tuple[int, str, int]:
        """Spool the request durably. Returns (HTTP status, message, events accepted)."""
        ...


@runtime_checkable
class Job(Protocol):
    """A scheduled job (image scans, posture audits): findings land in the same store."""

    name: str
    type: str
    interval: float

    def run(
        self, known: dict[str, list[dict[str, str]]]
    ) -> tuple[list[Any], dict[str, str], list[str], bool]:
        """(findings, images ref -> digest, warnings, complete?), given the known workloads and
        their images (key -> [{ref, digest}]). A complete run replaces the job's earlier findings."""
        ...


def setting_str(cfg: SourceConfig, key: str, default: str | None = None) -> str:
    value = cfg.get(key, default)
    if not isinstance(value, str) or not value:
        raise InputError(f"source {cfg.name}: {key} must be a non-empty string")
    return value


def setting_num(cfg: SourceConfig, key: str, default: float) -> float:
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InputError(f"source {cfg.name}: {key} must be a number >= 0")
    return float(value)
