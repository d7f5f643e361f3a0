"""CPE matching: NVD's configurations against the CPEs of packages that no ecosystem feed covers.

Which packages: binaries that no package database lists (`Binary`, seawall.catalog.binary:
Node.js in /usr/local/bin, nginx built from source ...) and jars whose Maven group is unknown (no
`group:artifact` to look up in OSV). Every other package keeps its ecosystem's feed.

How (the rules Grype follows for the same packages, and a few stricter ones):
  - only NVD criteria marked `vulnerable: true`, only applications (`cpe:2.3:a:`); configurations
    that need a platform a Linux container cannot be ("running on Windows/macOS", NVD's AND
    configurations) are left out at import (seawall.vulndb.importers.nvd);
  - vendor and product exactly as the package's CPE names them, or as one of the few equivalent
    names listed in cpe.yaml (`f5:nginx` = `nginx:nginx` = `f5:nginx_open_source`);
  - the version compared with the criteria's range (`versionStart/EndIncluding/Excluding`) or
    exact version (with its `update`: `2.0:beta9` is the pre-release 2.0-beta9, not 2.0) in the
    upstream scheme (seawall.vulndb.versions.upstream); a bound that does not parse never matches;
  - no match without a version: a package without one is a skip, never "all versions";
  - the criterion's target software must fit: a binary matches criteria for any target or Linux,
    never `target_sw=windows` or `wordpress`; a jar (`java`) criteria for any target or Java.
Findings are ordinary vulnerability findings (`vulnerability.source: "nvd-cpe"`), the matching
criteria in the evidence, severity from the NVD record's CVSS.
"""

from __future__ import annotations

import re
import sqlite3
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import orjson
import yaml

from seawall.core import Finding, Package, Skip
from seawall.vulndb.base import CpeMatch
from seawall.vulndb.merge import Hit
from seawall.vulndb.versions.upstream import UpstreamKey, UpstreamScheme

CPE_ECOSYSTEM = "CPE"  # the `ecosystems` row that says the database holds NVD CPE criteria
SOURCE = "nvd-cpe"
ANY = ("*", "-", "")

# why a package routed to CPE matching is not matched (Skip.reason)
NO_CPE = "no CPE name could be derived for them and no ecosystem advisory feed covers them"
NO_VERSION = "no version was found, so no NVD version range can be evaluated"
NO_DATA = ("the vulnerability database holds no NVD CPE match data (configurations); "
           "`seawall db update` fetches the NVD feeds")
BAD_VERSION = "their version does not parse as an upstream release version"

_QUERY = ("SELECT c.feed, c.id, c.data, v.summary, v.severity, v.cvss, v.published, v.refs, v.aliases, "
          "v.related FROM cpe_match c JOIN advisories v ON v.feed = c.feed AND v.id = c.id "
          "WHERE c.vendor = ? AND c.product = ?")
_UNESCAPE = re.compile(r"\\(.)")
_key = UpstreamScheme.key


# --- the rules (cpe.yaml) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rules:
    equivalent: dict[tuple[str, str], tuple[tuple[str, str], ...]]
    linux_os_vendors: frozenset[str]
    targets: dict[str, frozenset[str]]


def _pair(text: str) -> tuple[str, str]:
    vendor, _, product = str(text).partition(":")
    return vendor.lower(), product.lower()


@cache
def rules() -> Rules:
    doc = yaml.safe_load(resources.files("seawall.vulndb").joinpath("cpe.yaml").read_text(encoding="utf-8"))
    equivalent: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {}
    for group in doc.get("equivalent") or []:
        pairs = tuple(_pair(p) for p in group)
        for p in pairs:
            equivalent[p] = pairs
    targets = {str(k): frozenset(str(v) for v in vs) for k, vs in (doc.get("targets") or {}).items()}
    return Rules(equivalent, frozenset(str(v) for v in doc.get("linux_os_vendors") or []), targets)


# --- CPE strings ---------------------------------------------------------------------------


def split_cpe(text: str) -> list[str] | None:
    """The 13 components of a CPE 2.3 formatted string, escapes kept (`c\\+\\+`), or None."""
    if not text.startswith("cpe:2.3:"):
        return None
    if "\\" not in text:
        parts = text.split(":")
    else:
        parts, current, escaped = [], [], False
        for ch in text:
            if escaped:
                current.append(ch)
                escaped = False
            elif ch == "\\":
                current.append(ch)
                escaped = True
            elif ch == ":":
                parts.append("".join(current))
                current = []
            else:
                current.append(ch)
        parts.append("".join(current))
    return parts if len(parts) == 13 else None


