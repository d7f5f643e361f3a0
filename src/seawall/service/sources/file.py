"""`file`: files and directories tailed (k8s audit logs, /var/log/pods, Docker json-file logs,
Falco/Tetragon JSON, VPC flow logs), from a checkpointed offset per file.

    - {name: pods, type: file, format: container-logs, paths: [/var/log/pods], poll_interval: 1}

Per file the checkpoint holds (device, inode, offset, next line number). Rotation by rename: a
path whose inode changed is read to its end under the old inode first (found again in its folder
after a restart, e.g. `audit.log.1`), then the new file from its start. Truncation (copytruncate):
a file shorter than the offset is read again from its start. A partial last line waits for its
newline. Gzip files (already rotated and compressed) are read once, whole, within the size cap.
CloudTrail's whole-file JSON documents are read once per file as documents.
"""

from __future__ import annotations

import gzip
import os
import re
import time
from pathlib import Path
from typing import Any

from seawall.analyzers import Batch

# _NOTE_DOCUMENT: CloudTrail's records are fed as numbered lines (record N = line N), not as a
# `document` batch: a document's findings carry no line and the record only in `extra`, so two
# findings of one rule and resource in one file (different windows) would share one stable id.
from seawall.core.errors import InputError
from seawall.service.config import SourceConfig
from seawall.service.sources.base import Context, Pulled, analyzer_for, setting_num, setting_str

READ_BYTES = 4 << 20
MAX_LINE = 4 << 20
GZIP_MAGIC = b"\x1f\x8b"


# a rotated copy of a log (kubelet: 0.log.20260302-094500[.gz]; logrotate/docker: x.log.1[.gz]):
# in a directory it is not a file of its own -- its lines were read under the live name
_ROTATED = re.compile(r"(\.log\.[0-9][0-9T:.-]*|\.[0-9]+)(\.gz)?$")


