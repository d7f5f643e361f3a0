"""Feed importers, one module each, registered here; `detect` picks one by content.

`expand(path)` turns what a user passes to `seawall db import` into feeds: a file is one feed; a
directory is walked (symbolic links are not followed) and every file in it is recognised by its
content -- archives and whole-feed files (OSV zips, secdb, tracker, updateinfo, NVD feeds, KEV,
EPSS) are one feed each, single-record files (OSV JSON, CVE records, CSAF documents, NVD records)
are grouped into one feed per kind, and files that are no feed are listed, not fatal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from seawall.core.errors import InputError, LimitExceeded
from seawall.vulndb.base import FeedLimits, Importer, Record
from seawall.vulndb.importers.common import read_head
from seawall.vulndb.importers.csaf import CsafImporter
from seawall.vulndb.importers.debian_tracker import DebianTrackerImporter
from seawall.vulndb.importers.epss import EpssImporter
from seawall.vulndb.importers.kev import KevImporter
from seawall.vulndb.importers.nvd import CveRecordImporter, NvdImporter
from seawall.vulndb.importers.osv import OsvImporter
from seawall.vulndb.importers.secdb import SecdbImporter
from seawall.vulndb.importers.updateinfo import UpdateinfoImporter

# order matters: the more specific formats first (a secdb, KEV or NVD file is also JSON, and OSV
# sniffs any JSON object with an "id")
IMPORTERS: dict[str, Importer] = {i.kind: i for i in (
    SecdbImporter(), UpdateinfoImporter("alas", b"ALAS"), UpdateinfoImporter("bottlerocket", b"BRSA"),
    DebianTrackerImporter(), CsafImporter(), KevImporter(), EpssImporter(), CveRecordImporter(),
    NvdImporter(), OsvImporter())}
# older or more specific names accepted in feeds files
TYPE_ALIASES = {"alpine-secdb": "secdb", "wolfi-secdb": "secdb", "chainguard-secdb": "secdb",
                "redhat-csaf": "csaf", "cisa-kev": "kev"}
KNOWN = "OSV zip/JSON, Alpine/Wolfi/Chainguard secdb, Debian tracker JSON, ALAS or Bottlerocket " \
        "updateinfo.xml, Red Hat CSAF, NVD or CVE JSON, CISA KEV JSON, EPSS CSV"


def importer_named(kind: str) -> Importer | None:
    return IMPORTERS.get(TYPE_ALIASES.get(kind, kind))


def _sniff(path: Path, head: bytes) -> Importer | None:
    for importer in IMPORTERS.values():
        if importer.sniff(path, head):
            return importer
    return None


def detect(path: Path) -> Importer:
    """The importer for a feed file (or a directory of OSV JSON), from its content, not its name."""
    if path.is_symlink() and not path.exists():
        raise InputError(f"{path}: broken symbolic link")
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    head = b"" if path.is_dir() else read_head(path)
    importer = _sniff(path, head)
    if importer is None:
        raise InputError(f"{path}: not a feed seawall knows ({KNOWN})")
    return importer


@dataclass(slots=True)
class FileGroup:
    """Single-record files of one kind, read as one feed."""

    importer: Importer
    files: list[Path]
    name: str
    kind: str = ""

    def __post_init__(self) -> None:
        self.kind = self.importer.kind

    def sniff(self, path: Path, head: bytes) -> bool:
        return True

    def feed_name(self, path: Path) -> str:
        return self.name

    def read(self, path: Path, limits: FeedLimits) -> Iterator[Record]:
        for file in self.files:
            yield from self.importer.read(file, limits)


@dataclass(slots=True)
class Expanded:
    feeds: list[tuple[str, Importer, Path]] = field(default_factory=list)  # (name, importer, path)
    ignored: list[Path] = field(default_factory=list)  # files that are no feed seawall knows


def _single_record(importer: Importer, head: bytes) -> bool:
    if importer.kind in ("cve", "csaf"):
        return True
    if importer.kind == "osv":
        return head[:4] != b"PK\x03\x04"
    if importer.kind == "nvd":
        return b'"CVE_Items"' not in head and b'"vulnerabilities"' not in head
    return False


def _files(root: Path, limits: FeedLimits) -> list[Path]:
    out: list[Path] = []
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            entries = sorted(current.iterdir())
        except OSError as exc:
            raise InputError(f"{current}: cannot list ({exc.strerror or exc})") from None
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                stack.append(entry)
            elif entry.is_file():
                out.append(entry)
                if len(out) > limits.max_members:
                    raise LimitExceeded(f"{root}: more than {limits.max_members} files")
    return sorted(out)


def expand(path: Path, limits: FeedLimits | None = None) -> Expanded:
    """The feeds in a file or a directory (see the module docstring)."""
    limits = limits or FeedLimits()
    result = Expanded()
    if not path.is_dir() or path.is_symlink():
        importer = detect(path)
        if _single_record(importer, read_head(path)):  # merged with its kind's other files
            single = FileGroup(importer, [path], importer.feed_name(path))
            result.feeds.append((single.name, single, path))
        else:
            result.feeds.append((importer.feed_name(path), importer, path))
        return result
    groups: dict[str, FileGroup] = {}
    for file in _files(path, limits):
        try:
            head = read_head(file)
        except (InputError, OSError):
            result.ignored.append(file)
            continue
        found = _sniff(file, head)
        if found is None:
            result.ignored.append(file)
            continue
        importer = found
        if _single_record(importer, head):
            group = groups.get(importer.kind)
            if group is None:
                groups[importer.kind] = FileGroup(importer, [file], importer.feed_name(file))
            else:
                group.files.append(file)
        else:
            result.feeds.append((importer.feed_name(file), importer, file))
    for kind_group in groups.values():
        result.feeds.append((kind_group.name, kind_group, path))
    if not result.feeds:
        raise InputError(f"{path}: no feed seawall knows in this directory ({KNOWN})")
    return result


__all__ = ["IMPORTERS", "KNOWN", "TYPE_ALIASES", "Expanded", "FileGroup", "detect", "expand",
           "importer_named"]
