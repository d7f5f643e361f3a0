"""What every feed importer produces, and the one interface an importer implements.

An importer reads one feed file (or directory) as a stream and yields records: `Advisory`
(affected packages; or a severity and NVD's CPE match criteria: NVD and CVE records), `KevEntry` (CISA KEV) or
`EpssScore` (FIRST EPSS); the store writes them. Importers never write anywhere and bound every
read (`FeedLimits`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# range types, as OSV names them
ECOSYSTEM = "ECOSYSTEM"
SEMVER = "SEMVER"
GIT = "GIT"


@dataclass(slots=True)
class Range:
    """One OSV range: `events` is a list of (kind, version), kind in introduced/fixed/last_affected/limit."""

    type: str
    events: list[tuple[str, str]]


@dataclass(slots=True)
class Affected:
    """One (ecosystem, package) an advisory affects. `ecosystem` is OSV's: `PyPI`, `Debian:12`."""

    ecosystem: str
    name: str
    ranges: list[Range] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)  # as the feed writes them
    severity: str | None = None  # a per-package rating (Debian urgency per release, ...)


@dataclass(slots=True)
class CpeMatch:
    """One vulnerable application CPE of an NVD configuration (`cpeMatch` in NVD 2.0): the
    criteria's vendor and product (as the CPE writes them, lower case), the rest of the criteria
    string after the product (`*:*:*:*:*:*:*:*`, or `1.23.0:*:...` for one version) and the
    version range around it (None: unbounded)."""

    vendor: str
    product: str
    rest: str
    start: str | None = None
    start_incl: bool = True
    end: str | None = None
    end_incl: bool = False

    @property
    def criteria(self) -> str:
        return f"cpe:2.3:a:{self.vendor}:{self.product}:{self.rest}"


@dataclass(slots=True)
class Advisory:
    id: str
    affected: list[Affected]
    aliases: list[str] = field(default_factory=list)
    summary: str | None = None
    severity: str | None = None  # the feed's own rating: "high", "moderate", ...
    cvss_vector: str | None = None  # CVSS v4 preferred, then v3.x, then v2
    published: str | None = None
    modified: str | None = None
    references: list[str] = field(default_factory=list)
    # ids this advisory covers without being them: the CVEs of a distribution advisory (OSV
    # `upstream`, Rocky/Alma `related`, the CVEs of an RHSA). One id reads as an alias; several
    # make the advisory a bundle (see seawall.vulndb.merge).
    related: list[str] = field(default_factory=list)
    # NVD configurations: the vulnerable application CPEs (matched by seawall.vulndb.cpe)
    cpes: list[CpeMatch] = field(default_factory=list)


@dataclass(slots=True)
class KevEntry:
    """One CVE of CISA's Known Exploited Vulnerabilities catalog."""

    cve: str
    date_added: str | None = None
    due_date: str | None = None
    ransomware: str | None = None  # knownRansomwareCampaignUse: "Known" | "Unknown"
    name: str | None = None


@dataclass(slots=True)
class EpssScore:
    """FIRST's EPSS: the probability of exploitation activity in the next 30 days."""

    cve: str
    score: float
    percentile: float
    date: str | None = None  # the score date of the whole file


Record = Advisory | KevEntry | EpssScore


@dataclass(frozen=True, slots=True)
class FeedLimits:
    """Bounds on what a feed file may make us read."""

    max_member_bytes: int = 32 * 1024 * 1024  # one JSON document inside a zip / one file
    max_members: int = 2_000_000  # entries in one zip
    max_total_bytes: int = 8 * 1024 * 1024 * 1024  # uncompressed bytes in one feed
    max_file_bytes: int = 2 * 1024 * 1024 * 1024  # a feed file on disk / a download


class Importer(Protocol):
    """One feed format. `sniff` decides from the path and the first bytes; `read` streams it."""

    kind: str

    def sniff(self, path: Path, head: bytes) -> bool: ...

    def feed_name(self, path: Path) -> str: ...

    def read(self, path: Path, limits: FeedLimits) -> Iterator[Record]: ...
