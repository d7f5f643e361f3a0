"""Streaming helpers: digest-verifying readers, bounded readers and layer decompression.

Every blob is hashed as it is read; the digest is compared when the stream reaches its end
(`IntegrityError` on mismatch). Decompression is detected by magic bytes (gzip, zstd, plain
tar) and every decompressed byte is counted against a shared budget (`LimitExceeded`).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import tarfile
import zlib
from pathlib import Path
from typing import IO, Any, cast

import zstandard

from seawall.core.errors import InputError, IntegrityError, LimitExceeded

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
CHUNK = 1024 * 1024

# Layer media types we know how to read (compression is still detected by magic bytes).
LAYER_MEDIA_TYPES = frozenset({
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
})


def check_layer_media_type(media_type: str | None, where: str) -> None:
    if media_type is not None and media_type not in LAYER_MEDIA_TYPES:
        raise InputError(f"{where}: unsupported layer media type {media_type!r} "
                         "(not a container image layer)")


def parse_digest(digest: str, where: str = "digest") -> str:
    """Return the hex part of a `sha256:HEX` digest, or raise InputError."""
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256":
        raise InputError(f"{where}: unsupported digest algorithm in {digest[:80]!r} (only sha256)")
    if len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise InputError(f"{where}: malformed digest {digest[:80]!r}")
    return hexpart


def inside(path: str) -> str | None:
    """`path` with `.`, empty and `..` parts resolved ("a/./b/../c" -> "a/c"), or None when a `..`
    climbs above its start. Member names of layers and archives are checked through this."""
    parts: list[str] = []
    for p in path.split("/"):
        if p in ("", "."):
            continue
        if p != "..":
            parts.append(p)
        elif parts:
            parts.pop()
        else:
            return None
    return "/".join(parts)


def sha256_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class HashingReader(io.RawIOBase):
    """Reads `inner`, hashing every byte; at end of stream the digest (and size) must match."""

    def __init__(self, inner: IO[bytes], expected_digest: str | None, what: str,
                 expected_size: int | None = None, close_inner: bool = True) -> None:
        super().__init__()
        if expected_digest is not None:
            parse_digest(expected_digest, what)
        self._inner = inner
        self._expected = expected_digest
        self._expected_size = expected_size
        self._what = what
        self._hash = hashlib.sha256()
        self._size = 0
        self._done = False
        self._close_inner = close_inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._done:
            return 0
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        if not data:
            self._finish()
            return 0
        n = len(data)
        view[:n] = data
        self._hash.update(data)
        self._size += n
        if self._expected_size is not None and self._size > self._expected_size:
            raise IntegrityError(f"{self._what}: more bytes than the {self._expected_size} declared")
        return n

    def _finish(self) -> None:
        self._done = True
        actual = "sha256:" + self._hash.hexdigest()
        if self._expected is not None and actual != self._expected:
            raise IntegrityError(f"{self._what}: digest mismatch (expected {self._expected}, got {actual})")
        if self._expected_size is not None and self._size != self._expected_size:
            raise IntegrityError(
                f"{self._what}: size mismatch (expected {self._expected_size} bytes, got {self._size})")

    def close(self) -> None:
        if self._close_inner and not self.closed:
            self._inner.close()
        super().close()


class GzipReader(io.RawIOBase):
    """gzip (multi-member) decompression straight on zlib: bounded output per call, trailer CRC and
    size checked by zlib, truncation and trailing garbage reported (InputError by CountingReader)."""

    def __init__(self, inner: IO[bytes]) -> None:
        super().__init__()
        self._inner = inner
        self._dec: Any = None  # the current member's decompressor; None between members
        self._pending = b""  # input read but not yet given to a decompressor

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while True:
            dec = self._dec
            if dec is None:  # the start, or the end of a member: another one, zero padding, or the end
                rest = self._pending or self._inner.read(CHUNK)
                self._pending = b""
                if not rest:
                    return 0
                if len(rest) < 2:
                    rest += self._inner.read(CHUNK)
                if rest[:2] != GZIP_MAGIC:
                    if rest.strip(b"\0"):
                        raise gzip.BadGzipFile("trailing garbage after the gzip stream")
                    continue  # zero padding, as gzip(1) tolerates
                self._dec = dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._pending = rest
            data = dec.unconsumed_tail or self._pending
            self._pending = b""
            if not data:
                data = self._inner.read(CHUNK)
                if not data:
                    raise EOFError("compressed stream ended before the end-of-stream marker")
            out = dec.decompress(data, len(view))
            if dec.eof:
                self._pending = dec.unused_data
                self._dec = None
            if out:
                n = len(out)
                view[:n] = out
                return n


class ZstdFrames:
    """Walks the zstd frame structure of the compressed bytes (headers and block sizes only, no
    decompression), so that a stream cut short or followed by garbage is noticed: python-zstandard's
    stream reader ends quietly on a truncated frame."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0  # content bytes to pass over before the next header
        self._state = "magic"
        self._checksum = False
        self._fhd = 0

    def feed(self, data: bytes) -> None:
        pos, n = 0, len(data)
        while pos < n:
            if self._skip:
                step = min(self._skip, n - pos)
                self._skip -= step
                pos += step
                continue
            need = self._need()
            take = min(need - len(self._buf), n - pos)
            self._buf += data[pos:pos + take]
            pos += take
            if len(self._buf) == need:
                self._advance()

    def _need(self) -> int:
        if self._state in ("magic", "skippable"):
            return 4
        if self._state == "fhd":
            return 1
        if self._state == "header":
            fhd = self._fhd
            single = fhd >> 5 & 1
            fcs = (1 if single else 0, 2, 4, 8)[fhd >> 6]
            return (0 if single else 1) + (0, 1, 2, 4)[fhd & 3] + fcs
        return 3  # block header

    def _advance(self) -> None:
        buf = bytes(self._buf)
        self._buf.clear()
        if self._state == "magic":
            magic = int.from_bytes(buf, "little")
            if magic == 0xFD2FB528:
                self._state = "fhd"
            elif magic & 0xFFFFFFF0 == 0x184D2A50:
                self._state = "skippable"
            else:
                raise EOFError("zstd stream: bad frame magic (trailing garbage?)")
        elif self._state == "skippable":
            self._skip = int.from_bytes(buf, "little")
            self._state = "magic"
        elif self._state == "fhd":
            self._fhd = buf[0]
            if buf[0] & 0x08:
                raise EOFError("zstd stream: reserved bit set in a frame header")
            self._checksum = bool(buf[0] & 0x04)
            self._state = "header"  # never empty: a window byte or a content size follows
        elif self._state == "header":
            self._state = "block"
        else:  # block header
            header = int.from_bytes(buf, "little")
            last, btype, size = header & 1, header >> 1 & 3, header >> 3
            if btype == 3:
                raise EOFError("zstd stream: reserved block type")
            self._skip = 1 if btype == 1 else size
            if last:
                self._skip += 4 if self._checksum else 0
                self._state = "magic"

    def complete(self) -> bool:
        return self._state == "magic" and not self._buf and not self._skip


