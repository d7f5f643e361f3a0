"""Alpine / Wolfi / Chainguard packages: /lib/apk/db/installed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from seawall.catalog._common import BaseCataloger, Ownership, decode, distro_qualifier, location, purl
from seawall.catalog.base import CatalogContext
from seawall.catalog.os_release import ecosystem_for
from seawall.core import Location, Package
from seawall.image.base import EntryKind, FileEntry, Limits

INSTALLED = "/lib/apk/db/installed"
MAX_INSTALLED = 256 * 1024 * 1024


@dataclass(slots=True)
class _Record:
    name: str
    version: str
    arch: str | None
    origin: str | None
    license: str | None
    url: str | None
    loc: Location


class ApkCataloger(BaseCataloger):
    name = "apk"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None) -> None:
        super().__init__(limits, ownership)
        self._records: list[_Record] = []

    def wants(self, entry: FileEntry) -> bool:
        return entry.path == INSTALLED and entry.kind is not EntryKind.DIR

    def _visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        data = self.read_bounded(entry, content, MAX_INSTALLED)
        if data is None:
            return
        loc = location(entry)
        fields: dict[str, str] = {}

        def flush() -> None:
            name, version = fields.get("P"), fields.get("V")
            if name and version:
                self._records.append(_Record(name=name, version=version, arch=fields.get("A"),
                                             origin=fields.get("o"), license=fields.get("L"),
                                             url=fields.get("U"), loc=loc))
            elif fields:
                self.warn(entry, "stanza without P: or V: skipped")
            fields.clear()

        folder = ""
        for line in decode(data).split("\n"):
            if not line.strip():
                flush()
                folder = ""
                continue
            if len(line) < 2 or line[1] != ":":
                continue
            key = line[0]
            if key in "PVAoLU" and key not in fields:
                fields[key] = line[2:].strip()
            elif key == "F":  # the folder of the R: lines that follow
                folder = line[2:].strip().strip("/")
            elif key == "R" and "P" in fields:
                name = line[2:].strip()
                self.ownership.add(f"/{folder}/{name}" if folder else f"/{name}", "apk:" + fields["P"])
        flush()

    def packages(self, ctx: CatalogContext) -> list[Package]:
        ecosystem = ecosystem_for(ctx.os, "Alpine")
        namespace = ctx.os.id if ctx.os is not None else "alpine"
        distro = distro_qualifier(ctx.os)
        out: list[Package] = []
        for r in self._records:
            source = r.origin or r.name
            quals: dict[str, str | None] = {"arch": r.arch, "distro": distro,
                                            "upstream": source if source != r.name else None}
            out.append(Package(
                name=r.name, version=r.version, ecosystem=ecosystem,
                purl=purl("apk", namespace, r.name, r.version, quals),
                locations=[r.loc], source_name=source, source_version=r.version, arch=r.arch,
                licenses=[r.license] if r.license else [], cataloger=self.name,
                metadata={"url": r.url} if r.url else {}))
        return out
