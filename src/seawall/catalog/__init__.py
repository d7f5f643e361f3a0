"""Package catalogers, one module per ecosystem, registered here (and only here).

`new_catalogers()` gives fresh instances for one image pass; `OSReleaseVisitor` finds the OS.
"""

from __future__ import annotations

from collections.abc import Callable

from seawall.catalog._common import Ownership
from seawall.catalog.apk import ApkCataloger
from seawall.catalog.base import CatalogContext, Cataloger
from seawall.catalog.binary import BinaryCataloger
from seawall.catalog.dpkg import DpkgCataloger
from seawall.catalog.golang import GoBinaryCataloger
from seawall.catalog.java import JavaArchiveCataloger
from seawall.catalog.limits import DEFAULT_LIMITS, CatalogLimits
from seawall.catalog.npm import NpmCataloger
from seawall.catalog.os_release import OS_ECOSYSTEMS, OSReleaseVisitor, ecosystem_for
from seawall.catalog.python import PythonCataloger
from seawall.catalog.rpm import RpmCataloger
from seawall.core import InputError
from seawall.image.base import Limits

# name -> factory; the order is the order of packages in reports (OS packages first).
CATALOGERS: dict[str, Callable[[Limits | None, Ownership | None, CatalogLimits | None], Cataloger]] = {
    DpkgCataloger.name: DpkgCataloger,
    ApkCataloger.name: ApkCataloger,
    RpmCataloger.name: RpmCataloger,
    PythonCataloger.name: PythonCataloger,
    NpmCataloger.name: NpmCataloger,
    JavaArchiveCataloger.name: JavaArchiveCataloger,
    GoBinaryCataloger.name: GoBinaryCataloger,
    BinaryCataloger.name: BinaryCataloger,
}


def new_catalogers(limits: Limits | None = None, names: list[str] | None = None,
                   catalog_limits: CatalogLimits | None = None) -> list[Cataloger]:
    """Fresh cataloger instances (they hold state, and the per-image budgets, for one pass).
    `names` selects a subset.

    The instances share one `Ownership` map: language packages whose file an OS package
    installed get metadata["os_package"] (e.g. "deb:python3-urllib3"), binaries an OS package
    installed are not classified again.
    """
    if names is not None:
        unknown = [n for n in names if n not in CATALOGERS]
        if unknown:
            raise InputError(f"unknown cataloger(s) {', '.join(unknown)}; known: {', '.join(CATALOGERS)}")
    selected = CATALOGERS if names is None else {n: CATALOGERS[n] for n in names}
    ownership = Ownership()
    return [factory(limits, ownership, catalog_limits or DEFAULT_LIMITS) for factory in selected.values()]


__all__ = ["CATALOGERS", "DEFAULT_LIMITS", "OS_ECOSYSTEMS", "CatalogContext", "CatalogLimits", "Cataloger",
           "OSReleaseVisitor", "ecosystem_for", "new_catalogers"]
