"""First-seen state: a small SQLite file (or memory) of keys seen per rule scope."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scope (name TEXT PRIMARY KEY, started TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seen (scope TEXT NOT NULL, key TEXT NOT NULL, first_seen TEXT,
                                 PRIMARY KEY (scope, key));
"""


def _ts(value: datetime | None) -> str:
    return (value or datetime.now(UTC)).isoformat()


class StateStore:
    """Keys are cached in memory per scope; writes are batched and committed on close()."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path) if path else ":memory:")
        self.db.executescript(_SCHEMA)
        self.starts: dict[str, datetime | None] = {}
        self.keys: dict[str, set[str]] = {}

    def scope_start(self, scope: str, now: datetime | None) -> datetime | None:
        """When this scope started learning (its first event); starts it if new."""
        if scope not in self.starts:
            row = self.db.execute("SELECT started FROM scope WHERE name=?", (scope,)).fetchone()
            if row is None:
                self.db.execute("INSERT INTO scope VALUES (?, ?)", (scope, _ts(now)))
                self.starts[scope] = now
            else:
                self.starts[scope] = datetime.fromisoformat(row[0])
        return self.starts[scope]

    def seen(self, scope: str, key: str, when: datetime | None) -> bool:
        """True if `key` was seen before in `scope`; records it otherwise."""
        keys = self.keys.get(scope)
        if keys is None:
            keys = {r[0] for r in self.db.execute("SELECT key FROM seen WHERE scope=?", (scope,))}
            self.keys[scope] = keys
        if key in keys:
            return True
        keys.add(key)
        self.db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?, ?)", (scope, key, _ts(when)))
        return False

    def export(self) -> dict[str, list[object]]:
        """Every scope with its start and keys (committed or not): for a state snapshot."""
        out: dict[str, list[object]] = {}
        for name, started in self.db.execute("SELECT name, started FROM scope"):
            out[name] = [started, []]
        for scope, key in self.db.execute("SELECT scope, key FROM seen"):
            out.setdefault(scope, [None, []])
            keys = out[scope][1]
            assert isinstance(keys, list)
            keys.append(key)
        return out

    def restore(self, scopes: dict[str, list[Any]]) -> None:
        """Merge a snapshot's scopes and keys into this store (keys already here stay)."""
        for name, (started, keys) in scopes.items():
            if started is not None:
                self.db.execute("INSERT OR IGNORE INTO scope VALUES (?, ?)", (name, started))
            self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?, ?, NULL)", [(name, k) for k in keys])
        self.starts.clear()
        self.keys.clear()

    def commit(self) -> None:
        self.db.commit()

    def close(self) -> None:
        self.db.commit()
        self.db.close()
