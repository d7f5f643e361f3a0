"""Java archives: jar/war/ear (and Jenkins/other zip-based variants), nested archives included.

Identity, most trusted first: every `META-INF/maven/<group>/<artifact>/pom.properties` (a shaded
jar carries several), then the main section of META-INF/MANIFEST.MF, then the file name.
Nested archives (BOOT-INF/lib/*.jar, WEB-INF/lib/*.jar, a war in an ear ...) are read from
memory, recursively, to a fixed depth; every member read is bounded (the single-file limit for
one member, four times it for one top-level archive in total), so a zip bomb costs at most that.
Nothing is extracted to disk: member names are only text in a location
(`/app/app.jar:BOOT-INF/lib/log4j-core-2.14.1.jar`), so zip-slip names are harmless.
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from dataclasses import dataclass
from typing import IO, Any

from seawall.catalog._common import BaseCataloger, Ownership, decode, purl
from seawall.catalog.base import CatalogContext
from seawall.core import Location, Package
from seawall.image.base import EntryKind, FileEntry, Limits

ARCHIVE_SUFFIXES = frozenset({".jar", ".war", ".ear", ".jpi", ".hpi", ".par", ".sar", ".nar", ".kar"})
MAX_DEPTH = 5
MAX_MEMBERS = 200_000
MAX_SMALL_FILE = 1024 * 1024  # pom.properties, MANIFEST.MF
IN_MEMORY = 64 * 1024 * 1024
_FILENAME = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+?)-(?P<version>\d[\w.\-+]*?)\.[a-z]{3}$", re.IGNORECASE)


@dataclass(slots=True)
class _Found:
    group: str | None
    artifact: str
    version: str
    archive: str
    source: str  # pom.properties | manifest | filename
    loc: Location


def parse_properties(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#!":
            continue
        m = re.match(r"^([^=:\s]+)\s*[=:]\s*(.*)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def parse_manifest(text: str) -> dict[str, str]:
    """The main section of a MANIFEST.MF (72-byte lines continue with a leading space)."""
    out: dict[str, str] = {}
    last: str | None = None
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            break
        if line[0] == " " and last is not None:
            out[last] += line[1:]
            continue
        key, sep, value = line.partition(":")
        if sep:
            last = key.strip()
            out[last] = value.strip()
    return out


def _basename(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1]


def is_archive_name(name: str) -> bool:
    dot = name.rfind(".")
    return dot >= 0 and name[dot:].lower() in ARCHIVE_SUFFIXES


def _copy_capped(src: IO[bytes], dst: IO[bytes], cap: int) -> int:
    """Copy at most cap + 1 bytes (so that more than `cap` shows) and rewind `dst`; returns the
    bytes copied, over `cap` when the source is larger (then `dst` is incomplete)."""
    copied = 0
    while chunk := src.read(min(1024 * 1024, cap + 1 - copied)):
        copied += len(chunk)
        if copied > cap:
            break
        dst.write(chunk)
    dst.seek(0)
    return copied


class _Budget:
    def __init__(self, total: int) -> None:
        self.left = total

    def take(self, n: int) -> bool:
        self.left -= n
        return self.left >= 0


class JavaArchiveCataloger(BaseCataloger):
    name = "java-archive"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None) -> None:
        super().__init__(limits, ownership)
        self._found: list[_Found] = []

    def wants(self, entry: FileEntry) -> bool:
        path = entry.path
        dot = path.rfind(".", len(path) - 4)
        return (dot >= 0 and path[dot:].lower() in ARCHIVE_SUFFIXES
                and entry.kind is EntryKind.FILE and entry.size > 0)

    def _visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        cap = self.limits.max_file_size
        with tempfile.SpooledTemporaryFile(max_size=IN_MEMORY) as spool:
            if _copy_capped(content, spool, cap) > cap:
                self.warn(entry, f"archive larger than {cap} bytes, skipped")
                return
            self._archive(spool, entry, entry.path, 0, _Budget(4 * cap))

    def _archive(self, fh: IO[bytes], entry: FileEntry, display: str, depth: int, budget: _Budget) -> None:
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            self.warn(display, f"not a readable zip archive: {exc}")
            return
        with zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                self.warn(display, f"more than {MAX_MEMBERS} members, skipped")
                return
            layer = entry.layer
            loc = Location(path=display, layer=layer.digest if layer else None,
                           layer_created_by=layer.created_by if layer else None)
            poms: list[zipfile.ZipInfo] = []
            manifest: zipfile.ZipInfo | None = None
            nested: list[zipfile.ZipInfo] = []
            for info in infos:
                name = info.filename
                if info.is_dir():
                    continue
                if name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                    poms.append(info)
                elif name == "META-INF/MANIFEST.MF":
                    manifest = info
                elif is_archive_name(name):
                    nested.append(info)
            found_pom = False
            for info in poms:
                text = self._small(zf, info, display, budget)
                if text is None:
                    continue
                props = parse_properties(text)
                group, artifact, version = props.get("groupId"), props.get("artifactId"), props.get("version")
                if artifact and version:
                    found_pom = True
                    self._found.append(_Found(group or None, artifact, version, display,
                                              "pom.properties", loc))
            if not found_pom:
                mf = self._small(zf, manifest, display, budget) if manifest is not None else None
                ident = self._fallback(display, parse_manifest(mf) if mf else {})
                if ident is not None:
                    group, artifact, version, source = ident
                    self._found.append(_Found(group, artifact, version, display, source, loc))
            if depth >= MAX_DEPTH:
                if nested:
                    self.warn(display, f"nested archives deeper than {MAX_DEPTH} not read")
                return
            for info in nested:
                self._nested(zf, info, entry, display, depth, budget)

    def _small(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, display: str, budget: _Budget) -> str | None:
        try:
            with zf.open(info) as member:
                data = member.read(MAX_SMALL_FILE + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
            self.warn(f"{display}:{info.filename}", f"unreadable member: {exc}")
            return None
        if len(data) > MAX_SMALL_FILE or not budget.take(len(data)):
            self.warn(f"{display}:{info.filename}", "member too large, skipped")
            return None
        return decode(data)

    def _nested(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, entry: FileEntry, display: str,
                depth: int, budget: _Budget) -> None:
        inner = f"{display}:{info.filename}"
        cap = min(self.limits.max_file_size, max(budget.left, 0))
        try:
            with zf.open(info) as member, tempfile.SpooledTemporaryFile(max_size=IN_MEMORY) as spool:
                copied = _copy_capped(member, spool, cap)
                budget.take(copied)
                if copied > cap:
                    self.warn(inner, "nested archive over the size budget, skipped")
                    return
                self._archive(spool, entry, inner, depth + 1, budget)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
            self.warn(inner, f"unreadable nested archive: {exc}")

    @staticmethod
    def _fallback(display: str, mf: dict[str, str]) -> tuple[str | None, str, str, str] | None:
        base = _basename(display.rsplit(":", 1)[-1])
        m = _FILENAME.match(base)
        file_name, file_version = (m.group("name"), m.group("version")) if m else (None, None)
        version = mf.get("Implementation-Version") or mf.get("Bundle-Version") or file_version
        symbolic = mf.get("Bundle-SymbolicName") or mf.get("Automatic-Module-Name") or ""
        symbolic = symbolic.split(";")[0].strip()
        artifact = file_name
        if artifact is None:
            stem = base.rsplit(".", 1)[0]
            artifact = stem if stem and version else None
        if artifact is None:
            artifact = mf.get("Implementation-Title") or symbolic or None
        if not artifact or not version:
            return None
        group: str | None = None
        if symbolic and "." in symbolic:  # org.apache.logging.log4j.core for log4j-core
            prefix, _, tail = symbolic.rpartition(".")
            if tail == artifact.split("-")[-1]:
                group = prefix
        group = group or mf.get("Implementation-Vendor-Id") or None
        return group, artifact, version, "manifest" if mf and (mf.get("Implementation-Version") or
                                                              mf.get("Bundle-Version")) else "filename"

    def packages(self, ctx: CatalogContext) -> list[Package]:
        out: list[Package] = []
        seen: set[tuple[str | None, str, str, str]] = set()
        for f in self._found:
            key = (f.group, f.artifact, f.version, f.archive)
            if key in seen:
                continue
            seen.add(key)
            name = f"{f.group}:{f.artifact}" if f.group else f.artifact
            meta: dict[str, Any] = {"artifact_id": f.artifact, "identified_by": f.source}
            if f.group:
                meta["group_id"] = f.group
            out.append(Package(name=name, version=f.version, ecosystem="Maven",
                               purl=purl("maven", f.group, f.artifact, f.version), locations=[f.loc],
                               cataloger=self.name, metadata=meta))
        return self.ownership.mark(out)
