"""Inputs -> bounded batches of lines: files, gzip, directories, stdin, and `--follow` tailing.

Lines longer than the limit are skipped (counted) without ever being held in memory whole;
a truncated gzip keeps what was read before the damage; whole-file JSON documents
(CloudTrail `{"Records": [...]}`, a Kubernetes `EventList`, pretty-printed JSON) are
handed to the reader to split into one line per event.
"""

from __future__ import annotations

import gzip
import io
import os
import queue
import select
import stat
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from seawall.core.errors import InputError
from seawall.telemetry.base import ReadStats

GZIP_MAGIC = b"\x1f\x8b"
FLUSH_SECONDS = 0.25  # lines from a pipe wait at most this long for more to batch with
DAMAGE = (EOFError, gzip.BadGzipFile, zlib.error, OSError)  # what reading a damaged input raises


# a reader's record-by-record reading of a whole-file document: (first bytes, read more, stats,
# origin, largest record) -> one JSON line per record
StreamDocument = Callable[[bytes, Callable[[], bytes], ReadStats, str, int], Iterator[bytes]]


@dataclass(frozen=True, slots=True)
class LineLimits:
    max_line: int = 4 << 20  # an audit event with a 1 MiB ConfigMap still fits
    batch_bytes: int = 32 << 20
    batch_lines: int = 50_000
    max_document: int = 512 << 20  # a whole-file JSON document (CloudTrail Records)
    read_size: int = 1 << 20


@dataclass(slots=True)
class LineChunk:
    origin: str
    first_lineno: int
    lines: list[bytes]
    document: bool = False  # True: lines are records of one JSON document (lineno = record number)


def expand_inputs(paths: list[str], unreadable: list[str] | None = None) -> list[str]:
    """Files as given, directories walked (sorted, regular files, hidden ones skipped), '-' = stdin.
    A directory that cannot be listed is added to `unreadable` ("DIR: reason"), never silently
    left out."""
    out: list[str] = []

    def failed(exc: OSError) -> None:
        if unreadable is not None:
            unreadable.append(f"{exc.filename or '?'}: cannot read the directory: {exc.strerror or exc}")

    for raw in paths:
        if raw == "-":
            out.append(raw)
            continue
        path = Path(raw)
        try:
            is_dir, exists = path.is_dir(), path.exists()
        except OSError as exc:  # (a parent directory that cannot be entered)
            exc.filename = exc.filename or raw
            failed(exc)
            continue
        if is_dir:
            for root, dirs, files in os.walk(path, onerror=failed):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    full = Path(root, name)
                    if not name.startswith(".") and full.is_file() and not full.is_symlink():
                        out.append(str(full))
        elif exists:
            out.append(raw)
        else:
            raise InputError(f"{raw}: no such file or directory")
    return out


def _open(origin: str) -> BinaryIO:
    if origin == "-":
        raw: BinaryIO = sys.stdin.buffer
    else:
        raw = open(origin, "rb")  # noqa: SIM115 - closed by the caller
    peek = getattr(raw, "peek", None)
    head = peek(2)[:2] if callable(peek) else b""
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


def _read(stream: BinaryIO, size: int) -> bytes:
    read1 = getattr(stream, "read1", None)
    if callable(read1):
        data: bytes = read1(size)
        return data
    return stream.read(size)


def iter_chunks(
    origin: str,
    limits: LineLimits,
    stats: ReadStats,
    split_document: Callable[[bytes], list[bytes] | None],
    follow: bool = False,
    idle_timeout: float | None = None,
    stop: Callable[[], bool] | None = None,
    stream_document: StreamDocument | None = None,
) -> Iterator[LineChunk]:
    """Yield batches of complete lines from one input; errors become warnings in `stats`."""
    try:
        stream = _open(origin)
    except OSError as exc:
        stats.unreadable_inputs += 1
        stats.warnings.append(f"{origin}: cannot open: {exc.strerror or exc}")
        return
    stats.inputs += 1
    try:
        yield from stream_chunks(
            stream,
            origin,
            limits,
            stats,
            split_document,
            follow,
            idle_timeout,
            stop,
            stream_document=stream_document,
        )
    except DAMAGE as exc:
        stats.warnings.append(
            f"{origin}: input damaged ({type(exc).__name__}: {exc}); kept what was read before the damage"
        )
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def is_document_head(first: bytes) -> bool:
    """Does an input starting with these bytes hold one whole-file JSON document (CloudTrail
    Records, an EventList, pretty-printed JSON) rather than JSON lines?"""
    head = first.lstrip()[:4096]
    first_line, _, rest = head.partition(b"\n")
    first_line = first_line.strip()
    second = rest.lstrip()[:1]
    return head[:1] in (b"{", b"[") and (
        first_line in (b"{", b"[")
        # an object that goes on over the next line (`{"eventVersion": "1.08",` then `"eventTime"...`);
        # a cut first line of JSON lines is followed by a line that starts a new object
        or (first_line[-1:] not in (b"}", b"]") and second not in (b"", b"{", b"["))
        or b'"Records"' in head[:64]
        or b'"EventList"' in head[:512]
        or b'"events"' in head[:64]
        or b'"Events"' in head[:64]
        or head[:1] == b"["
    )


