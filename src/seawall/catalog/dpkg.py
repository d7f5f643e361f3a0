"""Debian packages: /var/lib/dpkg/status and distroless /var/lib/dpkg/status.d/*."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import IO

from seawall.catalog._common import BaseCataloger, Ownership, decode, distro_qualifier, location, purl
from seawall.catalog.base import CatalogContext
from seawall.catalog.os_release import ecosystem_for
from seawall.core import Location, Package
from seawall.image.base import EntryKind, FileEntry, Limits

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d/"
DOC = "/usr/share/doc/"
INFO = "/var/lib/dpkg/info/"
MAX_FILE_LIST = 64 * 1024 * 1024
MAX_STATUS = 256 * 1024 * 1024
MAX_COPYRIGHT = 2 * 1024 * 1024

# dpkg states in which the package's files are on disk ("config-files", "not-installed" and
# "half-installed" are not). The want flag (install/hold/deinstall) does not change the files.
_ON_DISK = frozenset({"installed", "half-configured", "unpacked", "triggers-awaited", "triggers-pending"})
_SOURCE = re.compile(r"^(?P<name>\S+)(?:\s+\((?P<version>[^)]+)\))?\s*$")


@dataclass(slots=True)
class _Record:
    name: str
    version: str
    arch: str | None
    source_name: str
    source_version: str
    loc: Location
    maintainer: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def parse_stanzas(text: str) -> list[dict[str, str]]:
    """RFC 822-like stanzas; continuation lines are folded into the previous field."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.split("\n"):
        if not line.strip():
            if current:
                stanzas.append(current)
                current, last = {}, None
            continue
        if line[0] in " \t":
            if last is not None and last != "Description" and last != "Conffiles":
                current[last] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = key.strip()
        current[last] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


class DpkgCataloger(BaseCataloger):
    name = "dpkg"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None) -> None:
        super().__init__(limits, ownership)
        self._records: list[_Record] = []
        self._licenses: dict[str, list[str]] = {}

    def wants(self, entry: FileEntry) -> bool:
        path = entry.path
        if path == STATUS:
            return entry.kind is not EntryKind.DIR
        if path.startswith(STATUS_D):  # distroless: control files, and md5sums naming the files
            return entry.kind is not EntryKind.DIR
        if path.startswith(INFO):  # file lists: which package installed which file
            return path.endswith(".list") and entry.kind is not EntryKind.DIR
        # /usr/share/doc/<package>/copyright (machine-readable DEP-5 files name their licenses)
        return (path.endswith("/copyright") and path.startswith(DOC) and path.count("/") == 5
                and entry.kind is EntryKind.FILE)

    def _copyright(self, entry: FileEntry, content: IO[bytes]) -> None:
        data = self.read_bounded(entry, content, MAX_COPYRIGHT)
        if data is None:
            return
        found: list[str] = []
        for line in decode(data).split("\n"):
            if line.startswith("License:"):
                value = line[8:].strip()
                if value and len(value) <= 100 and value not in found:
                    found.append(value)
        if found:
            self._licenses[entry.path[len(DOC):].split("/", 1)[0]] = found

    def _file_list(self, entry: FileEntry, content: IO[bytes]) -> None:
        """info/<pkg>[:arch].list (absolute paths) or status.d/<pkg>.md5sums ("md5  rel/path")."""
        data = self.read_bounded(entry, content, MAX_FILE_LIST)
        if data is None:
            return
        base = entry.path.rsplit("/", 1)[-1]
        md5sums = base.endswith(".md5sums")
        owner = "deb:" + base.rsplit(".", 1)[0].split(":", 1)[0]
        for line in decode(data).split("\n"):
            if md5sums:
                _, sep, rel = line.partition("  ")
                path = "/" + rel.strip().lstrip("/") if sep else ""
            else:
                path = line.strip()
            if path.startswith("/") and len(path) > 1:
                self.ownership.add(path, owner)

    def _visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        path = entry.path
        if path.startswith(DOC):
            self._copyright(entry, content)
            return
        if path.endswith((".list", ".md5sums")):
            self._file_list(entry, content)
            return
        data = self.read_bounded(entry, content, MAX_STATUS)
        if data is None:
            return
        from_status_d = entry.path.startswith(STATUS_D)
        loc = location(entry)
        for stanza in parse_stanzas(decode(data)):
            name = stanza.get("Package", "")
            version = stanza.get("Version", "")
            if not name or not version:
                continue
            status = stanza.get("Status")
            if status is None:
                if not from_status_d:
                    continue  # the main status file always carries Status
            else:
                words = status.split()
                if len(words) != 3 or words[2] not in _ON_DISK:
                    continue
            source_name, source_version = name, version
            src = stanza.get("Source")
            if src:
                m = _SOURCE.match(src)
                if m:
                    source_name = m.group("name")
                    source_version = m.group("version") or version
                else:
                    self.warn(entry, f"package {name}: unreadable Source field {src!r}")
            self._records.append(_Record(name=name, version=version,
                                         arch=stanza.get("Architecture") or None,
                                         source_name=source_name, source_version=source_version,
                                         loc=loc, maintainer=stanza.get("Maintainer")))

    def packages(self, ctx: CatalogContext) -> list[Package]:
        ecosystem = ecosystem_for(ctx.os, "Debian")
        namespace = ctx.os.id if ctx.os is not None else "debian"
        distro = distro_qualifier(ctx.os)
        out: list[Package] = []
        seen: set[tuple[str, str, str | None]] = set()
        for r in self._records:
            key = (r.name, r.version, r.arch)
            if key in seen:  # same package in status and status.d: keep the first
                continue
            seen.add(key)
            quals: dict[str, str | None] = {"arch": r.arch, "distro": distro}
            if r.source_name != r.name:
                quals["upstream"] = r.source_name
            if r.source_version != r.version:
                quals["upstream"] = f"{r.source_name}@{r.source_version}"
            out.append(Package(
                name=r.name, version=r.version, ecosystem=ecosystem,
                purl=purl("deb", namespace, r.name, r.version, quals),
                locations=[r.loc], source_name=r.source_name, source_version=r.source_version,
                arch=r.arch, licenses=list(self._licenses.get(r.name, ())), cataloger=self.name,
                metadata={"maintainer": r.maintainer} if r.maintainer else {}))
        return out
