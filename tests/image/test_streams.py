"""Decompression by magic bytes, digest verification, bounds."""

from __future__ import annotations

import gzip
import io
import os

import pytest
import zstandard

from seawall.core.errors import InputError, IntegrityError, LimitExceeded
from seawall.image.streams import HashingReader, SizeBudget, decompressed, drain, sha256_bytes

PAYLOAD = os.urandom(300_000) + b"\0" * 700_000


def _zstd_streamed(data: bytes) -> bytes:
    """No content size in the frame header, several blocks (as skopeo/containerd write)."""
    out = io.BytesIO()
    with zstandard.ZstdCompressor(write_content_size=False).stream_writer(out, closefd=False) as w:
        for i in range(0, len(data), 100_000):
            w.write(data[i : i + 100_000])
    return out.getvalue()


def _read(blob: bytes, budget: SizeBudget | None = None) -> bytes:
    with decompressed(io.BytesIO(blob), "test layer", budget) as s:
        return s.read()


@pytest.mark.parametrize(
    "blob",
    [
        gzip.compress(PAYLOAD),
        gzip.compress(PAYLOAD[:1000]) + gzip.compress(PAYLOAD[1000:]),  # multi-member (pigz, concatenation)
        gzip.compress(PAYLOAD) + b"\0" * 512,  # zero padding after the stream, as gzip(1) tolerates
        zstandard.ZstdCompressor().compress(PAYLOAD),
        zstandard.ZstdCompressor().compress(PAYLOAD[:5]) + zstandard.ZstdCompressor().compress(PAYLOAD[5:]),
        zstandard.ZstdCompressor(write_checksum=True, level=19).compress(PAYLOAD),
        _zstd_streamed(PAYLOAD),
        b"\x50\x2a\x4d\x18"
        + (5).to_bytes(4, "little")
        + b"skip!"
        + zstandard.ZstdCompressor().compress(PAYLOAD),
        PAYLOAD,
    ],
    ids=[
        "gzip",
        "gzip-multi",
        "gzip-padded",
        "zstd",
        "zstd-frames",
        "zstd-checksum",
        "zstd-streamed",
        "zstd-skippable",
        "plain",
    ],
)
def test_decompression_by_magic(blob: bytes) -> None:
    assert _read(blob) == PAYLOAD


@pytest.mark.parametrize(
    "blob",
    [
        gzip.compress(PAYLOAD)[:-100],
        gzip.compress(PAYLOAD)[:5000],
        gzip.compress(PAYLOAD) + b"garbage!",
        zstandard.ZstdCompressor().compress(PAYLOAD)[:3000],
        zstandard.ZstdCompressor(write_checksum=True).compress(PAYLOAD)[:-2],
        zstandard.ZstdCompressor().compress(PAYLOAD) + b"garbage!",
    ],
    ids=[
        "gzip-no-trailer",
        "gzip-truncated",
        "gzip-trailing-garbage",
        "zstd-truncated",
        "zstd-no-checksum",
        "zstd-trailing-garbage",
    ],
)
def test_corrupt_streams_are_input_errors(blob: bytes) -> None:
    with pytest.raises(InputError, match="corrupt or truncated"):
        _read(blob)


def test_gzip_crc_is_checked() -> None:
    blob = bytearray(gzip.compress(PAYLOAD))
    blob[-6] ^= 0x01  # CRC32 in the trailer
    with pytest.raises(InputError):
        _read(bytes(blob))


def test_budget_stops_a_bomb_early() -> None:
    bomb = gzip.compress(b"\0" * (64 << 20))
    budget = SizeBudget(1 << 20)
    with pytest.raises(LimitExceeded, match="max_total_size"):
        _read(bomb, budget)
    assert budget.used <= (1 << 20) + (1 << 20)  # stopped within one chunk of the limit


def test_hashing_reader_verifies_at_end() -> None:
    data = b"layer bytes" * 1000
    with HashingReader(io.BytesIO(data), sha256_bytes(data), "blob", len(data)) as r:
        drain(r)  # the digest and the size match: no error at the end
    with (
        pytest.raises(IntegrityError, match="digest mismatch"),
        HashingReader(io.BytesIO(data + b"!"), sha256_bytes(data), "blob") as r,
    ):
        drain(r)
    with (
        pytest.raises(IntegrityError, match="declared"),
        HashingReader(io.BytesIO(data), sha256_bytes(data), "blob", 10) as r,
    ):
        drain(r)
    with pytest.raises(InputError, match="malformed digest"):
        HashingReader(io.BytesIO(data), "sha256:abc", "blob")
    with pytest.raises(InputError, match="unsupported digest algorithm"):
        HashingReader(io.BytesIO(data), "md5:" + "0" * 32, "blob")