def _caught_up(stream: BinaryIO) -> Callable[[float], bool]:
    """For a pipe, socket or terminal (also under gzip): has it given nothing more by the
    deadline (a monotonic time)? Waits until then at most; a fast producer's next bytes come
    long before. Always False for regular files and in-memory inputs, read to their end."""
    try:
        fd = stream.fileno()
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except (OSError, ValueError, io.UnsupportedOperation):
        return lambda deadline: False
    if regular:
        return lambda deadline: False

    def caught_up(deadline: float) -> bool:
        try:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        except (OSError, ValueError):
            return True
        return not ready

    return caught_up


def stream_chunks(
    stream: BinaryIO,
    origin: str,
    limits: LineLimits,
    stats: ReadStats,
    split_document: Callable[[bytes], list[bytes] | None],
    follow: bool,
    idle_timeout: float | None,
    stop: Callable[[], bool] | None,
    documents: bool = True,
    stream_document: StreamDocument | None = None,
) -> Iterator[LineChunk]:
    damage: list[BaseException] = []

    def read() -> bytes:
        # damage ends the input like its end: the lines read before it are still yielded
        # (the error is raised after them)
        if damage:
            return b""
        try:
            return _read(stream, limits.read_size)
        except DAMAGE as exc:
            damage.append(exc)
            return b""

    def stopped() -> bool:  # (a damaged input is not followed any further)
        return bool(damage) or (stop is not None and stop())

    first = read()
    if documents and stream_document is not None and is_document_head(first):
        # record by record: memory bounded by the largest record, not by the file
        batch: list[bytes] = []
        size, start = 0, 1
        for n, record in enumerate(stream_document(first, read, stats, origin, limits.max_line)):
            batch.append(record)
            size += len(record)
            if len(batch) >= limits.batch_lines or size >= limits.batch_bytes:
                yield LineChunk(origin, start, batch, document=True)
                batch, size, start = [], 0, n + 2
        stats.lines += 1
        if batch:
            yield LineChunk(origin, start, batch, document=True)
        if damage:
            raise damage[0]
        return
    if documents and is_document_head(first):
        doc = bytearray(first)
        while True:
            more = stream.read(limits.read_size)
            if not more:
                break
            doc += more
            if len(doc) > limits.max_document:
                stats.warnings.append(
                    f"{origin}: JSON document larger than {limits.max_document >> 20} MiB; skipped"
                )
                stats.malformed += 1
                return
        records = split_document(bytes(doc))
        if records is not None:
            stats.lines += 1
            for i in range(0, len(records), limits.batch_lines):
                yield LineChunk(origin, i + 1, records[i : i + limits.batch_lines], document=True)
            return
        first = bytes(doc)  # not a document after all: read it as lines

    lineno = 1
    carry = b""
    skipping = False
    pending: list[bytes] = []
    pending_start = 1
    pending_bytes = 0
    caught_up = _caught_up(stream)
    pending_since = 0.0
    data = first
    idle_since: float | None = None
    while True:
        if not data:
            if pending:
                yield LineChunk(origin, pending_start, pending)
                pending, pending_bytes = [], 0
                pending_start = lineno
            if not follow or stopped():
                break
            now = time.monotonic()
            idle_since = idle_since or now
            if idle_timeout is not None and now - idle_since >= idle_timeout:
                break
            time.sleep(0.2)
            data = read()
            continue
        idle_since = None
        parts = data.split(b"\n")
        if skipping:
            if len(parts) == 1:
                data = read()
                continue
            parts[0] = b""  # placeholder keeps line numbers contiguous
            skipping = False
        else:
            parts[0] = carry + parts[0]
        carry = parts.pop()
        if len(carry) > limits.max_line:
            stats.overlong += 1
            carry = b""
            skipping = True
        if parts:
            long_ones = (
                [i for i, p in enumerate(parts) if len(p) > limits.max_line]
                if len(data) > limits.max_line
                else []
            )
            for i in long_ones:
                stats.overlong += 1
                parts[i] = b""
            if not pending:
                pending_since = time.monotonic()
            pending.extend(parts)
            pending_bytes += len(data)
            lineno += len(parts)
        # a short read: a followed file, or a pipe with nothing more for a moment, has the
        # lines handed on; otherwise (gzip, a pipe from a fast producer, which give a little at
        # a time) batching goes on -- one batch per read would cost far more than the lines
        short = len(data) < limits.read_size
        flush = short and (follow or caught_up(pending_since + FLUSH_SECONDS))
        if pending and (flush or pending_bytes >= limits.batch_bytes or len(pending) >= limits.batch_lines):
            yield LineChunk(origin, pending_start, pending)
            pending, pending_bytes = [], 0
            pending_start = lineno
        data = read()
    if carry and not skipping:
        yield LineChunk(origin, lineno, [carry])  # last line without a newline
    if damage:
        raise damage[0]


T = TypeVar("T")
_DONE = object()


def read_ahead(items: Iterator[T], depth: int = 1, stop: threading.Event | None = None) -> Iterator[T]:
    """Run `items` in a thread, at most `depth` items ahead of the consumer (bounded memory):
    reading and splitting lines overlaps with the consumer's work, which releases the GIL
    while Polars runs. Exceptions of the producer are raised in the consumer; a consumer that
    stops early (an error, Ctrl-C) sets `stop`, which `items` should also watch when it can
    wait for long (`iter_chunks(..., stop=stop.is_set)` while following a file)."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = stop or threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer
            put(_Failure(exc))
        finally:
            close = getattr(items, "close", None)
            if callable(close):
                close()  # a generator's cleanup (closing its input) runs in its own thread

    thread = threading.Thread(target=produce, name="seawall-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item = q.get(timeout=0.2)  # a plain get() would not let Ctrl-C through
            except queue.Empty:
                continue
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=5)


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
