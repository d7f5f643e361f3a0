"""Evidence bundles: one directory per isolation, written before anything changes.

    bundle = Bundle.create(root, "k8s:shop/pod/frontend-6f7d9c8b4-x2kqz")
    bundle.add_json("pod.json", pod)
    bundle.add_text("logs/nginx.log", text)
    bundle.close()        # manifest.json: every file with its size and SHA-256

Files are private (0600, directory 0700), names are reduced to a safe alphabet (nothing of the
input can steer a path out of the bundle), and each file is capped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import orjson

from seawall.core.errors import InputError

FILE_CAP = 32 << 20
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_root() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("seawall")) / "respond" / "evidence"


def safe_name(text: str, limit: int = 120) -> str:
    name = _SAFE.sub("_", text).strip("._") or "unnamed"
    return name[:limit]


class Bundle:
    def __init__(self, path: Path, workload: str) -> None:
        self.path = path
        self.workload = workload
        self.files: list[dict[str, Any]] = []
        self.notes: list[str] = []

    @classmethod
    def create(cls, root: Path | None, workload: str) -> Bundle:
        root = root or default_root()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = root / f"{stamp}-{safe_name(workload)}"
        try:
            root.mkdir(parents=True, exist_ok=True, mode=0o700)
            n = 0
            while True:
                candidate = path if n == 0 else path.with_name(f"{path.name}-{n}")
                try:
                    candidate.mkdir(mode=0o700)
                    break
                except FileExistsError:
                    n += 1
        except OSError as err:
            raise InputError(f"evidence directory {root}: {err.strerror or err}") from None
        return cls(candidate, workload)

    def _write(self, relative: str, data: bytes) -> None:
        parts = [safe_name(p) for p in relative.split("/") if p]
        target = self.path.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        truncated = len(data) > FILE_CAP
        data = data[:FILE_CAP]
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        entry: dict[str, Any] = {
            "path": "/".join(parts),
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        if truncated:
            entry["truncated_at"] = FILE_CAP
        self.files.append(entry)

    def add_json(self, relative: str, value: Any) -> None:
        self._write(
            relative, orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str)
        )

    def add_text(self, relative: str, text: str | bytes) -> None:
        self._write(relative, text.encode("utf-8", "replace") if isinstance(text, str) else text)

    def note(self, message: str) -> None:
        self.notes.append(message)

    def close(self) -> str:
        self._write(
            "manifest.json",
            orjson.dumps(
                {
                    "workload": self.workload,
                    "created": dt.datetime.now(dt.UTC).isoformat(),
                    "files": self.files,
                    "notes": self.notes,
                },
                option=orjson.OPT_INDENT_2,
            ),
        )
        return str(self.path)
