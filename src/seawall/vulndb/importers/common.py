"""Bounded, hostile-input-safe readers shared by the importers."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

import orjson

from seawall.bounded import read_capped as read_bounded
from seawall.core.errors import InputError, LimitExceeded
from seawall.vulndb.base import FeedLimits


def read_head(path: Path, size: int = 4096) -> bytes:
    """The first bytes of a file, decompressed when gzip (bounded)."""
    with path.open("rb") as fh:
        head = fh.read(size)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as gz:
                return gz.read(size)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: broken gzip data: {exc}") from None
    return head


def check_file(path: Path, limits: FeedLimits) -> None:
    if path.is_symlink():
        raise InputError(f"{path}: is a symbolic link; pass the file itself")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise LimitExceeded(f"{path}: {size} bytes is over the {limits.max_file_bytes}-byte feed limit")


def open_text_stream(path: Path, limits: FeedLimits) -> IO[bytes]:
    """The file as a byte stream; gzip is decompressed transparently (bounded by the caller)."""
    check_file(path, limits)
    fh = path.open("rb")
    magic = fh.read(2)
    fh.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[return-value]
    return fh


def load_json_document(path: Path, limits: FeedLimits) -> Any:
    """A whole (bounded) JSON document: for feeds that are small files (Alpine secdb)."""
    with open_text_stream(path, limits) as fh:
        data = read_bounded(fh, limits.max_member_bytes, str(path))
    return parse_json(data, str(path))


def parse_json(data: bytes, what: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{what}: not valid JSON ({exc})") from None


def safe_member_name(name: str) -> bool:
    if not name or "\\" in name or "\x00" in name:
        return False
    p = PurePosixPath(name)
    return not p.is_absolute() and ".." not in p.parts


def iter_zip_json(path: Path, limits: FeedLimits) -> Iterator[tuple[str, Any]]:
    """(member name, parsed JSON) for every `.json` member, one at a time, every read bounded."""
    check_file(path, limits)
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a readable zip file ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise LimitExceeded(f"{path}: {len(infos)} entries is over the limit of {limits.max_members}")
        for info in infos:
            if not safe_member_name(info.filename):
                raise InputError(f"{path}: unsafe entry name {info.filename!r} (absolute or '..')")
        total = 0
        for info in infos:
            if info.is_dir() or not info.filename.endswith(".json"):
                continue
            if info.file_size > limits.max_member_bytes:
                raise LimitExceeded(f"{path}: entry {info.filename} declares {info.file_size} bytes, "
                                    f"over the {limits.max_member_bytes}-byte limit")
            try:
                with zf.open(info) as member:
                    data = read_bounded(member, limits.max_member_bytes, f"{path}:{info.filename}")
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError,
                    NotImplementedError, RuntimeError) as exc:
                raise InputError(f"{path}: entry {info.filename} is corrupt ({exc})") from None
            total += len(data)
            if total > limits.max_total_bytes:
                raise LimitExceeded(f"{path}: over {limits.max_total_bytes} uncompressed bytes")
            yield info.filename, parse_json(data, f"{path}:{info.filename}")


def iter_dir_json(root: Path, limits: FeedLimits) -> Iterator[tuple[str, Any]]:
    """Every `*.json` under a directory (symbolic links are not followed), sorted, bounded."""
    count = 0
    stack = [root]
    files: list[Path] = []
    while stack:
        current = stack.pop()
        for entry in sorted(current.iterdir()):
            if entry.is_symlink():
                continue
            if entry.is_dir():
                stack.append(entry)
            elif entry.name.endswith(".json") and entry.is_file():
                files.append(entry)
                count += 1
                if count > limits.max_members:
                    raise LimitExceeded(f"{root}: more than {limits.max_members} JSON files")
    for file in sorted(files):
        size = file.stat().st_size
        if size > limits.max_member_bytes:
            raise LimitExceeded(f"{file}: {size} bytes is over the {limits.max_member_bytes}-byte limit")
        with file.open("rb") as fh:
            data = read_bounded(fh, limits.max_member_bytes, str(file))
        yield str(file.relative_to(root)), parse_json(data, str(file))


class JsonStream:
    """A top-level JSON object read as a stream: values are decoded one at a time; only the
    current value (bounded by max_member_bytes) and one read chunk are held in memory."""

    def __init__(self, stream: IO[bytes], what: str, limits: FeedLimits, chunk: int = 1 << 20) -> None:
        self.decoder = json.JSONDecoder()
        self.reader = io.TextIOWrapper(stream, encoding="utf-8", errors="strict")
        self.what = what
        self.limits = limits
        self.chunk = chunk
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.total = 0

    def _more(self) -> bool:
        if self.eof:
            return False
        try:
            piece = self.reader.read(self.chunk)
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            raise InputError(f"{self.what}: unreadable ({exc})") from None
        if not piece:
            self.eof = True
            return False
        self.total += len(piece)
        if self.total > self.limits.max_total_bytes:
            raise LimitExceeded(f"{self.what}: over {self.limits.max_total_bytes} bytes")
        self.buf = self.buf[self.pos:] + piece
        self.pos = 0
        return True

    def peek(self) -> str:
        """The next non-blank character ("" at the end)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def expect(self, chars: str, what: str) -> str:
        ch = self.peek()
        if not ch or ch not in chars:
            raise InputError(f"{self.what}: not valid JSON (expected {what})")
        self.pos += 1
        return ch

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.buf) - self.pos > self.limits.max_member_bytes:
                    raise LimitExceeded(
                        f"{self.what}: one entry is over {self.limits.max_member_bytes} bytes") from None
                if not self._more():
                    raise InputError(f"{self.what}: not valid JSON ({exc.msg} at char {exc.pos})") from None
                continue
            # a number at the very end of the buffer might continue in the next chunk
            if end >= len(self.buf) and not self.eof and self._more():
                continue
            self.pos = end
            return value

    def members(self) -> Iterator[str]:
        """The keys of the top-level object; the caller reads each value (`value()` or `items()`)."""
        if self.peek() != "{":
            raise InputError(f"{self.what}: not a JSON object")
        self.pos += 1
        first = True
        while True:
            if self.peek() == "}":
                self.pos += 1
                return
            if not first:
                self.expect(",", "',' or '}'")
            first = False
            key = self.value()
            if not isinstance(key, str):
                raise InputError(f"{self.what}: not valid JSON (object key is not a string)")
            self.expect(":", "':'")
            yield key

    def items(self) -> Iterator[Any]:
        """The elements of the array that comes next, one at a time."""
        self.expect("[", "a list")
        first = True
        while True:
            if self.peek() == "]":
                self.pos += 1
                return
            if not first:
                self.expect(",", "',' or ']'")
            first = False
            yield self.value()


def iter_json_object_items(stream: IO[bytes], what: str, limits: FeedLimits,
                           chunk: int = 1 << 20) -> Iterator[tuple[str, Any]]:
    """Stream the (key, value) pairs of one big top-level JSON object without loading it whole."""
    js = JsonStream(stream, what, limits, chunk)
    for key in js.members():
        yield key, js.value()


def iter_json_array_at(stream: IO[bytes], key: str, what: str, limits: FeedLimits,
                       chunk: int = 1 << 20) -> Iterator[Any]:
    """The elements of the list at `key` of a top-level object (NVD's `vulnerabilities`), one at
    a time; the other top-level values are read and dropped (each bounded)."""
    js = JsonStream(stream, what, limits, chunk)
    found = False
    for name in js.members():
        if name == key and js.peek() == "[":
            found = True
            yield from js.items()
        else:
            js.value()
    if not found:
        raise InputError(f"{what}: no {key!r} list")
