"""The cataloger contract: one module per ecosystem, registered in `seawall.catalog.CATALOGERS`.

A cataloger is a `FileVisitor` (it sees each final file it wants once, with its layer) that
collects `Package`s; `packages(ctx)` is called after the pass, when the OS and the final file
index are known.

What a cataloger could not read is a value, never silence: `skips` holds one `seawall.core.Skip`
per database or file it could not parse (with a count for damaged records), `warnings` one line
per lesser remark (a write-ahead log not merged ...). The inventory copies both into the report.

Each cataloger's format parser is also a pure function `parse_<format>(data, location, ...)`
(Syft's habit), tested on small real files in tests/catalog/data/.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Protocol

from seawall.core import OSInfo, Package, Skip
from seawall.image.base import FileEntry, Limits

if TYPE_CHECKING:
    from seawall.image.fs import FileIndex


@dataclass(slots=True)
class CatalogContext:
    os: OSInfo | None
    limits: Limits
    # every final path of the image (with the layer that wrote it): the OS catalogers find the
    # layer that installed a package from the package's own files
    files: FileIndex | None = None


class Cataloger(Protocol):
    name: str
    warnings: list[str]
    skips: list[Skip]

    def wants(self, entry: FileEntry) -> bool: ...

    def visit(self, entry: FileEntry, content: IO[bytes]) -> None: ...

    def packages(self, ctx: CatalogContext) -> list[Package]: ...