class _Tee(io.RawIOBase):
    def __init__(self, inner: IO[bytes], frames: ZstdFrames) -> None:
        super().__init__()
        self._inner = inner
        self._frames = frames

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        n = len(data)
        view[:n] = data
        if n:
            self._frames.feed(data)
        return n


class ZstdReader(io.RawIOBase):
    """zstd frames (bounded output per read) with truncation detected at the end."""

    def __init__(self, inner: IO[bytes]) -> None:
        super().__init__()
        self._frames = ZstdFrames()
        self._tee = _Tee(inner, self._frames)
        self._reader = zstandard.ZstdDecompressor().stream_reader(cast(IO[bytes], self._tee), read_size=CHUNK,
                                                                   read_across_frames=True, closefd=False)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._reader.read(len(view))
        if not data:
            while self._tee.read(CHUNK):  # anything left after the last frame is checked too
                pass
            if not self._frames.complete():
                raise EOFError("zstd stream ended in the middle of a frame")
            return 0
        n = len(data)
        view[:n] = data
        return n


class SizeBudget:
    """A count of uncompressed bytes: one shared by all layers of one walk (the image), and one per
    layer (bounded relative to its compressed size) that also charges the image's."""

    def __init__(self, limit: int, parent: SizeBudget | None = None, message: str | None = None) -> None:
        self.limit = limit
        self.used = 0
        self.parent = parent
        self.message = message or (f"image is larger than the limit of {limit} uncompressed bytes "
                                   "(max_total_size, --max-image-size)")

    def charge(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise LimitExceeded(self.message)
        if self.parent is not None:
            self.parent.charge(n)


class CountingReader(io.RawIOBase):
    """Charges every byte read from `inner` to a SizeBudget; translates decoder errors."""

    def __init__(self, inner: IO[bytes], budget: SizeBudget | None, what: str,
                 closers: list[IO[bytes]] | None = None) -> None:
        super().__init__()
        self._inner = inner
        self.budget = budget
        self._what = what
        self._closers = closers or []

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._inner.read(len(view))
        except (EOFError, gzip.BadGzipFile, zlib.error, zstandard.ZstdError) as exc:
            raise InputError(f"{self._what}: corrupt or truncated compressed stream ({exc})") from None
        n = len(data)
        view[:n] = data
        if self.budget is not None and n:
            self.budget.charge(n)
        return n

    def close(self) -> None:
        if not self.closed:
            for c in reversed(self._closers):
                with contextlib.suppress(Exception):  # closing after an error must not mask it
                    c.close()
        super().close()


def _is_skippable(head: bytes) -> bool:
    """A zstd skippable frame (some writers start with one)."""
    return len(head) == 4 and int.from_bytes(head, "little") & 0xFFFFFFF0 == 0x184D2A50


def decompressed(raw: IO[bytes], what: str, budget: SizeBudget | None = None) -> IO[bytes]:
    """Wrap a (possibly compressed) layer stream: gzip / zstd / plain, detected by magic bytes."""
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(cast(Any, raw), CHUNK)
    head = buffered.peek(4)[:4]
    inner: IO[bytes]
    if head[:2] == GZIP_MAGIC:
        inner = cast(IO[bytes], GzipReader(cast(IO[bytes], buffered)))
    elif head[:4] == ZSTD_MAGIC or _is_skippable(head):
        inner = cast(IO[bytes], ZstdReader(cast(IO[bytes], buffered)))
    else:
        inner = buffered
    closers: list[IO[bytes]] = [cast(IO[bytes], buffered)]
    if inner is not buffered:
        closers.append(inner)
    counting = CountingReader(inner, budget, what, closers)
    return cast(IO[bytes], io.BufferedReader(counting, CHUNK))


def drain(stream: IO[bytes] | io.RawIOBase) -> None:
    """Read a stream to its end (so that digest checks at EOF run)."""
    while stream.read(CHUNK):
        pass


MAX_TAR_HEADER = 1024 * 1024  # a PAX or GNU long-name header larger than this is hostile
# Member names that are not UTF-8 are read with their bad bytes as `\xNN` text, so that a name is
# always a valid string (JSON, SPDX, SARIF can carry it; every lookup agrees on it). tarfile's
# default on POSIX, surrogateescape, gave strings that no encoder accepts.
NAME_ERRORS = "backslashreplace"
TAR_ERRORS = (tarfile.TarError, EOFError, ValueError, UnicodeError, OverflowError, RecursionError)


class SafeTarInfo(tarfile.TarInfo):
    """tarfile reads a PAX / GNU long-name header whole into memory: bound its size first."""

    def _proc_pax(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        _check_header(self)
        return super()._proc_pax(tarfile)  # type: ignore[misc]

    def _proc_gnulong(self, tarfile: tarfile.TarFile) -> tarfile.TarInfo:
        _check_header(self)
        return super()._proc_gnulong(tarfile)  # type: ignore[misc]


def _check_header(info: tarfile.TarInfo) -> None:
    if info.size > MAX_TAR_HEADER:
        raise LimitExceeded(f"tar extended header of {info.size} bytes (over {MAX_TAR_HEADER}): "
                            "refusing the layer")


def open_archive(path: Path, max_entries: int,
                 what: str) -> tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]:
    """Open an image archive (docker-archive, oci-archive) for reading in place: its members by
    name (regular files and symlinks), with bounded headers and entry count."""
    try:
        tf = tarfile.open(path, "r:*", tarinfo=SafeTarInfo,  # noqa: SIM115 - the caller closes it
                          errors=NAME_ERRORS)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a {what} tar file") from None
    except (*TAR_ERRORS, OSError) as exc:
        raise InputError(f"{path}: not a readable {what} ({type(exc).__name__}: {exc})") from None
    members: dict[str, tarfile.TarInfo] = {}
    try:
        for count, m in enumerate(tf, 1):
            if count > max_entries:
                raise LimitExceeded(f"{path}: more than {max_entries} entries "
                                    "(max_entries, --max-entries)")
            if m.isfile() or m.issym():
                members[m.name.removeprefix("./")] = m
        tf.members = []  # type: ignore[attr-defined]  # the index above is all we keep
    except BaseException as exc:
        tf.close()
        if isinstance(exc, (*TAR_ERRORS, OSError)):
            raise InputError(f"{path}: not a readable {what} ({type(exc).__name__}: {exc})") from None
        raise
    return tf, members
