"""The audit trail: every plan, isolation and release, with who asked and why.

Without a running service it is a local JSONL file (`$SEAWALL_RESPOND_AUDIT`, else
`<user data dir>/seawall/respond/audit.jsonl`), one record per line, appended and fsynced; the
service plugs its store in with `set_trail`. An isolation record keeps every change with its
undo, which is what `seawall respond release` replays.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
import uuid
from pathlib import Path
from typing import Any, Protocol

import orjson

from seawall.bounded import read_file_capped
from seawall.core.errors import InputError

TRAIL_CAP = 512 << 20


class Trail(Protocol):
    def record(self, entry: dict[str, Any]) -> None: ...

    def open_isolation(self, workload: str) -> dict[str, Any] | None:
        """The latest applied isolation of `workload` that no release has closed."""
        ...


def default_path() -> Path:
    env = os.environ.get("SEAWALL_RESPOND_AUDIT")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("seawall")) / "respond" / "audit.jsonl"


def actor(explicit: str | None) -> str:
    if explicit:
        return explicit
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def new_entry(action: str, workload: str, who: str, reason: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "time": dt.datetime.now(dt.UTC).isoformat(),
        "action": action,
        "workload": workload,
        "actor": who,
        "reason": reason or "",
        **fields,
    }


class JsonlTrail:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def record(self, entry: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, orjson.dumps(entry, default=str) + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            raise InputError(f"audit trail {self.path}: {err.strerror or err}") from None

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in read_file_capped(self.path, TRAIL_CAP, f"audit trail {self.path}").splitlines():
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn last line after a crash: the records before it still count
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def open_isolation(self, workload: str) -> dict[str, Any] | None:
        released = {e.get("releases") for e in self.entries() if e.get("action") == "release"}
        for entry in reversed(self.entries()):
            if (
                entry.get("action") == "isolate"
                and entry.get("applied")
                and entry.get("workload") == workload
                and entry.get("id") not in released
            ):
                return entry
        return None


_trail: Trail | None = None


def set_trail(trail: Trail | None) -> None:
    """The service registers its store here; the CLI then writes there instead of the file."""
    global _trail
    _trail = trail


def trail() -> Trail:
    return _trail if _trail is not None else JsonlTrail()
