"""A streaming source's loop: pull lines, feed the analyzer, commit findings with the checkpoint.

    state = store.load_source(name)                  checkpoint + analyzer snapshot of the last commit
    source.start(checkpoint); archive.restore(...)   (a crash's uncommitted tail is cut off / re-read)
    stream = analyzer.open_stream(options, state=snapshot)
    loop: pulled = source.poll(); changed += stream.feed(batch) ...
          every commit_seconds / commit_lines:  archive.sync(); store.commit(findings, checkpoint,
                                                stream.snapshot(), counters)   <- one transaction
                                                source.committed(checkpoint)

The findings the analyzer hands out carry absolute counts and are upserted by id: replaying the
lines after the last checkpoint decides the same findings with the same counts, so a `kill -9`
loses nothing and duplicates nothing. When the store is down the loop retries the same commit
(with backoff) and pulls nothing more: receivers keep spooling, pulled sources simply wait.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from seawall import analyzers
from seawall.core import Finding
from seawall.core.errors import SeawallError
from seawall.service.archive import ArchiveWriter
from seawall.service.config import Limits
from seawall.service.sources.base import Source, analyzer_for
from seawall.service.store import Counters, Store, StoreUnavailable
from seawall.service.timeutil import now_iso

log = logging.getLogger("seawall.service")
NETWORK_FLUSH = 10.0


@dataclass(slots=True)
class PipelineStats:
    events: int = 0
    findings_changed: int = 0
    commits: int = 0
    commit_failures: int = 0
    store_down_since: float | None = None
    last_commit: float | None = None
    state: str = "starting"
    error: str | None = None
    latencies: list[float] = field(default_factory=list)  # seconds from poll to committed


_RULES: dict[str, Any] = {}
_RULES_LOCK = threading.Lock()


def _ruleset() -> Any:
    """The detection rules, loaded once per process and shared by every pipeline (read-only)."""
    with _RULES_LOCK:
        if "detect" not in _RULES:
            from seawall.detect import DetectOptions
            from seawall.detect.analyzer import load_ruleset

            _RULES["detect"] = load_ruleset(DetectOptions(source="k8s-audit", paths=[]))
        return _RULES["detect"]


def open_stream(
    fmt: str, window: float, snapshot: bytes | None, settings: dict[str, Any] | None = None
) -> Any:
    name = analyzer_for(fmt)
    if name == "network":
        from pathlib import Path

        analyzer = analyzers.get("network")
        if not isinstance(analyzer, analyzers.StreamingAnalyzer):
            raise SeawallError(f"format {fmt}: the network analyzer does not stream in this version")
        inventory = [Path(p) for p in (settings or {}).get("inventory", []) or []]
        return analyzer.open_stream(analyzer.options(source=fmt, inventory=inventory), state=snapshot)
    from seawall.detect import DetectOptions

    detect = analyzers.get_streaming("detect")
    options = DetectOptions(source=fmt, paths=[], window=window, workers=1, ruleset=_ruleset())
    return detect.open_stream(options, state=snapshot)


class Pipeline(threading.Thread):
    def __init__(
        self,
        store: Store,
        source: Source,
        archive: ArchiveWriter,
        limits: Limits,
        detect_window: float,
        wake: threading.Event | None = None,
    ) -> None:
        super().__init__(name=f"pipeline-{source.name}", daemon=True)
        self.store = store
        self.source = source
        self.archive = archive
        self.limits = limits
        self.detect_window = detect_window
        self.stop_event = threading.Event()
        self.wake = wake or threading.Event()
        self.stats = PipelineStats()
        self.ready = threading.Event()
        self._malformed_seen = 0
        self._flush_every: float | None = None
        self._flushed_at = 0.0

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()

    def _retry(self, what: str, fn: Any) -> Any:
        delay = 0.2
        while True:
            try:
                result = fn()
                if self.stats.store_down_since is not None:
                    log.warning("source %s: store reachable again", self.source.name)
                self.stats.store_down_since = None
                return result
            except StoreUnavailable as exc:
                self.stats.commit_failures += 1
                if self.stats.store_down_since is None:
                    self.stats.store_down_since = time.monotonic()
                    log.warning("source %s: %s failed (%s); retrying", self.source.name, what, exc)
                self.stats.error = f"store unavailable: {exc}"
                if self.stop_event.wait(delay):
                    raise
                delay = min(delay * 2, 5.0)

    def run(self) -> None:
        try:
            self._run()
        except StoreUnavailable:
            pass  # stopped while the store was down: the spool/offsets still hold everything
        except Exception as exc:  # a source must never take the service down
            self.stats.state = "failed"
            self.stats.error = f"{type(exc).__name__}: {exc}"[:500]
            log.error("source %s stopped: %s", self.source.name, self.stats.error)
            self.store.record_error(self.source.name, self.stats.error)
            self.ready.set()

    def _run(self) -> None:
        src = self.source
        state = self._retry("loading the checkpoint", lambda: self.store.load_source(src.name, src.type))
        checkpoint = state.checkpoint
        self.archive.restore(checkpoint.get("archive"))
        src.start(checkpoint.get("source", {}))
        stream = open_stream(src.format, self.detect_window, state.snapshot, getattr(src, "settings", None))
        # network findings are decided over aggregates at flush(): flushed every NETWORK_FLUSH seconds
        self._flush_every = NETWORK_FLUSH if analyzer_for(src.format) == "network" else None
        self._flushed_at = time.monotonic()
        self.stats.state = "running"
        self.ready.set()
        changed: dict[str, Finding] = {}
        counters = Counters()
        pending_cp: dict[str, Any] | None = None
        lines_since = 0
        started: float | None = None
        last_cp: dict[str, Any] | None = None
        unflushed = False
        try:
            while not self.stop_event.is_set():
                try:
                    pulled = src.poll(self.limits.batch_lines)
                except SeawallError as exc:
                    self.stats.error = exc.message
                    self.store.record_error(src.name, exc.message)
                    pulled = None
                    self.stop_event.wait(5.0)
                if pulled is not None:
                    if started is None:
                        started = time.monotonic()
                    for batch in pulled.batches:
                        for f in stream.feed(batch):
                            changed[f.id] = f
                    self.archive.write(pulled.batches)
                    counters.events_in += pulled.events
                    counters.malformed += pulled.malformed
                    counters.dropped += pulled.dropped
                    counters.last_event_at = now_iso()
                    lines_since += pulled.events
                    pending_cp = pulled.checkpoint
                due = started is not None and (
                    pulled is None
                    or lines_since >= self.limits.commit_lines
                    or time.monotonic() - started >= self.limits.commit_seconds
                )
                if pending_cp is not None and due:
                    self._commit(stream, list(changed.values()), pending_cp, counters, started)
                    changed, counters, pending_cp, lines_since, started = {}, Counters(), None, 0, None
                if pulled is not None:
                    last_cp = pulled.checkpoint
                    unflushed = True
                elif (
                    pending_cp is None
                    and unflushed
                    and last_cp is not None
                    and self._flush_every is not None
                    and time.monotonic() - self._flushed_at >= self._flush_every
                ):
                    # an idle flow source: its aggregates are flushed into findings all the same
                    self._commit(stream, [], last_cp, Counters(), None)
                    unflushed = False
                if pulled is None:
                    self.wake.wait(0.2)
                    self.wake.clear()
        finally:
            if pending_cp is not None and not self.stop_event.is_set():
                self._commit(stream, list(changed.values()), pending_cp, counters, started)
            stream.close()
            self.stats.state = "stopped"

    def _commit(
        self,
        stream: Any,
        changed: list[Finding],
        source_cp: dict[str, Any],
        counters: Counters,
        started: float | None,
    ) -> None:
        # malformed lines: the analyzer's own count (its report) -- taken from its statistics
        stats = getattr(stream, "stats", None)
        if stats is not None:
            seen = int(getattr(stats, "malformed", 0))
            counters.malformed += seen - self._malformed_seen
            self._malformed_seen = seen
        if self._flush_every is not None and time.monotonic() - self._flushed_at >= self._flush_every:
            changed = changed + list(stream.flush())
            self._flushed_at = time.monotonic()
        self.archive.sync()
        checkpoint = {"source": source_cp, "archive": self.archive.checkpoint()}
        snapshot = stream.snapshot()
        self._retry(
            "commit", lambda: self.store.commit(self.source.name, changed, checkpoint, snapshot, counters)
        )
        self.source.committed(source_cp)
        self.stats.commits += 1
        self.stats.events += counters.events_in
        self.stats.findings_changed += len(changed)
        self.stats.error = None
        self.stats.last_commit = time.time()
        if started is not None:
            self.stats.latencies.append(time.monotonic() - started)
            del self.stats.latencies[:-1000]
