"""Streaming reading of plain or gzip'd text inputs, cut on line boundaries, and the walk over
the input files that every line reader shares.

Damage is not fatal: a gzip stream that is cut short or corrupt ends its file like its end (the
lines before the damage are analyzed) and leaves one warning; a file that cannot be read at all
is a warning too, and only when no file gave a record is the run an input error (exit 2).
Whole-document inputs (inventories, intel, CloudWatch JSON exports) go through the project's
one bounded-I/O module (`seawall.bounded`), capped at `max_bytes` after decompression.
"""

from __future__ import annotations

import gzip
import io
import mmap
import os
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, cast

from seawall.bounded import read_capped
from seawall.core.errors import InputError
from seawall.network.base import FlowBatch, SourceStats
from seawall.network.options import NetworkOptions

READ_SIZE = 4 << 20
GZIP_MAGIC = b"\x1f\x8b"


def raw_chunks(path: Path, on_damage: Callable[[str], None], size: int = READ_SIZE) -> Iterator[bytes]:
    """The bytes of a plain or gzip'd (multi-member) file in blocks of at most `size`. A corrupt or
    truncated gzip stream stops the file where the damage starts and calls `on_damage` once."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        gz = handle.read(2) == GZIP_MAGIC
        handle.seek(0)
        if not gz:
            while block := handle.read(size):
                yield block
            return
        decomp = zlib.decompressobj(wbits=47)
        produced = 0
        member_started = False
        while block := handle.read(READ_SIZE):
            data = block
            while data:
                member_started = True
                try:
                    out = decomp.decompress(data, size)
                except zlib.error as exc:
                    on_damage(f"corrupt gzip data after {produced:,} decompressed bytes ({exc}); "
                              "the records before it are analyzed")
                    return
                if out:
                    produced += len(out)
                    yield out
                if decomp.eof:
                    data = decomp.unused_data
                    decomp = zlib.decompressobj(wbits=47)  # a further gzip member
                    member_started = False
                    if not data.strip(b"\x00"):
                        break
                    continue
                data = decomp.unconsumed_tail
        if member_started and not decomp.eof:
            tail = decomp.flush()
            if tail:
                produced += len(tail)
                yield tail
            on_damage(f"truncated gzip stream (cut after {produced:,} decompressed bytes); "
                      "the records before the cut are analyzed" if produced
                      else "truncated gzip stream: nothing could be decompressed")


def _plain_line_chunks(handle: io.RawIOBase, path: Path, size: int) -> Iterator[bytes]:
    """`line_chunks` of a plain file: read into one reused buffer (no fresh allocation, hence no
    page faults, per block), each chunk copied out once."""
    buf = bytearray(max(size, 1))
    fill = 0
    while True:
        with memoryview(buf) as view:
            got = handle.readinto(view[fill:])
        if not got:
            if fill:
                yield bytes(buf[:fill])
            return
        fill += got
        if fill < len(buf):
            continue  # a short read: fill the buffer first
        cut = buf.rfind(b"\n", 0, fill) + 1
        if not cut:
            if fill >= 4 * size:
                raise InputError(f"{path}: no line break in {fill} bytes; not a text log")
            buf.extend(bytes(len(buf)))  # one line longer than the buffer: grow it (bounded above)
            continue
        yield bytes(buf[:cut])
        buf[: fill - cut] = buf[cut:fill]
        fill -= cut


def _mapped_line_chunks(view: mmap.mmap, path: Path, size: int, fd: int) -> Iterator[bytes]:
    """`line_chunks` of a plain file mapped in memory: each chunk is copied once, straight from
    the page cache (no read into a buffer first). A file that another process cut shorter than
    the mapping is an input error before its missing pages are touched (which would be SIGBUS)."""
    size = max(size, 1)
    start, end = 0, len(view)
    done = 0  # the mapped pages before this offset are released (they would count as resident)
    while start < end:
        if os.fstat(fd).st_size < end:
            raise InputError(f"{path}: the file was truncated while it was read")
        if start - done >= mmap.PAGESIZE:
            upto = start - start % mmap.PAGESIZE
            view.madvise(mmap.MADV_DONTNEED, done, upto - done)
            done = upto
        stop = start + size
        if stop >= end:
            yield view[start:end]
            return
        cut = view.rfind(b"\n", start, stop) + 1
        if not cut:  # one line longer than a chunk: up to four chunks' worth
            cut = view.rfind(b"\n", start, min(end, start + 4 * size)) + 1
            if not cut:
                if end - start <= 4 * size:
                    yield view[start:end]
                    return
                raise InputError(f"{path}: no line break in {4 * size} bytes; not a text log")
        yield view[start:cut]
        start = cut


def line_chunks(path: Path, size: int, on_damage: Callable[[str], None]) -> Iterator[bytes]:
    """Chunks of about `size` bytes that end on a newline (the last one may not)."""
    try:
        handle = path.open("rb", buffering=0)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        if handle.read(2) != GZIP_MAGIC:
            handle.seek(0)
            try:  # a regular file is mapped (what Polars does with a path); else read
                view = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # empty, a pipe, a device
                yield from _plain_line_chunks(handle, path, size)
                return
            with view:
                yield from _mapped_line_chunks(view, path, size, handle.fileno())
            return
    parts: list[bytes] = []
    total = 0
    for block in raw_chunks(path, on_damage, size):
        parts.append(block)
        total += len(block)
        if total < size:
            continue
        data = b"".join(parts) if len(parts) > 1 else parts[0]
        cut = data.rfind(b"\n")
        if cut < 0:
            if total > 4 * size:
                raise InputError(f"{path}: no line break in {total} bytes; not a text log")
            parts = [data]
            continue
        yield data if cut == len(data) - 1 else data[: cut + 1]
        rest = data[cut + 1 :]
        parts, total = ([rest], len(rest)) if rest else ([], 0)
    if total:
        yield b"".join(parts)


def read_bounded(path: Path, limit: int) -> bytes:
    """The whole (decompressed) input, refusing more than `limit` bytes (seawall.bounded)."""
    try:
        with path.open("rb") as handle:
            if handle.read(2) != GZIP_MAGIC:
                handle.seek(0)
                return read_capped(handle, limit, str(path))
            handle.seek(0)
            with gzip.GzipFile(fileobj=handle) as gz:
                return read_capped(cast(IO[bytes], gz), limit, f"{path} (decompressed)")
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(f"{path}: damaged gzip data ({exc or type(exc).__name__})") from exc
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


class LineFlowSource:
    """What the line-oriented readers share: options, counters, warnings, names seen, and the
    walk over the given files (each must exist); a subclass reads one file in `_read_file`.

    A file that cannot be read (damaged, not this format) is a warning and the walk goes on;
    when no file gave a single record and some could not be read, the run is an InputError."""

    name = ""
    file_kind = "file"  # for the error: "no such <file_kind>: PATH"

    def __init__(self, options: NetworkOptions) -> None:
        self.options = options
        self.stats = SourceStats()
        self.warnings: list[str] = []
        self.names: dict[str, set[str]] = {}
        self.unreadable: list[str] = []

    def read(self, paths: list[str]) -> Iterator[FlowBatch]:
        for raw in paths:
            if not Path(raw).is_file():
                raise InputError(f"no such {self.file_kind}: {raw}")
        for raw in paths:
            path = Path(raw)
            self.stats.files += 1
            before = self.stats.records
            try:
                yield from self._read_file(path)
            except InputError as exc:
                self.unreadable.append(str(exc))
                self.warnings.append(f"{exc} (file skipped)" if self.stats.records == before else str(exc))
        if self.unreadable and not self.stats.records:
            raise InputError(f"no flow record could be read: {'; '.join(self.unreadable)[:600]}")

    def damage(self, path: Path) -> Callable[[str], None]:
        """The callback that turns damage found while reading `path` into a warning."""

        def report(reason: str) -> None:
            self.warnings.append(f"{path}: {reason}")
            self.unreadable.append(f"{path}: {reason}")

        return report

    def _read_file(self, path: Path) -> Iterator[FlowBatch]:
        raise NotImplementedError
