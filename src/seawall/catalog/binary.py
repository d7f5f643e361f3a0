"""Binary classifiers: runtimes and servers that no package database lists (Node.js copied into
/usr/local/bin, CPython built into /usr/local, a JRE unpacked from a tarball, nginx, httpd,
redis, postgres, openssl, busybox, curl), named and versioned from version strings inside the
file, as Syft's binary cataloger does. The classifiers are data (binaries.yaml beside this
module): base-name patterns, a regular expression with a `version` group, a CPE template.

`wants` looks at the base name only. A wanted file is read as a stream, in 1 MiB chunks with
an overlap (a string split over two chunks is still found), until the first match: memory is a
chunk, time is bounded by the single-file limit and by a per-image budget of bytes searched
(`CatalogLimits.binary_bytes_per_image`, past which the rest are reported as skipped). Only
ELF files are searched (except classifiers marked `elf: false`).

A file an OS package installed is not reported: the OS package is (dpkg's nginx, not a second
`nginx` from /usr/sbin/nginx), as Syft drops binary packages whose files a package owns.
Packages: ecosystem `Binary`, purl `pkg:generic/<name>@<version>`, one CPE, cataloger `binary`,
`metadata.class` and `metadata.evidence` (the matched text).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import IO, Any

import yaml

from seawall.catalog._common import BaseCataloger, Ownership, location, purl
from seawall.catalog.base import CatalogContext
from seawall.catalog.cpe import escape
from seawall.catalog.limits import Budget, CatalogLimits
from seawall.core import Location, Package
from seawall.core.text import printable
from seawall.image.base import EntryKind, FileEntry, Limits

CHUNK = 1024 * 1024
OVERLAP = 4096  # longer than any match the classifiers allow
MIN_SIZE = 64
_NAME_VERSION = re.compile(r"(\d+\.\d+)")


@dataclass(frozen=True, slots=True)
class Classifier:
    cls: str
    package: str
    files: tuple[str, ...]
    patterns: tuple[re.Pattern[bytes], ...]
    cpe: str
    elf: bool = True
    name_version: bool = False  # python3.11 must hold a 3.11.x version
    max_size: int | None = None
    sample: dict[str, Any] | None = None

    def matches_name(self, base: str) -> bool:
        return any(fnmatch.fnmatchcase(base, pattern) for pattern in self.files)


@cache
def classifiers() -> tuple[Classifier, ...]:
    text = resources.files("seawall.catalog").joinpath("binaries.yaml").read_text(encoding="utf-8")
    out = []
    for item in yaml.safe_load(text)["classifiers"]:
        out.append(Classifier(
            cls=str(item["class"]), package=str(item["package"]), files=tuple(item["files"]),
            patterns=tuple(re.compile(str(p).encode()) for p in item["patterns"]),
            cpe=str(item["cpe"]), elf=bool(item.get("elf", True)),
            name_version=bool(item.get("name_version", False)), max_size=item.get("max_size"),
            sample=item.get("sample")))
    return tuple(out)


@cache
def _by_exact_name() -> tuple[frozenset[str], tuple[str, ...]]:
    """(exact base names, name prefixes of the wildcard patterns): the cheap test of `wants`."""
    exact: set[str] = set()
    prefixes: set[str] = set()
    for c in classifiers():
        for pattern in c.files:
            if any(ch in pattern for ch in "*?["):
                prefixes.add(re.split(r"[*?\[]", pattern, maxsplit=1)[0])
            else:
                exact.add(pattern)
    return frozenset(exact), tuple(sorted(prefixes))


def classify(content: IO[bytes], base: str, size_cap: int, budget: Budget | None = None
             ) -> tuple[Classifier, str, str] | None:
    """(classifier, version, evidence) of the first match in a file named `base`, or None."""
    wanted = [c for c in classifiers() if c.matches_name(base)]
    if not wanted:
        return None
    window = b""
    read = 0
    first = True
    while read < size_cap:
        want = min(CHUNK, size_cap - read)
        if budget is not None:
            if budget.left <= 0:
                return None
            want = min(want, budget.left)
        chunk = content.read(want)
        if not chunk:
            break
        read += len(chunk)
        if budget is not None:
            budget.spend(len(chunk))
        if first:
            first = False
            is_elf = chunk[:4] == b"\x7fELF"
            wanted = [c for c in wanted if c.elf == is_elf]
            if not wanted:
                return None
        window = window[-OVERLAP:] + chunk
        for c in wanted:
            if c.max_size is not None and read > c.max_size:
                continue
            for pattern in c.patterns:
                m = pattern.search(window)
                if m is None:
                    continue
                version = m.group("version").decode("ascii", "replace")
                if c.name_version and not _name_agrees(base, version):
                    continue
                evidence = printable(m.group(0).decode("latin-1"))[:120]
                return c, version, evidence
    return None


def _name_agrees(base: str, version: str) -> bool:
    """python3.11 / libpython3.11.so must hold a 3.11.x version (a name without X.Y: any)."""
    m = _NAME_VERSION.search(base)
    return m is None or version.startswith(m.group(1) + ".")


def binary_package(c: Classifier, version: str, evidence: str, loc: Location) -> Package:
    return Package(name=c.package, version=version, ecosystem="Binary",
                   purl=purl("generic", None, c.package, version), locations=[loc],
                   cataloger="binary", cpes=[c.cpe.format(version=escape(version))],
                   metadata={"class": c.cls, "evidence": evidence})


def parse_binary(content: IO[bytes], loc: Location, max_bytes: int = 512 * 1024 * 1024) -> Package | None:
    """The runtime or server a file is, from the version strings in it (None: not one)."""
    base = (loc.path or "").rsplit("/", 1)[-1]
    found = classify(content, base, max_bytes)
    return binary_package(*found, loc) if found is not None else None


class BinaryCataloger(BaseCataloger):
    name = "binary"
    what = "binary"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None,
                 catalog_limits: CatalogLimits | None = None) -> None:
        super().__init__(limits, ownership, catalog_limits)
        self._budget = Budget(self.catalog_limits.binary_bytes_per_image)
        self._found: list[Package] = []
        self._exact, self._prefixes = _by_exact_name()

    def wants(self, entry: FileEntry) -> bool:
        if entry.kind is not EntryKind.FILE or entry.size < MIN_SIZE:
            return False
        path = entry.path
        base = path[path.rfind("/") + 1:]
        if base not in self._exact and not base.startswith(self._prefixes):
            return False
        return any(c.matches_name(base) for c in classifiers())

    def _visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        if self._budget.left <= 0:
            self.skip(entry, f"the per-image budget of {self.catalog_limits.binary_bytes_per_image} bytes "
                      "searched in binaries is spent", category="skipped")
            return
        base = entry.path.rsplit("/", 1)[-1]
        found = classify(content, base, min(entry.size, self.limits.max_file_size), self._budget)
        if found is not None:
            self._found.append(binary_package(*found, location(entry)))

    def packages(self, ctx: CatalogContext) -> list[Package]:
        return [p for p in self._found if not any(self.ownership.owner(loc) for loc in p.locations)]
