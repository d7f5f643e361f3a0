"""A small recording visitor for the tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from seawall.image import FileEntry


class Recorder:
    def __init__(self, want: Callable[[FileEntry], bool] | set[str]) -> None:
        self._want = want
        self.seen: dict[str, tuple[bytes, FileEntry]] = {}
        self.calls = 0

    def wants(self, entry: FileEntry) -> bool:
        if isinstance(self._want, set):
            return entry.path in self._want
        return self._want(entry)

    def visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        self.calls += 1
        self.seen[entry.path] = (content.read(), entry)

    def content(self, path: str) -> bytes:
        return self.seen[path][0]

    def layer(self, path: str) -> int | None:
        layer = self.seen[path][1].layer
        return layer.index if layer is not None else None
