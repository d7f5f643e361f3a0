"""Which advisory ecosystems an operating system's packages are matched against.

    distro_for(OSInfo("rocky", "9.3"))   -> Distro("Rocky Linux", ("Rocky Linux:9",), source_names=False)
    distro_for(OSInfo("sles", "15.5"))   -> every `SUSE:* 15 SP5[-LTSS]` ecosystem the database holds

One table, one entry per distribution (os-release `ID`): the OSV ecosystem names its feeds use
(as the importers write them), and whether advisories name the source package (Debian, Ubuntu,
Alpine, Wolfi, Chainguard: the tracker, OSV and secdb data are per source/origin package) or the
binary rpm (Red Hat CSAF and OSV, Rocky, Alma, SUSE, Amazon, Bottlerocket). A distribution that
is not here is reported as a skip ("no advisory feed for this distribution"), never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from seawall.core import OSInfo

CODENAMES = {"wheezy": "7", "jessie": "8", "stretch": "9", "buster": "10", "bullseye": "11",
             "bookworm": "12", "trixie": "13", "forky": "14", "duke": "15"}


@dataclass(frozen=True, slots=True)
class Distro:
    family: str  # OSV base ecosystem: Debian, Ubuntu, Red Hat ...
    ecosystems: tuple[str, ...]  # the exact ecosystems to read, most specific first
    source_names: bool  # advisories name the source (origin) package, not the binary one
    pattern: re.Pattern[str] | None = None  # or: every database ecosystem matching this (SUSE)

    def resolve(self, known: Iterable[str]) -> list[str]:
        """The ecosystems to read, given those the database holds."""
        known_set = known if isinstance(known, set | frozenset) else set(known)
        if self.pattern is not None:
            return sorted(e for e in known_set if self.pattern.match(e))
        return [e for e in self.ecosystems if e in known_set]

    @property
    def wanted(self) -> str:
        """How the ecosystems are named in a skip message."""
        if self.pattern is not None:
            return f"{self.family} ({self.ecosystems[0]})" if self.ecosystems else self.family
        return " / ".join(self.ecosystems)


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def _debian(os: OSInfo, v: str) -> Distro | None:
    release = _major(v) if v else CODENAMES.get((os.codename or "").lower(), "")
    return Distro("Debian", (f"Debian:{release}",), True) if release else None


def _ubuntu(os: OSInfo, v: str) -> Distro | None:
    # Ubuntu Pro (ESM) ecosystems are left out: their fixes need a Pro subscription
    return Distro("Ubuntu", (f"Ubuntu:{v}:LTS", f"Ubuntu:{v}"), True) if v else None


def _alpine(os: OSInfo, v: str) -> Distro | None:
    parts = v.split(".")
    return Distro("Alpine", (f"Alpine:v{parts[0]}.{parts[1]}",), True) if len(parts) >= 2 else None


def _amazon(os: OSInfo, v: str) -> Distro | None:
    if not v:
        return None
    release = "1" if v.startswith("201") else _major(v)
    return Distro("Amazon Linux", (f"Amazon Linux:{release}",), False)


def _suse(os: OSInfo, v: str) -> Distro | None:
    """SLE files packages under the product *or module* that ships them ("SUSE:Linux Enterprise
    Module for Basesystem 15 SP5"), with support-phase suffixes ("... 15 SP5-LTSS"): every
    database ecosystem of this service pack is read."""
    if not v:
        return None
    major, _, minor = v.partition(".")
    sp = f" {major} SP{minor}" if minor and minor != "0" else f" {major}"
    pattern = re.compile(rf"^SUSE:.*{re.escape(sp)}(?:-[A-Z]+)?$")
    return Distro("SUSE", (f"SUSE:*{sp}",), False, pattern)


def _rpm(family: str, *, major_only: bool = True) -> Callable[[OSInfo, str], Distro | None]:
    def make(os: OSInfo, v: str) -> Distro | None:
        if not v:
            return None
        return Distro(family, (f"{family}:{_major(v) if major_only else v}",), False)
    return make


def _rolling(ecosystem: str, source_names: bool = True) -> Callable[[OSInfo, str], Distro | None]:
    family = ecosystem.split(":", 1)[0]
    return lambda os, v: Distro(family, (ecosystem,), source_names)


_TABLE: dict[str, Callable[[OSInfo, str], Distro | None]] = {
    "debian": _debian,
    "ubuntu": _ubuntu,
    "alpine": _alpine,
    "wolfi": _rolling("Wolfi"),
    "chainguard": _rolling("Chainguard"),
    "rhel": _rpm("Red Hat"),
    "rocky": _rpm("Rocky Linux"),
    "almalinux": _rpm("AlmaLinux"),
    "amzn": _amazon,
    "sles": _suse,
    "sled": _suse,
    "sles_sap": _suse,
    "sle-micro": _suse,
    "opensuse-leap": lambda os, v: Distro("openSUSE", (f"openSUSE:Leap {v}",), False) if v else None,
    "opensuse-tumbleweed": _rolling("openSUSE:Tumbleweed", source_names=False),
    "bottlerocket": _rolling("Bottlerocket", source_names=False),
}


def distro_for(os: OSInfo) -> Distro | None:
    """The advisory ecosystems of this OS's packages; None when seawall has no feed for it."""
    make = _TABLE.get((os.id or "").lower())
    return make(os, (os.version or "").strip()) if make else None


def supported() -> list[str]:
    """os-release IDs with a feed (for docs and messages)."""
    return sorted(_TABLE)
