"""npm packages: installed `node_modules/**/package.json` and `package-lock.json` v1-v3
(and npm's hidden `node_modules/.package-lock.json`).

A package found both ways at the same install path is reported once with both locations.
Dev dependencies listed only in a lockfile are skipped (they are not shipped unless they are
also in node_modules); links (workspaces) and entries without a version are skipped.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import IO, Any

from seawall.catalog._common import BaseCataloger, Ownership, location, purl
from seawall.catalog.base import CatalogContext
from seawall.core import Location, Package
from seawall.image.base import EntryKind, FileEntry, Limits

MAX_PACKAGE_JSON = 4 * 1024 * 1024
MAX_LOCKFILE = 128 * 1024 * 1024
MAX_DEPTH = 64
_NM = "/node_modules/"
_HIDDEN_LOCK = "/node_modules/.package-lock.json"


@dataclass(slots=True)
class _Found:
    name: str
    version: str
    licenses: list[str]
    locations: list[Location]


def _licenses(doc: dict[str, Any]) -> list[str]:
    value = doc.get("license")
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return [value["type"]]
    items = doc.get("licenses")
    if isinstance(items, list):
        out = [i if isinstance(i, str) else i.get("type") for i in items if isinstance(i, str | dict)]
        return [x for x in out if isinstance(x, str) and x]
    return []


def _name_from_key(key: str) -> str:
    """'node_modules/a/node_modules/@s/b' -> '@s/b'."""
    return key.rsplit("node_modules/", 1)[-1]


def _installed_name(path: str) -> str | None:
    """The package directory name if `path` is node_modules/<name>/package.json (or a scoped one)."""
    idx = path.rfind(_NM)
    if idx < 0:
        return None
    parts = path[idx + len(_NM):].split("/")
    if len(parts) == 2 and not parts[0].startswith((".", "@")):
        return parts[0]
    if len(parts) == 3 and parts[0].startswith("@") and len(parts[0]) > 1:
        return f"{parts[0]}/{parts[1]}"
    return None


class NpmCataloger(BaseCataloger):
    name = "npm"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None) -> None:
        super().__init__(limits, ownership)
        self._found: dict[tuple[str, str, str], _Found] = {}

    def wants(self, entry: FileEntry) -> bool:
        path = entry.path
        if path.endswith("/package.json"):
            return entry.kind is not EntryKind.DIR and _installed_name(path) is not None
        if path.endswith("/package-lock.json"):
            return entry.kind is not EntryKind.DIR and _NM not in path
        return path.endswith(_HIDDEN_LOCK) and entry.kind is not EntryKind.DIR

    def _add(self, install_dir: str, name: str, version: str, licenses: list[str], loc: Location) -> None:
        key = (install_dir, name, version)
        found = self._found.get(key)
        if found is None:
            self._found[key] = _Found(name, version, licenses, [loc])
        else:
            if loc not in found.locations:
                found.locations.append(loc)
            if not found.licenses:
                found.licenses = licenses

    def _load(self, entry: FileEntry, content: IO[bytes], cap: int) -> dict[str, Any] | None:
        data = self.read_bounded(entry, content, cap)
        if data is None:
            return None
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError) as exc:
            self.warn(entry, f"invalid JSON: {str(exc)[:120]}")
            return None
        if not isinstance(doc, dict):
            self.warn(entry, "not a JSON object")
            return None
        return doc

    def _visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        path = entry.path
        if path.endswith("/package.json"):
            doc = self._load(entry, content, MAX_PACKAGE_JSON)
            if doc is None:
                return
            name, version = doc.get("name"), doc.get("version")
            if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
                return  # not every package.json under node_modules is a package manifest
            self._add(posixpath.dirname(path), name, version, _licenses(doc), location(entry))
            return
        doc = self._load(entry, content, MAX_LOCKFILE)
        if doc is None:
            return
        base = posixpath.dirname(path)
        if path.endswith(_HIDDEN_LOCK):
            base = posixpath.dirname(base)
        loc = location(entry)
        packages = doc.get("packages")
        if isinstance(packages, dict) and packages:
            self._from_packages(base, packages, loc)
        elif isinstance(doc.get("dependencies"), dict):
            self._from_dependencies(base, doc["dependencies"], loc, 0)
        else:
            self.warn(entry, "lockfile without packages or dependencies")

    def _from_packages(self, base: str, packages: dict[str, Any], loc: Location) -> None:
        for key, meta in packages.items():
            if not key or "node_modules/" not in key or not isinstance(meta, dict):
                continue
            if meta.get("link") or meta.get("dev") or meta.get("extraneous"):
                continue
            version = meta.get("version")
            name = meta.get("name") or _name_from_key(key)
            if not isinstance(version, str) or not version or not isinstance(name, str):
                continue
            install_dir = posixpath.normpath(posixpath.join(base, key))
            if not install_dir.startswith(base.rstrip("/") + "/"):
                continue  # '../' keys point outside the project
            self._add(install_dir, name, version, _licenses(meta), loc)

    def _from_dependencies(self, parent: str, deps: dict[str, Any], loc: Location, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        for name, meta in deps.items():
            if not isinstance(meta, dict) or not isinstance(name, str) or "/.." in f"/{name}":
                continue
            install_dir = f"{parent}/node_modules/{name}"
            version = meta.get("version")
            if (isinstance(version, str) and version and version[0].isdigit() and not meta.get("dev")):
                self._add(install_dir, name, version, [], loc)
            nested = meta.get("dependencies")
            if isinstance(nested, dict):
                self._from_dependencies(install_dir, nested, loc, depth + 1)

    def packages(self, ctx: CatalogContext) -> list[Package]:
        out: list[Package] = []
        for f in self._found.values():
            namespace, _, short = f.name.rpartition("/")
            out.append(Package(name=f.name, version=f.version, ecosystem="npm",
                               purl=purl("npm", namespace or None, short, f.version),
                               locations=list(f.locations), licenses=f.licenses, cataloger=self.name))
        return self.ownership.mark(out)
