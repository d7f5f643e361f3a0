"""Bounded I/O, one module for every reader of hostile input (image, catalog, vulndb, telemetry,
network): whole reads refuse more than a cap, wrapped streams end at a cap, and every network
read has a size cap and an overall deadline (seawall.bounded.http).

    data = read_capped(stream, 4 << 20, "manifest")          # LimitExceeded past 4 MiB
    part = CappedReader(fh, length)                            # at most `length` bytes of fh
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

from seawall.core.errors import InputError, LimitExceeded

CHUNK = 1 << 20


def read_capped(stream: IO[bytes] | io.RawIOBase, limit: int, what: str) -> bytes:
    """Read a stream to its end, refusing more than `limit` bytes (LimitExceeded).

    Reads in chunks (never allocates the cap up front) and to the end of the stream, so that a
    digest-checking reader underneath verifies at EOF."""
    parts: list[bytes] = []
    total = 0
    while True:
        data = stream.read(min(CHUNK, limit + 1 - total))
        if not data:
            return b"".join(parts)
        parts.append(data)
        total += len(data)
        if total > limit:
            raise LimitExceeded(f"{what} is larger than the limit of {limit} bytes")


def read_capped_or_none(stream: IO[bytes], limit: int) -> bytes | None:
    """Like read_capped, but None when the stream holds more than `limit` bytes (the caller warns)."""
    try:
        return read_capped(stream, limit, "input")
    except LimitExceeded:
        return None


def read_file_capped(path: Path, limit: int, what: str | None = None) -> bytes:
    """A whole file, refusing one over `limit` bytes before reading it (and if it grows)."""
    try:
        with path.open("rb") as fh:
            return read_capped(fh, limit, what or str(path))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None


class CappedReader(io.RawIOBase):
    """At most `size` bytes of `inner`, from where it stands (a file may grow while it is read)."""

    def __init__(self, inner: IO[bytes] | io.RawIOBase, size: int) -> None:
        super().__init__()
        self._inner = inner
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer).cast("B")
        data = self._inner.read(min(len(view), self._left))
        if not data:
            return 0
        n = len(data)
        view[:n] = data
        self._left -= n
        return n
