"""Alpine / Wolfi / Chainguard packages: /lib/apk/db/installed.

The database is streamed line by line (memory bounded by the longest line allowed). Each
stanza's `F:`/`R:` lines name the package's files: they fill the shared ownership map, and the
lowest layer holding one of them in the final image is the layer that installed the package
(the database itself is rewritten by every `apk add`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from seawall.catalog._common import (
    BaseCataloger,
    LineReader,
    Ownership,
    distro_qualifier,
    in_installing_layer,
    location,
    purl,
)
from seawall.catalog.base import CatalogContext
from seawall.catalog.licenses import normalize_license
from seawall.catalog.limits import CatalogLimits
from seawall.catalog.os_release import ecosystem_for
from seawall.core import Location, OSInfo, Package
from seawall.image.base import EntryKind, FileEntry, Limits

INSTALLED = "/lib/apk/db/installed"
MAX_LINE = 1024 * 1024
FILES_KEPT = 32  # files per package remembered to find the layer that installed it


@dataclass(slots=True)
class _Record:
    name: str
    version: str
    arch: str | None
    origin: str | None
    license: str | None
    url: str | None
    loc: Location
    depends: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


class _Parser:
    """apk's installed database, one `K:value` line at a time; a blank line ends a stanza."""

    def __init__(self, loc: Location) -> None:
        self.loc = loc
        self.damaged = 0
        self.owned: list[tuple[str, str]] = []  # (path, package) from F:/R: lines
        self._fields: dict[str, str] = {}
        self._depends: list[str] = []
        self._provides: list[str] = []
        self._files: list[str] = []
        self._folder = ""

    def feed(self, lines: Iterator[bytes]) -> Iterator[_Record]:
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if not line.strip():
                rec = self._flush()
                if rec is not None:
                    yield rec
                continue
            if len(line) < 2 or line[1] != ":":
                continue
            key, value = line[0], line[2:].strip()
            if key in "PVAoLU" and key not in self._fields:
                self._fields[key] = value
            elif key == "D":
                self._depends.extend(value.split())
            elif key == "p":
                self._provides.extend(value.split())
            elif key == "F":  # the folder of the R: lines that follow
                self._folder = value.strip("/")
            elif key == "R" and "P" in self._fields:
                path = f"/{self._folder}/{value}" if self._folder else f"/{value}"
                self.owned.append((path, self._fields["P"]))
                if len(self._files) < FILES_KEPT:
                    self._files.append(path)
        rec = self._flush()
        if rec is not None:
            yield rec

    def _flush(self) -> _Record | None:
        f = self._fields
        name, version = f.get("P"), f.get("V")
        rec = None
        if name and version:
            rec = _Record(name=name, version=version, arch=f.get("A"), origin=f.get("o"),
                          license=f.get("L"), url=f.get("U"), loc=self.loc, depends=self._depends,
                          provides=self._provides, files=self._files)
        elif f or self._files:
            self.damaged += 1
        self._fields, self._depends, self._provides, self._files, self._folder = {}, [], [], [], ""
        return rec


def _package(r: _Record, os_info: OSInfo | None) -> Package:
    ecosystem = ecosystem_for(os_info, "Alpine")
    namespace = os_info.id if os_info is not None else "alpine"
    source = r.origin or r.name
    quals: dict[str, str | None] = {"arch": r.arch, "distro": distro_qualifier(os_info),
                                    "upstream": source if source != r.name else None}
    return Package(
        name=r.name, version=r.version, ecosystem=ecosystem,
        purl=purl("apk", namespace, r.name, r.version, quals),
        locations=[r.loc], source_name=source, source_version=r.version, arch=r.arch,
        licenses=[normalize_license(r.license)] if r.license else [], cataloger="apk",
        metadata={"url": r.url} if r.url else {})


def parse_apk_installed(data: bytes, loc: Location, os_info: OSInfo | None = None) -> list[Package]:
    """The packages of an apk installed database, in file order (pure: no layers, no deps)."""
    parser = _Parser(loc)
    return [_package(r, os_info) for r in parser.feed(iter(LineReader(io.BytesIO(data), MAX_LINE)))]


def _dep_name(token: str) -> str | None:
    """'so:libc.musl-x86_64.so.1' -> itself, 'busybox>=1.36' -> 'busybox', '!foo' -> None."""
    if not token or token.startswith("!"):
        return None
    for i, ch in enumerate(token):
        if ch in "=<>~":
            return token[:i] or None
    return token


class ApkCataloger(BaseCataloger):
    name = "apk"
    what = "apk database"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None,
                 catalog_limits: CatalogLimits | None = None) -> None:
        super().__init__(limits, ownership, catalog_limits)
        self._records: list[_Record] = []

    def wants(self, entry: FileEntry) -> bool:
        return entry.path == INSTALLED and entry.kind is not EntryKind.DIR

    def _visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        parser = _Parser(location(entry))
        reader = LineReader(content, MAX_LINE, self.limits.max_file_size)
        self._records.extend(parser.feed(iter(reader)))
        for path, name in parser.owned:
            self.ownership.add(path, "apk:" + name)
        if parser.damaged or reader.overlong:
            self.skip(entry, f"stanza without P: or V:, or a line over {MAX_LINE} bytes",
                      count=parser.damaged + reader.overlong, what="apk records in", category="damaged")
        if reader.truncated:
            self.skip(entry, f"only the first {reader.max_bytes} bytes were read (the single-file limit)",
                      category="skipped")

    def packages(self, ctx: CatalogContext) -> list[Package]:
        out: list[Package] = []
        by_name: dict[str, Package] = {}
        for r in self._records:
            r.loc, evidence = in_installing_layer(r.loc, r.files, ctx.files, INSTALLED)
            pkg = _package(r, ctx.os)
            if evidence is not None:
                pkg.metadata["layer_evidence"] = evidence
            out.append(pkg)
            by_name.setdefault(r.name, pkg)
        for r, pkg in zip(self._records, out, strict=True):
            for token in r.provides:
                name = _dep_name(token)
                if name:
                    by_name.setdefault(name, pkg)
        for r, pkg in zip(self._records, out, strict=True):
            deps: list[str] = []
            for token in r.depends:
                name = _dep_name(token)
                target = by_name.get(name) if name else None
                if target is not None and target is not pkg and target.purl not in deps:
                    deps.append(target.purl)
            pkg.dependencies = deps
        return out