def unescape(value: str) -> str:
    return _UNESCAPE.sub(r"\1", value) if "\\" in value else value


def criterion(text: str, start: str | None = None, start_incl: bool = True, end: str | None = None,
              end_incl: bool = False) -> CpeMatch | None:
    """An application criteria string and its range as a CpeMatch (None for other parts)."""
    parts = split_cpe(text)
    if parts is None or parts[2] != "a" or parts[3] in ANY or parts[4] in ANY:
        return None
    return CpeMatch(parts[3].lower(), parts[4].lower(), ":".join(parts[5:]), start or None, start_incl,
                    end or None, end_incl)


def platform_can_be_linux(criteria: Iterable[str]) -> bool:
    """Whether one of a platform node's CPEs can describe a Linux container: any application,
    or a Linux operating system (cpe.yaml `linux_os_vendors`, or "linux" in the product)."""
    vendors = rules().linux_os_vendors
    for text in criteria:
        parts = split_cpe(text)
        if parts is None:
            continue
        if parts[2] == "a":
            return True
        if parts[2] == "o" and (parts[3].lower() in vendors or "linux" in parts[4].lower()):
            return True
    return False


# --- which packages, and what to look up ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Product:
    vendor: str
    product: str
    target: str  # the package CPE's target_sw ("*": none of its own)
    via: str | None = None  # the package's own vendor:product when this is an equivalent name


@dataclass(slots=True)
class CpeQuery:
    products: list[Product]
    version: str
    subject: str  # "binary packages", for skips


def wants_cpe(pkg: Package) -> bool:
    """Packages matched by CPE: binaries without a package database, jars without a group."""
    if pkg.ecosystem == "Binary" or pkg.cataloger == "binary":
        return True
    if pkg.ecosystem == "Maven" and ":" not in pkg.name and not pkg.metadata.get("group_id"):
        path = pkg.purl[len("pkg:maven/"):].split("@", 1)[0] if pkg.purl.startswith("pkg:maven/") else ""
        return "/" not in path
    return False


def subject_of(pkg: Package) -> str:
    return "Maven packages without a group id" if pkg.ecosystem == "Maven" else "binary packages"


def products_of(pkg: Package) -> list[Product]:
    """The application CPEs of a package, each with its equivalent names (cpe.yaml)."""
    out: dict[tuple[str, str], Product] = {}
    equivalent = rules().equivalent
    for text in pkg.cpes:
        parts = split_cpe(text)
        if parts is None or parts[2] != "a" or parts[3] in ANY or parts[4] in ANY:
            continue
        own = (parts[3].lower(), parts[4].lower())
        target = parts[10] if parts[10] not in ANY else "*"
        out.setdefault(own, Product(own[0], own[1], target))
        for other in equivalent.get(own, ()):
            if other != own:
                out.setdefault(other, Product(other[0], other[1], target, f"{own[0]}:{own[1]}"))
    return list(out.values())


def cpe_query(pkg: Package, known: Collection[str] | None) -> CpeQuery | Skip:
    subject = subject_of(pkg)
    products = products_of(pkg)
    if not products:
        return Skip(subject, NO_CPE, category="unsupported")
    version = pkg.version.strip()
    if version in ANY or version == "(devel)":
        return Skip(subject, NO_VERSION, category="unsupported")
    if known is not None and CPE_ECOSYSTEM not in known:
        return Skip(subject, NO_DATA, category="skipped")
    return CpeQuery(products, version, subject)


# --- one criterion against one version -----------------------------------------------------


@lru_cache(maxsize=65536)
def _fields(rest: str) -> tuple[str, ...] | None:
    """version, update, edition, language, sw_edition, target_sw, target_hw, other."""
    parts = split_cpe(f"cpe:2.3:a:v:p:{rest}")
    return tuple(parts[5:]) if parts is not None else None


def target_fits(criterion_target: str, package_target: str) -> bool:
    if criterion_target in ANY:
        return True
    wanted = rules().targets
    if package_target == "*":
        return criterion_target in wanted.get("binary", frozenset())
    return criterion_target == package_target or criterion_target in wanted.get(package_target, frozenset())


