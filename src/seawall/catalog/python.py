"""Python distributions: *.dist-info/METADATA, *.egg-info/PKG-INFO (or an .egg-info file),
*.egg/EGG-INFO/PKG-INFO. Names are normalized per PEP 503.

Dependencies: each `Requires-Dist` that is not only for an extra, resolved to a distribution
installed in the same directory (site-packages) of the image.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from typing import IO

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from seawall.catalog._common import BaseCataloger, Ownership, decode, location, purl
from seawall.catalog.base import CatalogContext
from seawall.catalog.licenses import normalize_licenses
from seawall.catalog.limits import CatalogLimits
from seawall.core import Location, Package
from seawall.image.base import EntryKind, FileEntry, Limits

# The header block is all we read; long descriptions after it are not needed.
MAX_HEADERS = 1 * 1024 * 1024
_FIRST_READ = 64 * 1024
_SUFFIXES = (".dist-info/METADATA", ".egg-info/PKG-INFO", "/EGG-INFO/PKG-INFO")
MAX_REQUIRES = 500


def parse_headers(text: str) -> list[tuple[str, str]]:
    """RFC 822 headers up to the first blank line; folded lines are joined."""
    headers: list[tuple[str, str]] = []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if not line:
            break
        if line[0] in " \t":
            if headers:
                key, value = headers[-1]
                headers[-1] = (key, value + " " + line.strip())
            continue
        key, sep, value = line.partition(":")
        if sep:
            headers.append((key.strip(), value.strip()))
    return headers


@dataclass(slots=True)
class _Dist:
    package: Package
    site: str  # the directory holding the distribution's metadata directory
    requires: list[str] = field(default_factory=list)  # canonical names


def _requirement_name(text: str) -> str | None:
    """The canonical name of a Requires-Dist line, None when it applies to an extra only."""
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    if req.marker is not None and "extra" in str(req.marker):
        return None
    return canonicalize_name(req.name)


def _parse(data: bytes, loc: Location) -> tuple[Package, list[str]] | None:
    end = data.find(b"\n\n")
    headers = parse_headers(decode(data if end < 0 else data[:end]))
    values: dict[str, str] = {}
    classifiers: list[str] = []
    requires: list[str] = []
    for key, value in headers:
        lowered = key.lower()
        if lowered == "classifier":
            if value.startswith("License ::"):
                classifiers.append(value.rsplit("::", 1)[-1].strip())
        elif lowered == "requires-dist":
            name = _requirement_name(value) if len(requires) < MAX_REQUIRES else None
            if name and name not in requires:
                requires.append(name)
        elif lowered not in values:
            values[lowered] = value
    raw_name, version = values.get("name", ""), values.get("version", "")
    if not raw_name or not version:
        return None
    name = canonicalize_name(raw_name)
    licenses: list[str] = []
    expression = values.get("license-expression")
    license_text = values.get("license")
    if expression:
        licenses.append(expression)
    elif license_text and license_text.upper() != "UNKNOWN" and len(license_text) <= 120 \
            and "\n" not in license_text:
        licenses.append(license_text)
    elif classifiers:
        licenses.extend(classifiers)
    metadata: dict[str, str] = {}
    if raw_name != name:
        metadata["name"] = raw_name
    pkg = Package(name=name, version=version, ecosystem="PyPI", purl=purl("pypi", None, name, version),
                  locations=[loc], licenses=normalize_licenses(licenses), cataloger="python",
                  metadata=metadata)
    return pkg, requires


def parse_python_metadata(data: bytes, loc: Location) -> Package | None:
    """The distribution a METADATA / PKG-INFO file describes (None without Name or Version)."""
    parsed = _parse(data, loc)
    return parsed[0] if parsed is not None else None


def _site(path: str) -> str:
    """/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA -> /usr/lib/python3/dist-packages."""
    if path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO")):
        return posixpath.dirname(posixpath.dirname(path))
    if path.endswith("/EGG-INFO/PKG-INFO"):  # site/x.egg/EGG-INFO/PKG-INFO
        return posixpath.dirname(posixpath.dirname(posixpath.dirname(path)))
    return posixpath.dirname(path)  # site/x.egg-info (a file)


class PythonCataloger(BaseCataloger):
    name = "python"
    what = "Python metadata"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None,
                 catalog_limits: CatalogLimits | None = None) -> None:
        super().__init__(limits, ownership, catalog_limits)
        self._dists: list[_Dist] = []

    def wants(self, entry: FileEntry) -> bool:
        path = entry.path
        # METADATA, PKG-INFO and *.egg-info end in 'A', 'O' or 'o': most paths stop at this test
        if not path or path[-1] not in "AOo" or entry.kind is EntryKind.DIR:
            return False
        return path.endswith(_SUFFIXES) or path.endswith(".egg-info")

    def _visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        data = content.read(_FIRST_READ)  # the headers; long descriptions follow a blank line
        if b"\n\n" not in data and b"\r\n\r\n" not in data and len(data) == _FIRST_READ:
            data += content.read(MAX_HEADERS - _FIRST_READ)
        parsed = _parse(data, location(entry))
        if parsed is None:
            self.skip(entry, "no Name or Version in the metadata")
            return
        pkg, requires = parsed
        self._dists.append(_Dist(pkg, _site(entry.path), requires))

    def packages(self, ctx: CatalogContext) -> list[Package]:
        by_site: dict[tuple[str, str], Package] = {}
        for d in self._dists:
            by_site.setdefault((d.site, d.package.name), d.package)
        for d in self._dists:
            deps: list[str] = []
            for name in d.requires:
                target = by_site.get((d.site, name))
                if target is not None and target is not d.package and target.purl not in deps:
                    deps.append(target.purl)
            d.package.dependencies = deps
        return self.ownership.mark([d.package for d in self._dists])