def _walk(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    full = Path(root, name)
                    if name.startswith(".") or _ROTATED.search(name):
                        continue
                    if full.is_file() and not full.is_symlink():
                        out.append(full)
        elif p.is_file():
            out.append(p)
        elif any(ch in raw for ch in "*?["):
            out.extend(
                sorted(
                    q
                    for q in Path(p.anchor or ".").glob(str(p.relative_to(p.anchor)) if p.anchor else raw)
                    if q.is_file()
                )
            )
    return out


class FileSource:
    type = "file"
    format = ""

    def __init__(self, cfg: SourceConfig, ctx: Context) -> None:
        self.name = cfg.name
        self.settings = cfg.settings
        self.format = setting_str(cfg, "format")
        analyzer_for(self.format)
        paths = cfg.get("paths")
        if not paths:
            raise InputError(f"source {cfg.name}: paths must list files or directories")
        self.paths: list[str] = list(paths)
        self.poll_interval = setting_num(cfg, "poll_interval", 1.0)
        self.files: dict[str, dict[str, Any]] = {}
        self.last_scan = 0.0
        self.known: list[Path] = []
        self.skipped = 0
        self.ctx = ctx

    # -- Source -------------------------------------------------------------------------------
    def start(self, checkpoint: dict[str, Any]) -> None:
        self.files = {k: dict(v) for k, v in (checkpoint.get("files") or {}).items()}
        # a file rotated away while we were down: finish it under its old inode first
        for path, st in list(self.files.items()):
            p = Path(path)
            try:
                cur = p.stat()
                if (cur.st_dev, cur.st_ino) == (st.get("dev"), st.get("ino")):
                    continue
            except FileNotFoundError:
                pass
            for sibling in p.parent.glob(p.name + "*") if p.parent.is_dir() else []:
                try:
                    s = sibling.stat()
                except OSError:
                    continue
                if (s.st_dev, s.st_ino) == (st.get("dev"), st.get("ino")) and str(sibling) != path:
                    st["rotated_to"] = str(sibling)

    def _scan(self) -> list[Path]:
        now = time.monotonic()
        if now - self.last_scan >= self.poll_interval or not self.known:
            self.known = _walk(self.paths)
            self.last_scan = now
        return self.known

    def poll(self, max_lines: int) -> Pulled | None:
        batches: list[Batch] = []
        all_lines: list[bytes] = []
        dropped = 0
        for path in self._scan():
            if len(all_lines) >= max_lines:
                break
            got = self._read(str(path), max_lines - len(all_lines))
            if got is None:
                continue
            batch, n_dropped = got
            dropped += n_dropped
            if batch.lines:
                batches.append(batch)
                all_lines.extend(batch.lines)
        if not batches and not dropped:
            return None
        return Pulled(
            batches=batches,
            events=len(all_lines),
            lines=all_lines,
            dropped=dropped,
            checkpoint={"files": {k: dict(v) for k, v in self.files.items()}},
        )

    def _read(self, path: str, max_lines: int) -> tuple[Batch, int] | None:
        st = self.files.get(path)
        try:
            cur = os.stat(path)
        except OSError:
            return None
        if st is not None and st.get("rotated_to"):
            # the old file under its new name, to its end; then this path afresh
            old = st["rotated_to"]
            got = self._read_plain(path, old, st, max_lines)
            if got is not None and got[0].lines:
                return got
            st = None
        if st is None or (cur.st_dev, cur.st_ino) != (st.get("dev"), st.get("ino")):
            if st is not None and not st.get("rotated_to"):
                # rotated while we ran: the rest of the old inode is lost to us unless found beside it
                for sibling in Path(path).parent.glob(Path(path).name + "*"):
                    try:
                        s = sibling.stat()
                    except OSError:
                        continue
                    if (s.st_dev, s.st_ino) == (st.get("dev"), st.get("ino")):
                        st["rotated_to"] = str(sibling)
                        return self._read(path, max_lines)
            st = {"dev": cur.st_dev, "ino": cur.st_ino, "offset": 0, "line": 1}
            self.files[path] = st
        if st.get("done"):
            return None
        with open(path, "rb") as fh:
            head = fh.read(2)
        if head == GZIP_MAGIC:
            return self._read_gzip(path, st)
        if self.format == "cloudtrail":
            return self._read_document(path, st, cur.st_size)
        if cur.st_size < st["offset"]:  # truncated in place: from the start again
            st["offset"], st["line"] = 0, 1
        return self._read_plain(path, path, st, max_lines)

    def _read_plain(
        self, origin: str, path: str, st: dict[str, Any], max_lines: int
    ) -> tuple[Batch, int] | None:
        try:
            with open(path, "rb") as fh:
                fh.seek(st["offset"])
                data = fh.read(READ_BYTES)
        except OSError:
            return None
        if st.get("skipping"):  # the rest of a line over the cap: skipped up to its newline
            cut = data.find(b"\n")
            if cut < 0:
                st["offset"] += len(data)
                return None
            del st["skipping"]
            st["offset"] += cut + 1
            st["line"] += 1
            data = data[cut + 1 :]
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) >= MAX_LINE:  # one line longer than the cap: skipped, counted once
                st["offset"] += len(data)
                st["skipping"] = True
                return Batch(lines=[], origin=origin, first_lineno=st["line"]), 1
            if st.get("rotated_to") and path != origin:
                del st["rotated_to"]
            return None
        lines = data[:end].split(b"\n")
        if len(lines) > max_lines:
            lines = lines[:max_lines]
            consumed = sum(len(x) + 1 for x in lines)
        else:
            consumed = end + 1
        first = st["line"]
        dropped = 0
        kept = []
        for line in lines:
            if len(line) > MAX_LINE:
                dropped += 1
                line = b""
            kept.append(line.rstrip(b"\r"))
        st["offset"] += consumed
        st["line"] += len(lines)
        return Batch(lines=kept, origin=origin, first_lineno=first), dropped

    def _read_gzip(self, path: str, st: dict[str, Any]) -> tuple[Batch, int] | None:
        cap = self.ctx.limits.max_object_bytes
        with gzip.open(path, "rb") as fh:
            data = fh.read(cap + 1)
        dropped = 0
        if len(data) > cap:
            data = data[:cap]
            dropped = 1
        if self.format == "cloudtrail":
            from seawall.telemetry import get_reader

            records = get_reader("cloudtrail").split_document(data)
            st["done"] = True
            if records is not None:
                return Batch(lines=records, origin=path, first_lineno=1), dropped  # see _NOTE_DOCUMENT
        lines = [x.rstrip(b"\r") for x in data.split(b"\n") if x]
        st["done"] = True
        return Batch(lines=lines, origin=path, first_lineno=1), dropped

    def _read_document(self, path: str, st: dict[str, Any], size: int) -> tuple[Batch, int] | None:
        from seawall.telemetry import get_reader

        if size > self.ctx.limits.max_object_bytes:
            st["done"] = True
            return Batch(lines=[], origin=path), 1
        data = Path(path).read_bytes()
        records = get_reader("cloudtrail").split_document(data)
        if records is None:  # not one document: JSON lines after all
            return self._read_plain(path, path, st, 1 << 30)
        st["done"] = True
        return Batch(lines=records, origin=path, first_lineno=1), 0  # see _NOTE_DOCUMENT

    def committed(self, checkpoint: dict[str, Any]) -> None:
        return None

    def health(self) -> dict[str, Any]:
        behind = 0
        for path, st in self.files.items():
            try:
                size = os.stat(path).st_size
            except OSError:
                continue
            if not st.get("done"):
                behind += max(0, size - int(st.get("offset", 0)))
        return {"files": len(self.files), "lag_bytes": behind}

    def close(self) -> None:
        return None
