"""Debian packages: /var/lib/dpkg/status and distroless /var/lib/dpkg/status.d/*.

The status file is streamed stanza by stanza (`StanzaReader`): memory is bounded by the largest
record (`MAX_RECORD`) plus one read chunk, whatever the size of the file; a record over the
bound (one 200 MB line ...) is counted as damaged and skipped, the rest goes on.

Layer-exact attribution: the status file is rewritten by every `apt-get install`, so the layer
that last wrote it says nothing about a package. dpkg writes `/var/lib/dpkg/info/<pkg>.list`
(`<pkg>:<arch>.list` for Multi-Arch: same) when it unpacks the package, and only then: the
layer of that file is the layer that installed (or upgraded) the package. A package's location
is its record in the status file, attributed to that layer (`metadata.layer_evidence` names the
.list); without a .list the status file's own layer is used.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from seawall.catalog._common import (
    BaseCataloger,
    LineReader,
    Ownership,
    decode,
    distro_qualifier,
    layer_location,
    location,
    purl,
)
from seawall.catalog.base import CatalogContext
from seawall.catalog.licenses import normalize_licenses
from seawall.catalog.limits import CatalogLimits
from seawall.catalog.os_release import ecosystem_for
from seawall.core import Location, OSInfo, Package
from seawall.image.base import EntryKind, FileEntry, Limits

STATUS = "/var/lib/dpkg/status"
STATUS_D = "/var/lib/dpkg/status.d/"
DOC = "/usr/share/doc/"
INFO = "/var/lib/dpkg/info/"
MAX_FILE_LIST = 64 * 1024 * 1024
MAX_COPYRIGHT = 2 * 1024 * 1024
MAX_RECORD = 8 * 1024 * 1024  # one stanza; the largest real ones (long Conffiles) are ~100 KB

# dpkg states in which the package's files are on disk ("config-files", "not-installed" and
# "half-installed" are not). The want flag (install/hold/deinstall) does not change the files.
_ON_DISK = frozenset({"installed", "half-configured", "unpacked", "triggers-awaited", "triggers-pending"})
_SOURCE = re.compile(r"^(?P<name>\S+)(?:\s+\((?P<version>[^)]+)\))?\s*$")
_UNFOLDED = frozenset({"Description", "Conffiles"})  # long continuation blocks nobody needs
_DEP_NAME = re.compile(r"^\s*([a-z0-9][a-z0-9+.\-]*)(?::[a-z0-9\-]+)?")


class StanzaReader:
    """RFC 822-like stanzas of a stream; continuation lines are folded into the previous field
    (except Description and Conffiles, which are dropped). Records over `max_record` bytes, and
    stanzas with fields but no `Package`, are counted in `damaged` and not yielded."""

    def __init__(self, stream: IO[bytes], max_record: int = MAX_RECORD, max_bytes: int | None = None,
                 required: str | None = "Package") -> None:
        self._lines = LineReader(stream, max_record, max_bytes)  # the one bounded line reader
        self.max_record = max_record
        self.required = required
        self.damaged = 0

    @property
    def truncated(self) -> bool:
        """More than max_bytes: the rest was not read."""
        return self._lines.truncated

    @property
    def bytes_read(self) -> int:
        return self._lines.bytes_read

    @property
    def max_bytes(self) -> int | None:
        return self._lines.max_bytes

    def __iter__(self) -> Iterator[dict[str, str]]:
        current: dict[str, str] = {}
        last: str | None = None
        size = 0
        bad = False
        for line in self._lines.marked():
            if line is None:  # a line longer than max_record: its record is damaged
                bad = True
                continue
            if not line or line.isspace():
                if current or bad:
                    if bad or (self.required and self.required not in current):
                        self.damaged += 1
                    else:
                        yield current
                current, last, size, bad = {}, None, 0, False
                continue
            if bad:
                continue
            size += len(line) + 1
            if size > self.max_record:
                bad, current, last = True, {}, None
                continue
            first = line[0]
            if first == 0x20 or first == 0x09:  # continuation
                if last is not None and last not in _UNFOLDED:
                    current[last] += "\n" + line.strip().decode("utf-8", "replace")
                continue
            key, sep, value = line.partition(b":")
            if not sep:
                continue
            last = key.strip().decode("utf-8", "replace")
            current[last] = value.strip().decode("utf-8", "replace")
        if current or bad:
            if bad or (self.required and self.required not in current):
                self.damaged += 1
            else:
                yield current


def parse_stanzas(text: str) -> list[dict[str, str]]:
    """All stanzas of a text (tests and small files); see `StanzaReader`."""
    return list(StanzaReader(io.BytesIO(text.encode("utf-8", "surrogateescape")), required=None))


@dataclass(slots=True)
class _Record:
    name: str
    version: str
    arch: str | None
    source_name: str
    source_version: str
    loc: Location
    maintainer: str | None = None
    depends: str = ""
    provides: str = ""
    layer_evidence: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _record(stanza: dict[str, str], loc: Location, need_status: bool) -> _Record | None:
    """The record of a package whose files are on disk; None for other states, or without a name
    or version. An unreadable Source field leaves source = binary package."""
    name = stanza.get("Package", "")
    version = stanza.get("Version", "")
    if not name or not version:
        return None
    status = stanza.get("Status")
    if status is None:
        if need_status:
            return None  # the main status file always carries Status
    else:
        words = status.split()
        if len(words) != 3 or words[2] not in _ON_DISK:
            return None
    source_name, source_version = name, version
    src = stanza.get("Source")
    if src:
        m = _SOURCE.match(src)
        if m:
            source_name = m.group("name")
            source_version = m.group("version") or version
    depends = ", ".join(v for v in (stanza.get("Pre-Depends"), stanza.get("Depends")) if v)
    return _Record(name=name, version=version, arch=stanza.get("Architecture") or None,
                   source_name=source_name, source_version=source_version, loc=loc,
                   maintainer=stanza.get("Maintainer"), depends=depends,
                   provides=stanza.get("Provides", ""))


def _package(r: _Record, os_info: OSInfo | None, licenses: list[str]) -> Package:
    ecosystem = ecosystem_for(os_info, "Debian")
    namespace = os_info.id if os_info is not None else "debian"
    quals: dict[str, str | None] = {"arch": r.arch, "distro": distro_qualifier(os_info)}
    if r.source_name != r.name:
        quals["upstream"] = r.source_name
    if r.source_version != r.version:
        quals["upstream"] = f"{r.source_name}@{r.source_version}"
    metadata: dict[str, str] = {}
    if r.maintainer:
        metadata["maintainer"] = r.maintainer
    if r.layer_evidence:
        metadata["layer_evidence"] = r.layer_evidence
    return Package(name=r.name, version=r.version, ecosystem=ecosystem,
                   purl=purl("deb", namespace, r.name, r.version, quals), locations=[r.loc],
                   source_name=r.source_name, source_version=r.source_version, arch=r.arch,
                   licenses=list(licenses), cataloger="dpkg", metadata=metadata)


def parse_dpkg_status(data: bytes, loc: Location, os_info: OSInfo | None = None,
                      need_status: bool = True) -> list[Package]:
    """The packages on disk of a dpkg status file (or a distroless status.d file: need_status
    False), in file order. Pure: no licenses, no layer attribution, no dependencies."""
    out = []
    for stanza in StanzaReader(io.BytesIO(data)):
        rec = _record(stanza, loc, need_status)
        if rec is not None:
            out.append(_package(rec, os_info, []))
    return out


def parse_copyright(data: bytes) -> list[str]:
    """The `License:` values of a (DEP-5) copyright file, in order, once each."""
    found: list[str] = []
    for line in decode(data).split("\n"):
        if line.startswith("License:"):
            value = line[8:].strip()
            if value and len(value) <= 100 and value not in found:
                found.append(value)
    return found


def parse_file_list(data: bytes, md5sums: bool = False) -> list[str]:
    """Absolute paths of an info/<pkg>.list (one per line) or a <pkg>.md5sums ("md5  rel/path")."""
    out = []
    for line in decode(data).split("\n"):
        if md5sums:
            _, sep, rel = line.partition("  ")
            path = "/" + rel.strip().lstrip("/") if sep else ""
        else:
            path = line.strip()
        if path.startswith("/") and len(path) > 1 and path != "/.":  # dpkg lists the root as "/."
            out.append(path)
    return out


def _split_depends(text: str) -> Iterator[list[str]]:
    """'a (>= 1) | b, c:any' -> ['a', 'b'], ['c']: the names of each group's alternatives."""
    for group in text.split(","):
        names = []
        for alt in group.split("|"):
            m = _DEP_NAME.match(alt)
            if m:
                names.append(m.group(1))
        if names:
            yield names


