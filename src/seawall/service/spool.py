"""The receivers' spool: a request is acknowledged only once its events are on disk (fsync).

One spool per receiving source, `DATA_DIR/spool/SOURCE/`, of segment files named by the number
of their first event. A record is one request's events as JSON lines:

    magic "SWR1" | events u32 | first event number u64 | payload bytes u32 | sha256 of the request | crc32
    payload

Appends are group-committed: one fsync covers every record written while the previous fsync ran,
so many concurrent requests cost one disk flush. A record torn by a crash (never acknowledged)
is cut off on start. The pipeline reads records up to what is synced, and after it has committed
them to the store it `release`s them; released segments are kept `dedupe_seconds` more so that a
request retried after a lost acknowledgement (the same bytes) is recognised and not spooled twice.
A spool over `max_bytes`, or a disk that is full, refuses the request (the receiver answers 503,
and the sender retries): nothing is dropped silently.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import struct
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"SWR1"
HEADER = struct.Struct(">4sIQI32sI")  # magic, events, first seq, payload length, sha256, crc32
SEGMENT_BYTES = 64 * 1024 * 1024


class SpoolFull(Exception):
    """The spool is at its size limit or the disk is full: refuse (503), the sender retries."""


@dataclass(slots=True)
class Record:
    seq: int  # number of the first event (1-based, per source)
    lines: list[bytes]
    segment: int
    end: int  # byte offset after this record in its segment


@dataclass(slots=True)
class Position:
    """Where the pipeline is: the segment (by its first event number) and the offset in it."""

    segment: int = 0
    offset: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"segment": self.segment, "offset": self.offset}

    @classmethod
    def from_dict(cls, d: dict[str, int] | None) -> Position:
        if not d:
            return cls()
        return cls(int(d.get("segment", 0)), int(d.get("offset", 0)))


def _seg_name(first: int) -> str:
    return f"{first:020d}.seg"


def _crc(header_wo_crc: bytes, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(header_wo_crc)) & 0xFFFFFFFF


def _scan(path: Path) -> tuple[list[tuple[int, int, bytes, int]], int]:
    """Valid records of a segment as (seq, events, sha256, end offset), and the valid length."""
    out: list[tuple[int, int, bytes, int]] = []
    data = path.read_bytes()
    pos = 0
    while pos + HEADER.size <= len(data):
        magic, n, seq, length, digest, crc = HEADER.unpack_from(data, pos)
        end = pos + HEADER.size + length
        if magic != MAGIC or end > len(data):
            break
        if _crc(data[pos : pos + HEADER.size - 4], data[pos + HEADER.size : end]) != crc:
            break
        out.append((seq, n, digest, end))
        pos = end
    return out, pos


class Spool:
    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        dedupe_seconds: float = 900.0,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.dedupe_seconds = dedupe_seconds
        # small enough that committed segments can be deleted well before the limit
        self.segment_bytes = max(64 * 1024, min(segment_bytes, max_bytes // 8))
        self.lock = threading.Lock()
        self.sync_lock = threading.Lock()
        self.written = 0  # records written (tickets)
        self.synced = 0  # records covered by an fsync
        self.recent: dict[bytes, int] = {}  # request sha256 -> segment, for retried requests
        self.sizes: dict[int, int] = {}  # segment -> bytes
        self.synced_size: dict[int, int] = {}  # segment -> bytes readable by the pipeline
        self.released = Position()
        self.released_at: dict[int, float] = {}  # segment -> when it was fully released
        self.next_seq = 1
        self.duplicates = 0
        self.refused = 0
        self._open()

    # -- start ---------------------------------------------------------------------------------
    def _open(self) -> None:
        segments = sorted(int(p.name[:-4]) for p in self.dir.glob("*.seg") if p.name[:-4].isdigit())
        for seg in segments:
            path = self.dir / _seg_name(seg)
            records, valid = _scan(path)
            if valid != path.stat().st_size:  # a torn tail: never acknowledged
                with path.open("r+b") as fh:
                    fh.truncate(valid)
                    os.fsync(fh.fileno())
            self.sizes[seg] = valid
            self.synced_size[seg] = valid
            for seq, n, digest, _ in records:
                self.recent[digest] = seg
                self.next_seq = max(self.next_seq, seq + n)
        if not segments:
            self._new_segment()
        else:
            self.current = segments[-1]
            self.fh = open(self.dir / _seg_name(self.current), "ab")  # noqa: SIM115 (kept open)

    def _new_segment(self) -> None:
        self.current = self.next_seq
        path = self.dir / _seg_name(self.current)
        self.fh = open(path, "ab")  # noqa: SIM115 (kept open)
        self.sizes.setdefault(self.current, 0)
        self.synced_size.setdefault(self.current, 0)
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    # -- receiving -----------------------------------------------------------------------------
    @property
    def pending_bytes(self) -> int:
        """Bytes spooled and not yet released by the pipeline."""
        total = 0
        for seg, size in self.sizes.items():
            if seg > self.released.segment:
                total += size
            elif seg == self.released.segment:
                total += size - self.released.offset
        return total

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())

    def append(self, lines: Sequence[bytes], digest: bytes) -> tuple[int, bool]:
        """Spool one request's events durably. Returns (first event number, duplicate?)."""
        with self.lock:
            if digest in self.recent:
                self.duplicates += 1
                return -1, True
            payload = b"\n".join(lines)
            size = HEADER.size + len(payload)
            if self.pending_bytes + size > self.max_bytes:
                self.refused += 1
                raise SpoolFull(
                    f"spool {self.dir.name} is full ({self.pending_bytes} bytes waiting for the store, "
                    f"limit {self.max_bytes})"
                )
            if self.total_bytes + size > self.max_bytes:
                self._purge(force=True)  # retained (already committed) segments go early
            if self.sizes[self.current] >= self.segment_bytes:
                self._rotate()
            seq = self.next_seq
            head = HEADER.pack(MAGIC, len(lines), seq, len(payload), digest, 0)[:-4]
            record = head + struct.pack(">I", _crc(head, payload)) + payload
            before = self.sizes[self.current]
            try:
                self.fh.write(record)
                self.fh.flush()
            except OSError as exc:
                self._undo(before)
                self.refused += 1
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise SpoolFull(f"spool {self.dir.name}: disk full") from None
                raise
            self.sizes[self.current] = before + len(record)
            self.next_seq += len(lines)
            self.recent[digest] = self.current
            self.written += 1
            ticket = self.written
            segment, end = self.current, self.sizes[self.current]
        self._sync(ticket, segment, end)
        return seq, False

    def _undo(self, size: int) -> None:
        try:
            self.fh.truncate(size)
            self.fh.seek(size)
        except OSError:
            pass

    def _sync(self, ticket: int, segment: int, end: int) -> None:
        with self.sync_lock:
            if self.synced >= ticket:
                return
            with self.lock:
                upto, seg, size, fh = self.written, self.current, self.sizes[self.current], self.fh
            try:
                os.fsync(fh.fileno())
            except OSError as exc:
                raise SpoolFull(f"spool {self.dir.name}: cannot sync: {exc.strerror}") from None
            self.synced = upto
            self.synced_size[seg] = max(self.synced_size.get(seg, 0), size)
            if seg != segment:  # (rotated meanwhile: the old segment was synced by _rotate)
                self.synced_size[segment] = max(self.synced_size.get(segment, 0), end)

    def _rotate(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.synced_size[self.current] = self.sizes[self.current]
        self.fh.close()
        self._new_segment()

    # -- the pipeline ------------------------------------------------------------------------
    def read(self, pos: Position, max_events: int) -> tuple[list[Record], Position]:
        """Synced records from `pos`, up to about `max_events` events; and the position after them."""
        out: list[Record] = []
        events = 0
        with self.lock:
            segments = sorted(self.synced_size)
            synced = dict(self.synced_size)
        if pos.segment == 0 and segments:
            pos = Position(segments[0], 0)
        for seg in segments:
            if seg < pos.segment:
                continue
            offset = pos.offset if seg == pos.segment else 0
            limit = synced[seg]
            if offset >= limit:
                if seg != segments[-1] and seg == pos.segment:
                    pos = Position(segments[segments.index(seg) + 1], 0)
                continue
            with open(self.dir / _seg_name(seg), "rb") as fh:
                fh.seek(offset)
                data = fh.read(limit - offset)
            p = 0
            while p + HEADER.size <= len(data):
                _magic, n, seq, length, _digest, _crc32 = HEADER.unpack_from(data, p)
                payload = data[p + HEADER.size : p + HEADER.size + length]
                p += HEADER.size + length
                out.append(Record(seq, payload.split(b"\n") if payload else [], seg, offset + p))
                events += n
                pos = Position(seg, offset + p)
                if events >= max_events:
                    return out, pos
        return out, pos

    def release(self, pos: Position) -> None:
        """The pipeline committed everything before `pos`: segments before it may go."""
        with self.lock:
            now = time.monotonic()
            for seg in self.sizes:
                if seg < pos.segment and seg not in self.released_at:
                    self.released_at[seg] = now
            self.released = pos
            self._purge(force=False)

    def _purge(self, force: bool) -> None:
        """Delete released segments (after dedupe_seconds, or at once when `force`)."""
        now = time.monotonic()
        for seg in sorted(self.released_at):
            if seg == self.current:
                continue
            if not force and now - self.released_at[seg] < self.dedupe_seconds:
                continue
            with contextlib.suppress(FileNotFoundError):
                (self.dir / _seg_name(seg)).unlink()
            self.sizes.pop(seg, None)
            self.synced_size.pop(seg, None)
            del self.released_at[seg]
            self.recent = {d: s for d, s in self.recent.items() if s != seg}

    def close(self) -> None:
        with self.lock:
            try:
                self.fh.flush()
                os.fsync(self.fh.fileno())
            except (OSError, ValueError):
                pass
            self.fh.close()


def request_digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()
