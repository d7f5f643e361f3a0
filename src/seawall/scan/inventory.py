"""What is inside an image: one pass over its layers, then every cataloger's packages.

`inventory(source, limits)` runs `seawall.image.fs.walk` once with the OS-release visitor, the
registered catalogers (`seawall.catalog.new_catalogers`) and any extra visitors (secrets,
image checks, progress), then asks each cataloger for its packages once the OS is known.
The result is deduplicated (one package per ecosystem/name/version/purl, its locations merged)
and sorted, so two runs on the same image give the same output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

from seawall.catalog import CatalogContext, OSReleaseVisitor, new_catalogers
from seawall.core import Location, OSInfo, Package
from seawall.image.base import FileEntry, FileVisitor, ImageConfig, ImageSource, LayerInfo, Limits
from seawall.image.fs import FileIndex, walk


@dataclass(slots=True)
class Inventory:
    packages: list[Package]
    os: OSInfo | None
    files: FileIndex
    config: ImageConfig
    warnings: list[str] = field(default_factory=list)


class LayerProgress:
    """A visitor that reads nothing: it reports when the pass reaches a new layer."""

    name = "progress"

    def __init__(self, callback: Callable[[LayerInfo | None], None]) -> None:
        self._callback = callback
        self._last: object = _UNSET

    def wants(self, entry: FileEntry) -> bool:
        layer = entry.layer
        if layer is not self._last:
            self._last = layer
            self._callback(layer)
        return False

    def visit(self, entry: FileEntry, content: IO[bytes]) -> None:  # never called
        return None


_UNSET = object()


def _package_key(pkg: Package) -> tuple[str, str, str, str]:
    return (pkg.ecosystem, pkg.name, pkg.version, pkg.purl)


def _location_key(loc: Location) -> tuple[str, str, int]:
    return (loc.path or "", loc.layer or "", loc.line or 0)


def dedupe(packages: Sequence[Package]) -> list[Package]:
    """One package per (ecosystem, name, version, purl); locations merged; stable sorted order."""
    merged: dict[tuple[str, str, str, str], Package] = {}
    for pkg in packages:
        key = _package_key(pkg)
        kept = merged.get(key)
        if kept is None:
            merged[key] = pkg
            continue
        seen = {_location_key(loc) for loc in kept.locations}
        for loc in pkg.locations:
            if _location_key(loc) not in seen:
                kept.locations.append(loc)
                seen.add(_location_key(loc))
        for attr in ("source_name", "source_version", "arch", "cataloger"):
            if getattr(kept, attr) is None and getattr(pkg, attr) is not None:
                setattr(kept, attr, getattr(pkg, attr))
        for lic in pkg.licenses:
            if lic not in kept.licenses:
                kept.licenses.append(lic)
    out = list(merged.values())
    for pkg in out:
        pkg.locations.sort(key=_location_key)
    out.sort(key=lambda p: (p.ecosystem.lower(), p.name.lower(), p.name, p.version, p.purl))
    return out


def inventory(source: ImageSource, limits: Limits, extra_visitors: Sequence[FileVisitor] = ()) -> Inventory:
    """Catalog every package of `source` in one pass over its layers."""
    os_visitor = OSReleaseVisitor()
    catalogers = new_catalogers(limits)
    visitors: list[FileVisitor] = [os_visitor, *catalogers, *extra_visitors]
    files = walk(source, visitors, limits)
    os_info = os_visitor.os()
    ctx = CatalogContext(os=os_info, limits=limits)
    packages: list[Package] = []
    warnings: list[str] = list(files.warnings)  # the walk's own: unread big files, dangling links ...
    for cataloger in catalogers:
        packages.extend(cataloger.packages(ctx))
        warnings.extend(getattr(cataloger, "warnings", None) or [])
    return Inventory(packages=dedupe(packages), os=os_info, files=files, config=source.config(),
                     warnings=warnings)
