"""RPM packages from the rpmdb: SQLite (rpmdb.sqlite: RHEL 9, Amazon Linux 2023, Fedora) and
Berkeley DB hash (Packages: Amazon Linux 2, CentOS 7, RHEL 7/8), read without librpm.

The database file is read (bounded by the single-file limit) into memory: SQLite opens it with
`deserialize` (no temp file), BDB pages are parsed in `_bdb`. Each value is an rpm header blob
(`_rpmheader`). A database that cannot be read is a `Skip`, unreadable headers are counted.

The rpmdb is rewritten by every `dnf install`; the layer that installed a package is the lowest
layer holding one of the package's files in the final image (`installing_layer`).
"""

from __future__ import annotations

import re
import sqlite3
import struct
from dataclasses import dataclass, field
from typing import IO, Any

from seawall.catalog import _bdb
from seawall.catalog._common import (
    BaseCataloger,
    Ownership,
    distro_qualifier,
    in_installing_layer,
    location,
    purl,
)
from seawall.catalog._rpmheader import (
    ARCH,
    EPOCH,
    LICENSE,
    MODULARITYLABEL,
    NAME,
    RELEASE,
    SOURCERPM,
    VENDOR,
    VERSION,
    HeaderError,
    parse_file_list,
    parse_header,
)
from seawall.catalog.base import CatalogContext
from seawall.catalog.licenses import normalize_license
from seawall.catalog.limits import CatalogLimits
from seawall.catalog.os_release import ecosystem_for
from seawall.core import Location, OSInfo, Package
from seawall.image.base import EntryKind, FileEntry, Limits

_DIRS = ("/var/lib/rpm/", "/usr/lib/sysimage/rpm/")
SQLITE_NAMES = ("rpmdb.sqlite",)
BDB_NAMES = ("Packages",)
NDB_NAMES = ("Packages.db",)  # SUSE's NDB: recognised and reported as not read
WAL_NAMES = ("rpmdb.sqlite-wal",)
_WANTED = frozenset(d + n for d in _DIRS for n in SQLITE_NAMES + BDB_NAMES + NDB_NAMES + WAL_NAMES)
_SQLITE_MAGIC = b"SQLite format 3\x00"
FILES_KEPT = 32  # files per package remembered to find the layer that installed it
_SRPM = re.compile(r"^(?P<name>.+)-(?P<version>[^-]+)-(?P<release>[^-]+)\.(?:no)?src\.rpm$")


@dataclass(slots=True)
class _Record:
    name: str
    epoch: int | None
    version: str
    release: str
    arch: str | None
    sourcerpm: str | None
    license: str | None
    vendor: str | None
    modularity: str | None
    loc: Location
    files: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def evr(self) -> str:
        vr = f"{self.version}-{self.release}"
        return f"{self.epoch}:{vr}" if self.epoch is not None else vr


def split_source_rpm(srpm: str) -> tuple[str, str] | None:
    """'bash-4.2.46-34.amzn2.src.rpm' -> ('bash', '4.2.46-34.amzn2')."""
    m = _SRPM.match(srpm)
    if not m:
        return None
    return m.group("name"), f"{m.group('version')}-{m.group('release')}"


def read_sqlite_blobs(data: bytes) -> list[bytes]:
    """Header blobs of an rpmdb.sqlite image held in memory (never a file on disk)."""
    buf = bytearray(data)
    if buf[18:20] == b"\x02\x02":  # WAL mode: read it as a rollback-journal database
        buf[18:20] = b"\x01\x01"
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(bytes(buf))
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.execute("PRAGMA cell_size_check = ON")
        kind = conn.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
        if not kind or kind[0] != "table":
            raise sqlite3.DatabaseError("no Packages table")
        return [bytes(row[0]) for row in conn.execute("SELECT blob FROM Packages ORDER BY hnum")
                if isinstance(row[0], bytes | memoryview)]
    finally:
        conn.close()


class RpmDatabaseError(ValueError):
    pass


def read_rpmdb_blobs(data: bytes) -> list[bytes]:
    """The header blobs of an rpm database held in memory (SQLite or BDB hash)."""
    try:
        if data.startswith(_SQLITE_MAGIC):
            return read_sqlite_blobs(data)
        if _bdb.is_bdb_hash(data[:512]):
            return list(_bdb.iter_values(data))
    except (sqlite3.Error, _bdb.BdbError, MemoryError, OverflowError) as exc:
        raise RpmDatabaseError(f"unreadable rpm database: {exc}") from None
    raise RpmDatabaseError("not an rpm database this version can read (SQLite or BDB hash)")


