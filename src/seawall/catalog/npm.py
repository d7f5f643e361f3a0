"""npm packages: installed `node_modules/**/package.json` and `package-lock.json` v1-v3
(and npm's hidden `node_modules/.package-lock.json`).

A package found both ways at the same install path is reported once with both locations.
Dev dependencies listed only in a lockfile are skipped (they are not shipped unless they are
also in node_modules); links (workspaces) and entries without a version are skipped.

Dependencies (`dependencies`, `optionalDependencies`, `peerDependencies` of a package.json or a
lockfile entry, `requires` in a v1 lockfile) are resolved the way Node does: the nearest
`node_modules/<name>` from the dependent's directory up to the project root.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field
from typing import IO, Any

from seawall.catalog._common import BaseCataloger, Ownership, location, purl
from seawall.catalog.base import CatalogContext
from seawall.catalog.licenses import normalize_licenses
from seawall.catalog.limits import CatalogLimits
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
    requires: list[str] = field(default_factory=list)
    package: Package | None = None


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


def _requires(doc: dict[str, Any]) -> list[str]:
    """Names a package.json or lockfile entry depends on (v1 lockfiles: `requires`)."""
    out: list[str] = []
    for key in ("dependencies", "optionalDependencies", "peerDependencies", "requires"):
        value = doc.get(key)
        if isinstance(value, dict):
            out.extend(k for k in value if isinstance(k, str) and k not in out and "/.." not in f"/{k}")
    return out[:2000]


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

    what = "npm manifest"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None,
                 catalog_limits: CatalogLimits | None = None) -> None:
        super().__init__(limits, ownership, catalog_limits)
        self._found: dict[tuple[str, str, str], _Found] = {}

    def wants(self, entry: FileEntry) -> bool:
        path = entry.path
        if path.endswith("/package.json"):
            return entry.kind is not EntryKind.DIR and _installed_name(path) is not None
        if path.endswith("/package-lock.json"):
            return entry.kind is not EntryKind.DIR and _NM not in path
        return path.endswith(_HIDDEN_LOCK) and entry.kind is not EntryKind.DIR

    def _add(self, install_dir: str, name: str, version: str, licenses: list[str], loc: Location,
             requires: list[str] | None = None) -> None:
        key = (install_dir, name, version)
        found = self._found.get(key)
        if found is None:
            self._found[key] = _Found(name, version, licenses, [loc], list(requires or ()))
        else:
            if loc not in found.locations:
                found.locations.append(loc)
            if not found.licenses:
                found.licenses = licenses
            for dep in requires or ():
                if dep not in found.requires:
                    found.requires.append(dep)

    def _load(self, entry: FileEntry, content: IO[bytes], cap: int) -> dict[str, Any] | None:
        data = self.read_bounded(entry, content, cap)
        if data is None:
            return None
        try:
            doc = json.loads(data)
        except (ValueError, RecursionError) as exc:
            self.skip(entry, f"invalid JSON: {str(exc)[:120]}")
            return None
        if not isinstance(doc, dict):
            self.skip(entry, "not a JSON object")
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
            self._add(posixpath.dirname(path), name, version, _licenses(doc), location(entry), _requires(doc))
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
            self.skip(entry, "lockfile without packages or dependencies", what="npm lockfile")

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
            self._add(install_dir, name, version, _licenses(meta), loc, _requires(meta))

    def _from_dependencies(self, parent: str, deps: dict[str, Any], loc: Location, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        for name, meta in deps.items():
            if not isinstance(meta, dict) or not isinstance(name, str) or "/.." in f"/{name}":
                continue
            install_dir = f"{parent}/node_modules/{name}"
            version = meta.get("version")
            if (isinstance(version, str) and version and version[0].isdigit() and not meta.get("dev")):
                self._add(install_dir, name, version, [], loc, _requires(meta))
            nested = meta.get("dependencies")
            if isinstance(nested, dict):
                self._from_dependencies(install_dir, nested, loc, depth + 1)

    def packages(self, ctx: CatalogContext) -> list[Package]:
        out: list[Package] = []
        by_dir: dict[str, _Found] = {}
        for (install_dir, _, _), f in self._found.items():
            namespace, _, short = f.name.rpartition("/")
            f.package = Package(name=f.name, version=f.version, ecosystem="npm",
                                purl=purl("npm", namespace or None, short, f.version),
                                locations=list(f.locations), licenses=normalize_licenses(f.licenses),
                                cataloger=self.name)
            out.append(f.package)
            by_dir.setdefault(install_dir, f)
        for (install_dir, _, _), f in self._found.items():
            assert f.package is not None
            deps: list[str] = []
            for dep in f.requires:
                target = _resolve(by_dir, install_dir, dep)
                if target is not None and target.package is not None and target is not f \
                        and target.package.purl not in deps:
                    deps.append(target.package.purl)
            f.package.dependencies = deps
        return self.ownership.mark(out)


def _resolve(by_dir: dict[str, _Found], install_dir: str, name: str) -> _Found | None:
    """Node's lookup: <dir>/node_modules/<name>, then each parent directory's, to the root."""
    current = install_dir
    for _ in range(MAX_DEPTH * 2):
        found = by_dir.get(f"{current}/node_modules/{name}" if current != "/" else f"/node_modules/{name}")
        if found is not None:
            return found
        if current in ("/", ""):
            return None
        current = posixpath.dirname(current)
    return None


def _parse_with(path: str, data: bytes, loc: Location) -> list[Package]:
    """Run the cataloger's own reader on one file held in memory (pure: no image, no I/O)."""
    import io

    from seawall.image.base import Limits

    cataloger = NpmCataloger()
    entry = FileEntry(path=path, kind=EntryKind.FILE, size=len(data), mode=0o644, layer=None)
    cataloger.visit(entry, io.BytesIO(data))
    packages = cataloger.packages(CatalogContext(os=None, limits=Limits()))
    for pkg in packages:
        pkg.locations = [Location(path=loc.path, layer=loc.layer, layer_created_by=loc.layer_created_by)]
    return packages


def parse_package_json(data: bytes, loc: Location) -> Package | None:
    """The package an installed node_modules/<name>/package.json describes (None: not one)."""
    path = loc.path or "/node_modules/x/package.json"
    if _installed_name(path) is None:
        path = "/node_modules/x/package.json"
    found = _parse_with(path, data, loc)
    return found[0] if found else None


def parse_package_lock(data: bytes, loc: Location) -> list[Package]:
    """The installed packages a package-lock.json (v1, v2 or v3) lists, with their dependencies."""
    path = loc.path if loc.path and loc.path.endswith("/package-lock.json") else "/app/package-lock.json"
    return _parse_with(path, data, loc)
