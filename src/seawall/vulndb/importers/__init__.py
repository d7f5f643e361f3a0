"""Feed importers, one module each, registered here; `detect` picks one by content."""

from __future__ import annotations

from pathlib import Path

from seawall.core.errors import InputError
from seawall.vulndb.base import Importer
from seawall.vulndb.importers.alas import AlasImporter
from seawall.vulndb.importers.alpine_secdb import AlpineSecdbImporter
from seawall.vulndb.importers.common import read_head
from seawall.vulndb.importers.debian_tracker import DebianTrackerImporter
from seawall.vulndb.importers.osv import OsvImporter

# order matters: the more specific formats first (an Alpine secdb is also JSON, OSV sniffs JSON)
IMPORTERS: dict[str, Importer] = {i.kind: i for i in (
    AlpineSecdbImporter(), AlasImporter(), DebianTrackerImporter(), OsvImporter())}


def detect(path: Path) -> Importer:
    """The importer for a feed file or directory, from its content (not its name)."""
    if path.is_symlink() and not path.exists():
        raise InputError(f"{path}: broken symbolic link")
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    head = b"" if path.is_dir() else read_head(path)
    for importer in IMPORTERS.values():
        if importer.sniff(path, head):
            return importer
    raise InputError(f"{path}: not a feed seawall knows (OSV zip/JSON, Alpine secdb, "
                     "Debian tracker JSON, ALAS updateinfo.xml)")


__all__ = ["IMPORTERS", "detect"]