class DpkgCataloger(BaseCataloger):
    name = "dpkg"
    what = "dpkg database"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None,
                 catalog_limits: CatalogLimits | None = None) -> None:
        super().__init__(limits, ownership, catalog_limits)
        self._records: dict[tuple[str, str, str | None], _Record] = {}
        self._licenses: dict[str, list[str]] = {}
        self._lists: dict[str, FileEntry] = {}  # "pkg" or "pkg:arch" -> its info/*.list entry

    def wants(self, entry: FileEntry) -> bool:
        path = entry.path
        if path == STATUS:
            return entry.kind is not EntryKind.DIR
        if path.startswith(STATUS_D):  # distroless: control files, and md5sums naming the files
            return entry.kind is not EntryKind.DIR
        if path.startswith(INFO):  # file lists: which package installed which file, and in which layer
            return path.endswith(".list") and entry.kind is not EntryKind.DIR
        # /usr/share/doc/<package>/copyright (machine-readable DEP-5 files name their licenses)
        return (path.endswith("/copyright") and path.startswith(DOC) and path.count("/") == 5
                and entry.kind is EntryKind.FILE)

    def _copyright(self, entry: FileEntry, content: IO[bytes]) -> None:
        data = self.read_bounded(entry, content, MAX_COPYRIGHT)
        if data is None:
            return
        found = parse_copyright(data)
        if found:
            self._licenses[entry.path[len(DOC):].split("/", 1)[0]] = found

    def _file_list(self, entry: FileEntry, content: IO[bytes]) -> None:
        """info/<pkg>[:arch].list (absolute paths) or status.d/<pkg>.md5sums ("md5  rel/path")."""
        base = entry.path.rsplit("/", 1)[-1]
        md5sums = base.endswith(".md5sums")
        stem = base.rsplit(".", 1)[0]
        if not md5sums:
            self._lists[stem] = entry
        data = self.read_bounded(entry, content, MAX_FILE_LIST)
        if data is None:
            return
        owner = "deb:" + stem.split(":", 1)[0]
        for path in parse_file_list(data, md5sums):
            self.ownership.add(path, owner)

    def _visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        path = entry.path
        if path.startswith(DOC):
            self._copyright(entry, content)
            return
        if path.endswith((".list", ".md5sums")):
            self._file_list(entry, content)
            return
        need_status = not entry.path.startswith(STATUS_D)
        loc = location(entry)
        reader = StanzaReader(content, max_bytes=self.limits.max_file_size)
        for stanza in reader:
            rec = _record(stanza, loc, need_status)
            if rec is None:
                continue
            src = stanza.get("Source")
            if src and not _SOURCE.match(src):
                self.warn(entry, f"package {rec.name}: unreadable Source field {src[:100]!r}")
            self._records.setdefault((rec.name, rec.version, rec.arch), rec)
        if reader.damaged:
            self.skip(entry, "damaged record(s): no Package field, or larger than "
                      f"{reader.max_record} bytes", count=reader.damaged, what="dpkg records in",
                      category="damaged")
        if reader.truncated:
            self.skip(entry, f"only the first {reader.max_bytes} bytes were read (the single-file limit)",
                      category="skipped")

    def _installed_in(self, r: _Record) -> None:
        """Attribute the record to the layer that wrote the package's info/*.list."""
        listed = None
        if r.arch:
            listed = self._lists.get(f"{r.name}:{r.arch}")
        listed = listed or self._lists.get(r.name)
        if listed is None or r.loc.path != STATUS:
            return
        r.loc = layer_location(listed.layer, STATUS)
        r.layer_evidence = listed.path

    def packages(self, ctx: CatalogContext) -> list[Package]:
        out: list[Package] = []
        by_name: dict[str, Package] = {}
        provided: dict[str, Package] = {}
        records = list(self._records.values())
        for r in records:
            self._installed_in(r)
            pkg = _package(r, ctx.os, normalize_licenses(self._licenses.get(r.name, ())))
            out.append(pkg)
            by_name.setdefault(r.name, pkg)
        for r, pkg in zip(records, out, strict=True):
            for names in _split_depends(r.provides):
                provided.setdefault(names[0], pkg)
        for r, pkg in zip(records, out, strict=True):
            deps: list[str] = []
            for names in _split_depends(r.depends):
                target = next((by_name[n] for n in names if n in by_name), None)
                if target is None:
                    target = next((provided[n] for n in names if n in provided), None)
                if target is not None and target is not pkg and target.purl not in deps:
                    deps.append(target.purl)
            pkg.dependencies = deps
        return out
