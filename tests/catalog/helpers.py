"""Drive the catalogers the way a scan does: the image helper's `dir:` source and the real
layered walk (`seawall.image.fs.walk`), one pass, wants/visit, then packages(ctx)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seawall.catalog import CatalogContext, CatalogLimits, OSReleaseVisitor, new_catalogers
from seawall.core import OSInfo, Package, Skip
from seawall.image import open_image
from seawall.image.base import Limits
from seawall.image.fs import walk


@dataclass
class Catalog:
    packages: list[Package]
    os: OSInfo | None
    warnings: list[str] = field(default_factory=list)  # warnings, then one line per skip
    distroless: bool = False
    skips: list[Skip] = field(default_factory=list)

    def by_name(self, name: str) -> list[Package]:
        return [p for p in self.packages if p.name == name]

    def one(self, name: str) -> Package:
        found = self.by_name(name)
        assert len(found) == 1, (name, found)
        return found[0]


def catalog_ref(ref: str, names: list[str] | None = None, limits: Limits | None = None,
                catalog_limits: CatalogLimits | None = None) -> Catalog:
    limits = limits or Limits()
    catalogers = new_catalogers(limits, names, catalog_limits)
    osv = OSReleaseVisitor()
    with open_image(ref) as source:
        files = walk(source, [osv, *catalogers], limits)
    info = osv.os()
    ctx = CatalogContext(os=info, limits=limits, files=files)
    packages = [p for c in catalogers for p in c.packages(ctx)]
    skips = [s for c in catalogers for s in c.skips]
    warnings = [w for c in catalogers for w in c.warnings] + osv.warnings + [s.message() for s in skips]
    return Catalog(packages=packages, os=info, warnings=warnings, distroless=osv.distroless, skips=skips)


def catalog_dir(root: Path, names: list[str] | None = None, limits: Limits | None = None,
                catalog_limits: CatalogLimits | None = None) -> Catalog:
    return catalog_ref(f"dir:{root}", names, limits, catalog_limits)


def detect_os(root: Path) -> OSReleaseVisitor:
    osv = OSReleaseVisitor()
    with open_image(f"dir:{root}") as source:
        walk(source, [osv], Limits())
    return osv
