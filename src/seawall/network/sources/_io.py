"""Bounded, streaming reading of plain or gzip'd text inputs, cut on line boundaries."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

from seawall.core.errors import InputError
from seawall.network.base import FlowBatch, SourceStats
from seawall.network.options import NetworkOptions

READ_SIZE = 4 << 20


def _raw_chunks(path: Path, size: int = READ_SIZE) -> Iterator[bytes]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        gz = handle.read(2) == b"\x1f\x8b"
        handle.seek(0)
        if not gz:
            while block := handle.read(size):
                yield block
            return
        decomp = zlib.decompressobj(wbits=47)
        while block := handle.read(READ_SIZE):
            data = block
            while True:
                try:
                    out = decomp.decompress(data, READ_SIZE)
                except zlib.error as exc:
                    raise InputError(f"{path}: corrupt gzip data ({exc})") from exc
                if out:
                    yield out
                if decomp.eof:
                    data = decomp.unused_data
                    decomp = zlib.decompressobj(wbits=47)  # a further gzip member
                    if not data.strip(b"\x00"):
                        break
                    continue
                data = decomp.unconsumed_tail
                if not data and len(out) < READ_SIZE:
                    break


def line_chunks(path: Path, size: int) -> Iterator[bytes]:
    """Chunks of about `size` bytes that end on a newline (the last one may not)."""
    parts: list[bytes] = []
    total = 0
    for block in _raw_chunks(path, size):
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
    """The whole (decompressed) input, refusing more than `limit` bytes."""
    out = bytearray()
    for block in _raw_chunks(path):
        out += block
        if len(out) > limit:
            raise InputError(f"{path}: larger than {limit} bytes; refusing to load it whole")
    return bytes(out)


class LineFlowSource:
    """What the line-oriented readers share: options, counters, warnings, names seen, and the
    walk over the given files (each must exist); a subclass reads one file in `_read_file`."""

    name = ""
    file_kind = "file"  # for the error: "no such <file_kind>: PATH"

    def __init__(self, options: NetworkOptions) -> None:
        self.options = options
        self.stats = SourceStats()
        self.warnings: list[str] = []
        self.names: dict[str, set[str]] = {}

    def read(self, paths: list[str]) -> Iterator[FlowBatch]:
        for raw in paths:
            path = Path(raw)
            if not path.is_file():
                raise InputError(f"no such {self.file_kind}: {raw}")
            self.stats.files += 1
            yield from self._read_file(path)

    def _read_file(self, path: Path) -> Iterator[FlowBatch]:
        raise NotImplementedError
