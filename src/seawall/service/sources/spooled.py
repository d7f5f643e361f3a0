"""What the receivers share: requests parsed into event lines, spooled durably, read back in order.

Findings point at `receiver:SOURCE` and the number of the event in the source's stream (the
spool numbers events from 1 on, across restarts), so a finding's id is the same however the
service was stopped and started.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from seawall.analyzers import Batch
from seawall.service.config import SourceConfig
from seawall.service.sources.base import Context, Pulled
from seawall.service.spool import Position, Spool, SpoolFull, request_digest


class BadRequest(ValueError):
    """The request is not what this receiver takes (400, counted)."""


class SpooledReceiver:
    type = ""
    format = ""

    def __init__(self, cfg: SourceConfig, ctx: Context) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.ctx = ctx
        self.spool = Spool(
            ctx.data_dir / "spool" / cfg.name,
            max_bytes=int(cfg.get("spool_max_bytes", ctx.limits.spool_max_bytes)),
            dedupe_seconds=ctx.limits.dedupe_seconds,
        )
        self.position = Position()
        self.wake: threading.Event = ctx.wake or threading.Event()
        self.received = 0  # events acknowledged
        self.requests = 0
        self.bad_requests = 0
        self.committed_seq = 0
        # requests refused, by reason (bad_request, too_large, spool_full, disk_full,
        # unauthenticated, forbidden): shown per source in /api/v1/sources and /metrics
        self.refusals: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def refuse(self, reason: str) -> None:
        with self._count_lock:
            self.refusals[reason] += 1

    @property
    def origin(self) -> str:
        return f"receiver:{self.name}"

    def parse(self, body: bytes, content_type: str) -> list[bytes]:
        raise NotImplementedError

    def receive(self, body: bytes, content_type: str) -> tuple[int, str, int]:
        try:
            lines = self.parse(body, content_type)
        except BadRequest as exc:
            self.bad_requests += 1
            self.refuse("bad_request")
            return 400, str(exc), 0
        if len(lines) > self.ctx.limits.max_events_per_request:
            self.bad_requests += 1
            self.refuse("too_large")
            return 413, f"more than {self.ctx.limits.max_events_per_request} events in one request", 0
        self.requests += 1
        if not lines:
            return 200, "no events", 0
        try:
            _seq, duplicate = self.spool.append(lines, request_digest(body))
        except SpoolFull as exc:
            self.refuse("disk_full" if "disk full" in str(exc) else "spool_full")
            return 503, str(exc), 0
        if duplicate:
            return 200, "already received", 0
        self.received += len(lines)
        self.wake.set()
        return 200, "spooled", len(lines)

    # -- Source ---------------------------------------------------------------------------------
    def start(self, checkpoint: dict[str, Any]) -> None:
        self.position = Position.from_dict(checkpoint.get("spool"))
        self.committed_seq = int(checkpoint.get("next_seq", 1)) - 1
        self.spool.release(self.position)

    def poll(self, max_lines: int) -> Pulled | None:
        records, pos = self.spool.read(self.position, max_lines)
        if not records:
            return None
        self.position = pos
        batches: list[Batch] = []
        lines: list[bytes] = []
        # consecutive records are consecutive event numbers: one batch
        first = records[0].seq
        for rec in records:
            lines.extend(rec.lines)
        batches.append(Batch(lines=lines, origin=self.origin, first_lineno=first))
        next_seq = records[-1].seq + len(records[-1].lines)
        return Pulled(
            batches=batches,
            events=len(lines),
            lines=lines,
            checkpoint={"spool": pos.to_dict(), "next_seq": next_seq},
        )

    def committed(self, checkpoint: dict[str, Any]) -> None:
        self.committed_seq = int(checkpoint.get("next_seq", 1)) - 1
        self.spool.release(Position.from_dict(checkpoint.get("spool")))

    def health(self) -> dict[str, Any]:
        return {
            "lag_events": max(0, self.spool.next_seq - 1 - self.committed_seq),
            "spool_bytes": self.spool.total_bytes,
            "spool_pending_bytes": self.spool.pending_bytes,
            "received_events": self.received,
            "requests": self.requests,
            "bad_requests": self.bad_requests,
            "refused_requests": self.spool.refused,
            "duplicate_requests": self.spool.duplicates,
            "refused": dict(sorted(self.refusals.items())),
        }

    def close(self) -> None:
        self.spool.close()
