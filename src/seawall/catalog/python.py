"""Python distributions: *.dist-info/METADATA, *.egg-info/PKG-INFO (or an .egg-info file),
*.egg/EGG-INFO/PKG-INFO. Names are normalized per PEP 503."""

from __future__ import annotations

from typing import IO

from packaging.utils import canonicalize_name

from seawall.catalog._common import BaseCataloger, Ownership, decode, location, purl
from seawall.catalog.base import CatalogContext
from seawall.core import Package
from seawall.image.base import EntryKind, FileEntry, Limits

# The header block is all we read; long descriptions after it are not needed.
MAX_HEADERS = 1 * 1024 * 1024
_FIRST_READ = 64 * 1024
_SUFFIXES = (".dist-info/METADATA", ".egg-info/PKG-INFO", "/EGG-INFO/PKG-INFO")


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


class PythonCataloger(BaseCataloger):
    name = "python"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None) -> None:
        super().__init__(limits, ownership)
        self._packages: list[Package] = []

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
        end = data.find(b"\n\n")
        headers = parse_headers(decode(data if end < 0 else data[:end]))
        values: dict[str, str] = {}
        classifiers: list[str] = []
        for key, value in headers:
            lowered = key.lower()
            if lowered == "classifier":
                if value.startswith("License ::"):
                    classifiers.append(value.rsplit("::", 1)[-1].strip())
            elif lowered not in values:
                values[lowered] = value
        raw_name, version = values.get("name", ""), values.get("version", "")
        if not raw_name or not version:
            self.warn(entry, "no Name or Version in the metadata, skipped")
            return
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
        self._packages.append(Package(
            name=name, version=version, ecosystem="PyPI", purl=purl("pypi", None, name, version),
            locations=[location(entry)], licenses=licenses, cataloger=self.name, metadata=metadata))

    def packages(self, ctx: CatalogContext) -> list[Package]:
        return self.ownership.mark(list(self._packages))