def _range_text(start: str | None, start_incl: bool, end: str | None, end_incl: bool) -> str:
    parts = []
    if start:
        parts.append(f"{'>=' if start_incl else '>'}{start}")
    if end:
        parts.append(f"{'<=' if end_incl else '<'}{end}")
    return ", ".join(parts) if parts else "all versions"


@dataclass(frozen=True, slots=True)
class Criterion:
    """A stored criterion, parsed once: its target software and version keys."""

    rest: str
    target: str
    exact: UpstreamKey | None  # one version (with its update: `2.0:beta9` = 2.0-beta9)
    skey: UpstreamKey | None
    start_incl: bool
    ekey: UpstreamKey | None
    end_incl: bool
    end: str | None
    text: str  # "version 1.23.0", ">=7.0, <7.2.11", "all versions"

    def matches(self, vkey: UpstreamKey, package_target: str) -> bool:
        if not target_fits(self.target, package_target):
            return False
        if self.exact is not None:
            return self.exact == vkey
        if self.skey is not None and (vkey < self.skey or (not self.start_incl and vkey == self.skey)):
            return False
        return not (self.ekey is not None and (vkey > self.ekey or (not self.end_incl and vkey == self.ekey)))

    @property
    def fix(self) -> str | None:
        return self.end if self.end and not self.end_incl else None

    @property
    def last_affected(self) -> str | None:
        return self.end if self.end and self.end_incl else None


def prepare(crit: list[Any]) -> Criterion | None:
    """A stored criterion [rest, start, start_incl, end, end_incl] ready to compare, or None when
    it can never match a release: version `-` (not applicable), an update on a range, a bound or
    a version that is no release number (NGINX Plus's `r27`)."""
    rest, start, start_incl, end, end_incl = crit
    fields = _fields(rest)
    if fields is None:
        return None
    version, update = fields[0], fields[1]
    if version == "-":
        return None
    if version != "*":
        exact_text = unescape(version) if update in ANY else f"{unescape(version)}-{unescape(update)}"
        exact = _key(exact_text)
        if exact is None:
            return None
        return Criterion(rest, fields[5], exact, None, True, None, False, None, f"version {exact_text}")
    if update not in ANY:
        return None  # "every version's update X": not a statement about releases
    skey = _key(start) if start else None
    ekey = _key(end) if end else None
    if (start and skey is None) or (end and ekey is None):
        return None
    return Criterion(rest, fields[5], None, skey, bool(start_incl), ekey, bool(end_incl), end or None,
                     _range_text(start, bool(start_incl), end, bool(end_incl)))


# --- the matcher ---------------------------------------------------------------------------


def _sort_key(version: str) -> UpstreamKey:
    return _key(version) or ((), "", 0, 0, (), 0)


@dataclass(frozen=True, slots=True)
class _Row:
    """One (product, advisory) row, decoded once per match call."""

    feed: str
    id: str
    criteria: tuple[Criterion, ...]
    fixed: list[str]
    meta: tuple[Any, ...]  # summary, rating, cvss, published, refs, aliases, related (as stored)