def _records(blobs: list[bytes], loc: Location) -> tuple[list[_Record], list[tuple[str, str]], int]:
    """(records, (path, package) ownership pairs, count of unreadable headers)."""
    records: list[_Record] = []
    owned: list[tuple[str, str]] = []
    bad = 0
    for blob in blobs:
        try:
            tags = parse_header(blob)
        except HeaderError:
            bad += 1
            continue
        name, version, release = tags.get(NAME), tags.get(VERSION), tags.get(RELEASE)
        if not isinstance(name, str) or not isinstance(version, str) or not isinstance(release, str):
            bad += 1
            continue
        if name == "gpg-pubkey":  # imported signing keys, not software
            continue
        files: list[str] = []
        try:
            for path in parse_file_list(blob):
                owned.append((path, name))
                if len(files) < FILES_KEPT:
                    files.append(path)
        except (HeaderError, struct.error):
            pass  # the package is still listed; only its file ownership is unknown
        epoch = tags.get(EPOCH)
        records.append(_Record(
            name=name, epoch=epoch if isinstance(epoch, int) else None, version=version,
            release=release, arch=_text(tags.get(ARCH)), sourcerpm=_text(tags.get(SOURCERPM)),
            license=_text(tags.get(LICENSE)), vendor=_text(tags.get(VENDOR)),
            modularity=_text(tags.get(MODULARITYLABEL)), loc=loc, files=files))
    return records, owned, bad


def _package(r: _Record, os_info: OSInfo | None) -> Package:
    ecosystem = ecosystem_for(os_info, "RPM")
    namespace = os_info.id if os_info is not None else None
    source_name = source_version = None
    if r.sourcerpm:
        split = split_source_rpm(r.sourcerpm)
        if split:
            source_name, source_version = split
            if r.epoch is not None:
                source_version = f"{r.epoch}:{source_version}"
    quals: dict[str, str | None] = {
        "arch": r.arch, "epoch": str(r.epoch) if r.epoch is not None else None,
        "upstream": r.sourcerpm, "distro": distro_qualifier(os_info)}
    metadata: dict[str, Any] = {"release": r.release}
    if r.epoch is not None:
        metadata["epoch"] = r.epoch
    if r.sourcerpm:
        metadata["source_rpm"] = r.sourcerpm
    if r.vendor:
        metadata["vendor"] = r.vendor
    if r.modularity:
        metadata["modularity_label"] = r.modularity
    return Package(
        name=r.name, version=r.evr, ecosystem=ecosystem,
        purl=purl("rpm", namespace, r.name, f"{r.version}-{r.release}", quals),
        locations=[r.loc], source_name=source_name, source_version=source_version,
        arch=r.arch, licenses=[normalize_license(r.license)] if r.license else [], cataloger="rpm",
        metadata=metadata)


def parse_rpmdb(data: bytes, loc: Location, os_info: OSInfo | None = None) -> list[Package]:
    """The packages of an rpm database (SQLite or BDB hash) held in memory, in database order.
    Pure (no layers); RpmDatabaseError when the database cannot be read."""
    records, _, _ = _records(read_rpmdb_blobs(data), loc)
    return [_package(r, os_info) for r in records]


class RpmCataloger(BaseCataloger):
    name = "rpm"
    what = "rpm database"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None,
                 catalog_limits: CatalogLimits | None = None) -> None:
        super().__init__(limits, ownership, catalog_limits)
        self._records: list[_Record] = []

    def wants(self, entry: FileEntry) -> bool:
        return entry.path in _WANTED and entry.kind is not EntryKind.DIR

    def _visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        if entry.path.endswith("-wal"):
            if entry.size > 0:  # rpm checkpoints when it closes the database; dnf in a crash may not
                self.warn(entry, "SQLite write-ahead log not merged: packages installed since the "
                                 "last checkpoint may be missing")
            return
        if entry.path.endswith(".db"):
            self.skip(entry, "NDB rpm databases (SUSE) are not read by this version", category="unsupported")
            return
        data = self.read_bounded(entry, content, self.limits.max_file_size)
        if data is None:
            return
        try:
            blobs = read_rpmdb_blobs(data)
        except RpmDatabaseError as exc:
            self.skip(entry, str(exc))
            return
        records, owned, bad = _records(blobs, location(entry))
        self._records.extend(records)
        for path, name in owned:
            self.ownership.add(path, f"rpm:{name}")
        if bad:
            self.skip(entry, "unreadable package header", count=bad, what="rpm package headers in",
                      category="damaged")

    def packages(self, ctx: CatalogContext) -> list[Package]:
        out: list[Package] = []
        for r in self._records:
            r.loc, evidence = in_installing_layer(r.loc, r.files, ctx.files, "")
            pkg = _package(r, ctx.os)
            if evidence is not None:
                pkg.metadata["layer_evidence"] = evidence
            out.append(pkg)
        return out


def _text(value: str | int | None) -> str | None:
    if not isinstance(value, str) or not value or value == "(none)":
        return None
    return value
