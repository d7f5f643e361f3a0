"""The cataloger contract: one module per ecosystem, registered in `seawall.catalog.CATALOGERS`.

A cataloger is a `FileVisitor` (it sees each final file it wants once, with its layer) that
collects `Package`s; `packages(ctx)` is called after the pass, when the OS is known.

`warnings` (added compatibly) collects one line per file a cataloger could not read (a parse
error skips that file, it never stops the scan); the inventory copies them into the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Protocol

from seawall.core import OSInfo, Package
from seawall.image.base import FileEntry, Limits


@dataclass(slots=True)
class CatalogContext:
    os: OSInfo | None
    limits: Limits


class Cataloger(Protocol):
    name: str
    warnings: list[str]

    def wants(self, entry: FileEntry) -> bool: ...

    def visit(self, entry: FileEntry, content: IO[bytes]) -> None: ...

    def packages(self, ctx: CatalogContext) -> list[Package]: ...
