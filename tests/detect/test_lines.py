"""Batching of input lines: large batches from inputs that give little at a time (gzip), yet
lines from a pipe that has nothing more for now are handed on at once."""

from __future__ import annotations

import gzip
import os
import threading
import time
from pathlib import Path

from devtools.detectgen import audit as synth
from seawall.telemetry.base import ReadStats
from seawall.telemetry.lines import LineLimits, iter_chunks, stream_chunks


def _no_document(data: bytes) -> list[bytes] | None:
    return None


def test_gzip_gives_full_batches_not_one_per_read(tmp_path: Path) -> None:
    # gzip hands out ~64 KiB per read: one batch per read made a 1M-event log 30x slower
    lines = list(synth.generate(20_000, story_at=5_000))
    path = tmp_path / "audit.log.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    chunks = list(iter_chunks(str(path), LineLimits(), ReadStats(), _no_document))
    assert sum(len(c.lines) for c in chunks) == len(lines)
    assert len(chunks) <= 2
    assert chunks[0].lines[:3] == lines[:3]
    # the same through a pipe from a fast producer (zcat | seawall detect -): still few batches
    read_fd, write_fd = os.pipe()
    blob = path.read_bytes()

    def producer() -> None:
        with os.fdopen(write_fd, "wb") as out:
            out.write(blob)

    threading.Thread(target=producer, daemon=True).start()
    with os.fdopen(read_fd, "rb") as raw, gzip.GzipFile(fileobj=raw) as stream:
        piped = list(stream_chunks(stream, "-", LineLimits(), ReadStats(), _no_document, False, None, None))
    assert sum(len(c.lines) for c in piped) == len(lines)
    assert len(piped) < 20


def test_a_slow_pipe_is_not_held_back(tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    lines = [b'{"n": %d}' % i for i in range(100)]

    def producer() -> None:
        os.write(write_fd, b"\n".join(lines) + b"\n")
        time.sleep(3)  # then nothing for a while, and the end
        os.close(write_fd)

    threading.Thread(target=producer, daemon=True).start()
    with os.fdopen(read_fd, "rb", buffering=0) as stream:
        start = time.monotonic()
        chunks = stream_chunks(stream, "-", LineLimits(), ReadStats(), _no_document, False, None, None)
        first = next(chunks)
        waited = time.monotonic() - start
        assert first.lines == lines
        assert waited < 1.5  # at once, not at the producer's end
        assert list(chunks) == []


def test_a_damaged_input_is_not_followed_forever(tmp_path: Path) -> None:
    blob = gzip.compress(b"\n".join(synth.generate(3000, story_at=10)) + b"\n")
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    stats = ReadStats()
    start = time.monotonic()
    chunks = iter_chunks(str(path), LineLimits(), stats, _no_document, follow=True, idle_timeout=None)
    assert 1000 < sum(len(c.lines) for c in chunks) < 3000
    assert time.monotonic() - start < 5
    assert "input damaged" in stats.warnings[0]