@dataclass(slots=True)
class _Product:
    """The rows of one vendor:product, with their criteria indexed by version: exact versions by
    key, ranges sorted by upper and by lower bound. A version lies in no range whose end is below
    it nor in one whose start is above it, so only the smaller of the two candidate slices is
    compared: for a recent binary most of a product's history ends below it, for an old one most
    starts above."""

    rows: list[_Row]
    exact: dict[UpstreamKey, list[tuple[int, int]]]
    ends: list[UpstreamKey]
    by_end: list[tuple[int, int]]  # aligned with `ends`
    no_end: list[tuple[int, int]]
    starts: list[UpstreamKey]
    by_start: list[tuple[int, int]]  # aligned with `starts`
    no_start: list[tuple[int, int]]

    @classmethod
    def of(cls, rows: list[_Row]) -> _Product:
        exact: dict[UpstreamKey, list[tuple[int, int]]] = {}
        ends: list[tuple[UpstreamKey, int, int]] = []
        starts: list[tuple[UpstreamKey, int, int]] = []
        no_end: list[tuple[int, int]] = []
        no_start: list[tuple[int, int]] = []
        for ri, row in enumerate(rows):
            for ci, c in enumerate(row.criteria):
                if c.exact is not None:
                    exact.setdefault(c.exact, []).append((ri, ci))
                    continue
                if c.ekey is not None:
                    ends.append((c.ekey, ri, ci))
                else:
                    no_end.append((ri, ci))
                if c.skey is not None:
                    starts.append((c.skey, ri, ci))
                else:
                    no_start.append((ri, ci))
        ends.sort(key=lambda b: b[0])
        starts.sort(key=lambda b: b[0])
        return cls(rows, exact, [b[0] for b in ends], [(b[1], b[2]) for b in ends], no_end,
                   [b[0] for b in starts], [(b[1], b[2]) for b in starts], no_start)

    def matching(self, vkey: UpstreamKey, target: str) -> list[tuple[_Row, Criterion]]:
        """Each row with a criterion holding the version, with its first such criterion."""
        at_end = bisect_left(self.ends, vkey)  # ranges ending at or above the version from here
        at_start = bisect_right(self.starts, vkey)  # ranges starting at or below it up to here
        if len(self.ends) - at_end + len(self.no_end) <= at_start + len(self.no_start):
            ranges: tuple[Sequence[tuple[int, int]], ...] = (self.by_end[at_end:], self.no_end)
        else:
            ranges = (self.by_start[:at_start], self.no_start)
        first: dict[int, int] = {}
        for candidates in (self.exact.get(vkey, ()), *ranges):
            for ri, ci in candidates:
                if ci < first.get(ri, 1 << 30) and self.rows[ri].criteria[ci].matches(vkey, target):
                    first[ri] = ci
        return [(self.rows[ri], self.rows[ri].criteria[first[ri]]) for ri in sorted(first)]


@dataclass(slots=True)
class CpeHits:
    hits: list[Hit]
    last_affected: dict[str, str]  # advisory id -> the inclusive end of its matching criterion


class CpeMatcher:
    """Reads the criteria of a package's products (each product once per match call) and turns
    the matching ones into Hits."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lookups = 0
        self._products: dict[tuple[str, str], _Product] = {}

    def product(self, vendor: str, product: str) -> _Product:
        cached = self._products.get((vendor, product))
        if cached is not None:
            return cached
        self.lookups += 1
        rows: list[_Row] = []
        for feed, vid, data, *meta in self.conn.execute(_QUERY, (vendor, product)).fetchall():
            crits = tuple(c for c in map(prepare, orjson.loads(data)) if c is not None)
            if not crits:
                continue
            fixed = sorted({f for c in crits if (f := c.fix) is not None}, key=_sort_key)
            rows.append(_Row(feed, vid, crits, fixed, tuple(meta)))
        found = self._products[(vendor, product)] = _Product.of(rows)
        return found

    def hits(self, query: CpeQuery, vkey: UpstreamKey) -> CpeHits:
        found = CpeHits([], {})
        seen: set[tuple[str, str]] = set()
        for product in query.products:
            for row, crit in self.product(product.vendor, product.product).matching(vkey, product.target):
                if (row.feed, row.id) in seen:
                    continue
                seen.add((row.feed, row.id))
                summary, rating, cvss, published, refs, aliases, related = row.meta
                evidence = f"NVD cpe:2.3:a:{product.vendor}:{product.product}:{crit.rest} {crit.text}"
                if product.via:
                    evidence += f" (the same product as {product.via})"
                if crit.last_affected:
                    found.last_affected[row.id] = crit.last_affected
                found.hits.append(Hit(row.feed, row.id, CPE_ECOSYSTEM, summary, rating, cvss, published,
                                      orjson.loads(refs) if refs else [],
                                      orjson.loads(aliases) if aliases else [], row.fixed, crit.fix, evidence,
                                      orjson.loads(related) if related else []))
        return found

    @staticmethod
    def finish(finding: Finding, pkg: Package, last_affected: dict[str, str]) -> None:
        """The CPE specifics of a finding built by seawall.vulndb.merge: its source, the severity
        source (the NVD record), and a remediation when NVD names only the last affected version."""
        v = finding.vulnerability
        if v is None:
            return
        v.source = SOURCE
        if v.severity_source and v.severity_source.startswith("nvd:"):
            v.severity_source = "nvd"
        if finding.remediation and finding.remediation.startswith("No fixed version"):
            last = [last_affected[i] for i in (v.id, *v.aliases) if i in last_affected]
            if last:
                top = max(last, key=_sort_key)
                finding.remediation = (f"Upgrade {pkg.name} to a release after {top} (NVD lists {top} as "
                                       "the last affected version)")
