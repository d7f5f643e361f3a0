"""Drive catalogers over a local directory the way the image pass does (one pass, wants/visit).

The image helper's `dir:` source + `seawall.image.fs.walk` replace this once they exist; this
walker stays minimal: regular files and symlinks resolved inside the root.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seawall.catalog import CatalogContext, OSReleaseVisitor, new_catalogers
from seawall.core import OSInfo, Package
from seawall.image.base import EntryKind, FileEntry, FileVisitor, LayerInfo, Limits

TEST_LAYER = LayerInfo(index=0, digest="sha256:" + "ab" * 32, created_by="RUN test-layer")


def walk_dir(root: Path, visitors: Sequence[FileVisitor], layer: LayerInfo | None = TEST_LAYER,
             prefix: str = "/") -> None:
    root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = Path(dirpath) / fname
            st = full.lstat()
            rel = prefix.rstrip("/") + "/" + str(full.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                kind, target = EntryKind.SYMLINK, os.readlink(full)
            elif stat.S_ISREG(st.st_mode):
                kind, target = EntryKind.FILE, None
            else:
                continue
            entry = FileEntry(path=rel, kind=kind, size=st.st_size, mode=stat.S_IMODE(st.st_mode),
                              layer=layer, link_target=target)
            wanting = [v for v in visitors if v.wants(entry)]
            if not wanting:
                continue
            real = full.resolve()
            if not real.is_file() or not real.is_relative_to(root):
                continue
            if kind is EntryKind.SYMLINK:
                rst = real.stat()
                entry = FileEntry(path=rel, kind=EntryKind.FILE, size=rst.st_size,
                                  mode=stat.S_IMODE(rst.st_mode), layer=layer)
            for v in wanting:
                with open(real, "rb") as fh:
                    v.visit(entry, fh)


@dataclass
class Catalog:
    packages: list[Package]
    os: OSInfo | None
    warnings: list[str] = field(default_factory=list)
    distroless: bool = False

    def by_name(self, name: str) -> list[Package]:
        return [p for p in self.packages if p.name == name]

    def one(self, name: str) -> Package:
        found = self.by_name(name)
        assert len(found) == 1, (name, found)
        return found[0]


def catalog_dir(root: Path, names: list[str] | None = None, layer: LayerInfo | None = TEST_LAYER,
                limits: Limits | None = None) -> Catalog:
    limits = limits or Limits()
    catalogers = new_catalogers(limits, names)
    osv = OSReleaseVisitor()
    walk_dir(root, [osv, *catalogers], layer=layer)
    info = osv.os()
    ctx = CatalogContext(os=info, limits=limits)
    packages = [p for c in catalogers for p in c.packages(ctx)]
    warnings = [w for c in catalogers for w in c.warnings] + osv.warnings
    return Catalog(packages=packages, os=info, warnings=warnings, distroless=osv.distroless)
