"""What is inside an image: one pass over its layers, then every cataloger's packages.

`inventory(source, limits)` runs `seawall.image.fs.walk` once with the OS-release visitor, the
registered catalogers (`seawall.catalog.new_catalogers`) and any extra visitors (secrets,
image checks, progress), then asks each cataloger for its packages once the OS and the final
file index are known (the OS catalogers find the layer that installed each package from it).
The result is deduplicated (one package per ecosystem/name/version/purl, its locations merged),
given CPE names (`seawall.catalog.cpe`) and sorted, so two runs on the same image give the
same output. What the catalogers could not read comes back as `skips` (seawall.core.Skip).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

from seawall.catalog import CatalogContext, CatalogLimits, OSReleaseVisitor, new_catalogers
from seawall.catalog.cpe import assign_cpes
from seawall.core import Location, OSInfo, Package, Skip
from seawall.image.base import FileEntry, FileVisitor, ImageConfig, ImageSource, LayerInfo, Limits
from seawall.image.fs import FileIndex, walk


@dataclass(slots=True)
class Inventory:
    packages: list[Package]
    os: OSInfo | None
    files: FileIndex
    config: ImageConfig
    warnings: list[str] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)


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
        for attr in ("licenses", "cpes", "dependencies"):
            values = getattr(kept, attr)
            for value in getattr(pkg, attr):
                if value not in values:
                    values.append(value)
    out = list(merged.values())
    for pkg in out:
        pkg.locations.sort(key=_location_key)
    out.sort(key=lambda p: (p.ecosystem.lower(), p.name.lower(), p.name, p.version, p.purl))
    return out


def inventory(source: ImageSource, limits: Limits, extra_visitors: Sequence[FileVisitor] = (),
              catalog_limits: CatalogLimits | None = None) -> Inventory:
    """Catalog every package of `source` in one pass over its layers."""
    os_visitor = OSReleaseVisitor()
    catalogers = new_catalogers(limits, catalog_limits=catalog_limits)
    visitors: list[FileVisitor] = [os_visitor, *catalogers, *extra_visitors]
    files = walk(source, visitors, limits)
    os_info = os_visitor.os()
    ctx = CatalogContext(os=os_info, limits=limits, files=files)
    packages: list[Package] = []
    warnings: list[str] = list(files.warnings)  # the walk's own: unread big files, dangling links ...
    skips: list[Skip] = []
    for cataloger in catalogers:
        packages.extend(cataloger.packages(ctx))
        warnings.extend(cataloger.warnings)
        skips.extend(cataloger.skips)
    out = dedupe(packages)
    assign_cpes(out)
    return Inventory(packages=out, os=os_info, files=files, config=source.config(), warnings=warnings,
                     skips=skips)
