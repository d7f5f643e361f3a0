"""Package catalogers, one module per ecosystem, registered here (and only here).

`new_catalogers()` gives fresh instances for one image pass; `OSReleaseVisitor` finds the OS.
"""

from __future__ import annotations

from collections.abc import Callable

from seawall.catalog._common import Ownership
from seawall.catalog.apk import ApkCataloger
from seawall.catalog.base import CatalogContext, Cataloger
from seawall.catalog.dpkg import DpkgCataloger
from seawall.catalog.golang import GoBinaryCataloger
from seawall.catalog.java import JavaArchiveCataloger
from seawall.catalog.npm import NpmCataloger
from seawall.catalog.os_release import OS_ECOSYSTEMS, OSReleaseVisitor, ecosystem_for
from seawall.catalog.python import PythonCataloger
from seawall.catalog.rpm import RpmCataloger
from seawall.core import InputError
from seawall.image.base import Limits

# name -> factory; the order is the order of packages in reports (OS packages first).
CATALOGERS: dict[str, Callable[[Limits | None, Ownership | None], Cataloger]] = {
    DpkgCataloger.name: DpkgCataloger,
    ApkCataloger.name: ApkCataloger,
    RpmCataloger.name: RpmCataloger,
    PythonCataloger.name: PythonCataloger,
    NpmCataloger.name: NpmCataloger,
    JavaArchiveCataloger.name: JavaArchiveCataloger,
    GoBinaryCataloger.name: GoBinaryCataloger,
}


def new_catalogers(limits: Limits | None = None, names: list[str] | None = None) -> list[Cataloger]:
    """Fresh cataloger instances (they hold state for one pass). `names` selects a subset.

    The instances share one `Ownership` map: language packages whose file an OS package
    installed get metadata["os_package"] (e.g. "deb:python3-urllib3").
    """
    if names is not None:
        unknown = [n for n in names if n not in CATALOGERS]
        if unknown:
            raise InputError(f"unknown cataloger(s) {', '.join(unknown)}; known: {', '.join(CATALOGERS)}")
    selected = CATALOGERS if names is None else {n: CATALOGERS[n] for n in names}
    ownership = Ownership()
    return [factory(limits, ownership) for factory in selected.values()]


__all__ = ["CATALOGERS", "OS_ECOSYSTEMS", "CatalogContext", "Cataloger", "OSReleaseVisitor",
           "ecosystem_for", "new_catalogers"]
