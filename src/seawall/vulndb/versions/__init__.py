"""Version schemes, one module each, registered here by OSV ecosystem name."""

from __future__ import annotations

from functools import lru_cache

from seawall.vulndb.versions.apk import ApkScheme
from seawall.vulndb.versions.base import VersionScheme, compare
from seawall.vulndb.versions.dpkg import DpkgScheme
from seawall.vulndb.versions.generic import GenericScheme
from seawall.vulndb.versions.golang import GoScheme
from seawall.vulndb.versions.maven import MavenScheme
from seawall.vulndb.versions.pep440 import Pep440Scheme
from seawall.vulndb.versions.rpm import RpmScheme
from seawall.vulndb.versions.semver import NpmScheme, SemverScheme
from seawall.vulndb.versions.upstream import UpstreamScheme

__all__ = ["SCHEMES", "VersionScheme", "compare", "scheme_for", "scheme_named"]

SCHEMES: dict[str, VersionScheme] = {
    s.name: s
    for s in (Pep440Scheme(), SemverScheme(), NpmScheme(), GoScheme(), DpkgScheme(), ApkScheme(),
              RpmScheme(), MavenScheme(), UpstreamScheme(), GenericScheme())
}

# OSV ecosystem (the part before ':') -> scheme name
_BY_ECOSYSTEM = {
    "PyPI": "pep440",
    "npm": "npm",
    "Go": "go",
    "crates.io": "semver",
    "Hex": "semver",
    "Pub": "semver",
    "NuGet": "semver",
    "SwiftURL": "semver",
    "Maven": "maven",
    "Debian": "dpkg",
    "Ubuntu": "dpkg",
    "Alpine": "apk",
    "Wolfi": "apk",
    "Chainguard": "apk",
    "Amazon Linux": "rpm",
    "Red Hat": "rpm",
    "Rocky Linux": "rpm",
    "AlmaLinux": "rpm",
    "SUSE": "rpm",
    "openSUSE": "rpm",
    "Mageia": "rpm",
    "openEuler": "rpm",
    "Photon OS": "rpm",
    "Bottlerocket": "rpm",
    "CPE": "upstream",  # NVD CPE match criteria (seawall.vulndb.cpe)
}


def scheme_named(name: str) -> VersionScheme:
    return SCHEMES.get(name, SCHEMES["generic"])


@lru_cache(maxsize=1024)
def scheme_for(ecosystem: str) -> VersionScheme:
    """The scheme of an OSV ecosystem (`Debian:12` -> dpkg); generic when unknown."""
    base = ecosystem.split(":", 1)[0]
    return SCHEMES[_BY_ECOSYSTEM.get(base, "generic")]
