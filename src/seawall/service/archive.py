"""Raw events, kept out of the database: per source and hour, zstd-compressed JSON lines.

    DATA_DIR/archive/SOURCE/YYYY-MM-DD/HH.jsonl.zst     (HH: the UTC hour the events arrived)

Each pipeline commit appends one zstd frame (frames concatenate into one valid stream) and
records the file and its size in the checkpoint; after a crash the file is cut back to that size
and newer files of the source are removed, so the archive holds every event exactly once.
`read_events` reads it back for an investigation: the hours in range are decompressed, decoded
by the source's telemetry reader (its common columns: time, namespace, workload, actor ...),
filtered with Polars.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import zstandard

from seawall.analyzers import Batch

SUFFIX = ".jsonl.zst"
MARK = "$origin"


def _hour_path(root: Path, when: datetime) -> Path:
    return root / when.strftime("%Y-%m-%d") / f"{when:%H}{SUFFIX}"


class ArchiveWriter:
    """One source's archive; used by its pipeline thread only."""

    def __init__(self, root: Path, source: str, fmt: str, level: int = 3) -> None:
        self.root = root / source
        self.source = source
        self.format = fmt
        self.compressor = zstandard.ZstdCompressor(level=level)
        self.path: Path | None = None
        self.size = 0
        self.dirty = False

    def restore(self, checkpoint: dict[str, Any] | None) -> None:
        """Cut the archive back to what the committed checkpoint says it held."""
        rel = (checkpoint or {}).get("file")
        size = int((checkpoint or {}).get("size", 0))
        files = sorted(p.relative_to(self.root).as_posix() for p in self.root.glob(f"*/*{SUFFIX}"))
        for name in files:
            if rel is None or name > rel:
                (self.root / name).unlink()
        if rel and (self.root / rel).exists():
            with open(self.root / rel, "r+b") as fh:
                fh.truncate(size)
            self.path, self.size = self.root / rel, size

    def write(self, batches: Sequence[Batch], now: datetime | None = None) -> None:
        """Each batch as a marker line `{"$origin": ORIGIN, "$line": N}` and then its lines."""
        parts: list[bytes] = []
        for batch in batches:
            if batch.lines:
                parts.append(orjson.dumps({MARK: batch.origin, "$line": batch.first_lineno}))
                parts.extend(batch.lines)
        if not parts:
            return
        path = _hour_path(self.root, now or datetime.now(UTC))
        if path != self.path:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.path = path
            self.size = path.stat().st_size if path.exists() else 0
        frame = self.compressor.compress(b"\n".join(parts) + b"\n")
        with open(path, "ab") as fh:
            fh.write(frame)
        self.size += len(frame)
        self.dirty = True

    def sync(self) -> None:
        if self.dirty and self.path is not None:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self.dirty = False

    def checkpoint(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        return {"file": self.path.relative_to(self.root).as_posix(), "size": self.size}


def purge(root: Path, before: datetime) -> int:
    """Delete archive hours older than `before` (retention). Returns files deleted."""
    n = 0
    for path in root.glob(f"*/*/*{SUFFIX}"):
        try:
            hour = datetime.strptime(f"{path.parent.name} {path.name[:2]}", "%Y-%m-%d %H").replace(tzinfo=UTC)
        except ValueError:
            continue
        if hour + timedelta(hours=1) <= before:
            path.unlink()
            n += 1
    for day in root.glob("*/*"):
        if day.is_dir() and not any(day.iterdir()):
            day.rmdir()
    return n


@dataclass(slots=True)
class EventQuery:
    source: str | None = None
    workload: str | None = None  # matches the workload name, namespace/name, or a workload key
    namespace: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    contains: str | None = None
    limit: int = 1000


def _hours(root: Path, query: EventQuery) -> Iterator[tuple[str, Path]]:
    for src_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if query.source and src_dir.name != query.source:
            continue
        for path in sorted(src_dir.glob(f"*/*{SUFFIX}")):
            try:
                hour = datetime.strptime(f"{path.parent.name} {path.name[:2]}", "%Y-%m-%d %H").replace(
                    tzinfo=UTC
                )
            except ValueError:
                continue
            # events arrive after they happen: an hour that ended before `since` holds none newer
            if query.since is not None and hour + timedelta(hours=1) < query.since:
                continue
            yield src_dir.name, path


def _groups(path: Path) -> list[tuple[str, int, list[bytes]]]:
    """The archived batches of one hour file: (origin, first line number, lines)."""
    dctx = zstandard.ZstdDecompressor()
    with open(path, "rb") as fh, dctx.stream_reader(fh, read_across_frames=True) as reader:
        data = reader.read()
    out: list[tuple[str, int, list[bytes]]] = []
    for line in data.split(b"\n"):
        if not line:
            continue
        if line.startswith(b'{"$origin":'):
            try:
                mark = orjson.loads(line)
                out.append((str(mark[MARK]), int(mark.get("$line", 1)), []))
                continue
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                pass
        if not out:
            out.append((str(path), 1, []))
        out[-1][2].append(line)
    return out


def _condition(query: EventQuery) -> Any:
    import polars as pl

    cond = pl.lit(True)
    if query.since is not None:
        cond = cond & (pl.col("time") >= query.since)
    if query.until is not None:
        cond = cond & (pl.col("time") <= query.until)
    if query.namespace:
        cond = cond & (pl.col("namespace") == query.namespace)
    if query.workload:
        w = query.workload
        name = w.rsplit("/", 1)[-1]
        cond = cond & (
            (pl.col("workload_name") == w)
            | (pl.col("workload_name") == name)
            | pl.col("workload_name").str.starts_with(name + "-")
            | (pl.col("container_name") == name)
            | pl.col("container_id").str.starts_with(name)
        )
    return cond


def read_events(root: Path, formats: dict[str, str], query: EventQuery) -> list[dict[str, Any]]:
    """Events of the archive matching `query`, oldest first, at most `query.limit`."""
    from seawall.telemetry import READERS, ReadStats, get_reader

    out: list[dict[str, Any]] = []
    for source, path in _hours(root, query):
        fmt = formats.get(source)
        for origin, first, lines in _groups(path):
            if fmt not in READERS:
                for line in lines:
                    if query.contains and query.contains.encode() not in line:
                        continue
                    out.append({"source": source, "origin": origin, "event": line.decode("utf-8", "replace")})
                    if len(out) >= query.limit:
                        return out
                continue
            reader = get_reader(fmt)
            frame = reader.frame(lines, first, origin, reader.plan([]), ReadStats())
            if frame.height == 0:
                continue
            hits = frame.filter(_condition(query).fill_null(False))
            for row, when in hits.select("_row", "time").iter_rows():
                line = lines[row]
                if query.contains and query.contains.encode() not in line:
                    continue
                try:
                    event: Any = orjson.loads(line)
                except orjson.JSONDecodeError:
                    event = line.decode("utf-8", "replace")
                out.append(
                    {
                        "source": source,
                        "origin": origin,
                        "line": first + row,
                        "time": when.isoformat() if when else None,
                        "event": event,
                    }
                )
                if len(out) >= query.limit:
                    return out
    return out
