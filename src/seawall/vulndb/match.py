"""Matching installed packages against the store, with OSV semantics.

Per package: the (ecosystem, name) rows are read from the index; each row's ranges are
evaluated with the ecosystem's version scheme (several introduced/fixed pairs, last_affected,
limit; GIT ranges are skipped, their `versions` list counts), then advisories that alias each
other are merged into one finding per (package, vulnerability).

Primary id of a merged group: its CVE id when it has exactly one, else its GHSA id when it has
exactly one (and no CVE), else the lowest of the feeds' own ids (PYSEC, GO, ALAS ...). CVE first
because it is the one id every feed, scanner and NVD share; a group with several CVEs (an ALAS
bundle, a PYSEC entry covering two CVEs) is named by its own advisory id so no CVE hides behind
another. The other ids are listed in `aliases`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from seawall.core import (
    Finding,
    FindingKind,
    Location,
    OSInfo,
    Package,
    Resource,
    Severity,
    VulnerabilityInfo,
)
from seawall.vulndb.importers.debian_tracker import CODENAMES
from seawall.vulndb.names import (
    canonical_ecosystem,
    canonical_version,
    ecosystem_of_purl,
    normalize_name,
)
from seawall.vulndb.severity import from_cvss, from_rating
from seawall.vulndb.versions import SCHEMES, VersionScheme, scheme_for

_EVENT_NAMES = {"i": "introduced", "f": "fixed", "l": "last_affected", "m": "limit"}
_DISTROS = {"Debian", "Ubuntu", "Alpine", "Amazon Linux", "rpm", "RPM", "Wolfi", "Chainguard", "Red Hat",
            "AlmaLinux", "Rocky Linux", "CentOS", "Fedora", "Oracle Linux", "openSUSE", "SUSE"}

_QUERY = (
    "SELECT a.feed, a.id, a.data, a.versions, a.severity, v.summary, v.severity, v.cvss, v.published, "
    "v.refs, v.aliases "
    "FROM affected a JOIN advisories v ON v.feed = a.feed AND v.id = a.id "
    "WHERE a.ecosystem = ? AND a.name = ?"
)


@dataclass(slots=True)
class MatchStats:
    packages: int = 0
    looked_up: int = 0
    matched_packages: int = 0
    findings: int = 0
    invalid_versions: int = 0
    no_os_release: int = 0
    unsupported: int = 0
    invalid: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Hit:
    feed: str
    id: str
    ecosystem: str
    summary: str | None
    rating: str | None
    cvss: str | None
    published: str | None
    refs: list[str]
    aliases: list[str]
    fixed_all: list[str]
    next_fix: str | None
    evidence: str


@dataclass(slots=True)
class Query:
    ecosystems: list[str]
    name: str
    version: str


# ---------------------------------------------------------------------------------------------
# which rows to look at


def distro_ecosystems(base: str, os: OSInfo | None) -> list[str]:
    if os is None:
        return []
    osid = (os.id or "").lower()
    version = (os.version or "").strip()
    if osid == "debian" and base == "Debian":
        release = version.split(".", 1)[0] if version else CODENAMES.get((os.codename or "").lower(), "")
        return [f"Debian:{release}"] if release else []
    if osid == "ubuntu" and base in ("Debian", "Ubuntu"):
        return [f"Ubuntu:{version}", f"Ubuntu:{version}:LTS"] if version else []
    if osid == "alpine" and base in ("Alpine", "apk"):
        parts = version.split(".")
        return [f"Alpine:v{parts[0]}.{parts[1]}"] if len(parts) >= 2 else []
    if base in ("Wolfi", "Chainguard"):
        return [base]  # rolling distributions: OSV ecosystems without a release
    if osid == "amzn" and base in ("Amazon Linux", "rpm", "RPM", "Red Hat"):
        if version.startswith("201"):
            return ["Amazon Linux:1"]
        return [f"Amazon Linux:{version.split('.', 1)[0]}"] if version else []
    return []


def query_for(pkg: Package, os: OSInfo | None) -> Query | str | None:
    """The rows to read for a package; a reason string when it cannot be matched."""
    eco_text = pkg.ecosystem or ecosystem_of_purl(pkg.purl) or ""
    eco = canonical_ecosystem(eco_text) if eco_text else ""
    if not eco:
        return "unsupported"
    base = eco.split(":", 1)[0]
    if base in _DISTROS or (pkg.purl or "").startswith(("pkg:deb/", "pkg:apk/", "pkg:rpm/")):
        ecosystems = [eco] if ":" in eco and base != "rpm" else distro_ecosystems(base, os)
        if not ecosystems:
            return "no_os" if os is None else "unsupported"
        target = ecosystems[0].split(":", 1)[0]
        if target in ("Debian", "Ubuntu", "Alpine", "Wolfi", "Chainguard"):
            name = pkg.source_name or pkg.name
            version = pkg.source_version or pkg.version
        else:
            name, version = pkg.name, pkg.version
        return Query(ecosystems, normalize_name(ecosystems[0], name), version)
    name = pkg.name
    if base == "Maven" and ":" not in name and pkg.purl.startswith("pkg:maven/"):
        path = pkg.purl[len("pkg:maven/"):].split("@", 1)[0].split("?", 1)[0]
        if "/" in path:
            group, artifact = path.rsplit("/", 1)
            name = f"{group.replace('/', '.')}:{artifact}"
    return Query([eco], normalize_name(eco, name), pkg.version)


# ---------------------------------------------------------------------------------------------
# range evaluation


def _range_scheme(rtype: str, eco_scheme: VersionScheme) -> VersionScheme | None:
    if rtype == "ECOSYSTEM":
        return eco_scheme
    if rtype == "SEMVER":
        return eco_scheme if eco_scheme.name in ("go", "npm", "semver") else SCHEMES["semver"]
    return None  # GIT and unknown types: only their `versions` list counts


def _event_order(e: tuple[str, str, Any]) -> tuple[bool, Any]:
    return (True, e[2]) if e[2] is not None else (False, 0)


Prepared = tuple[list[tuple[str, str, Any]], list[Any]]


def prepare_range(events: list[list[str]], scheme: VersionScheme) -> Prepared:
    """Parse and sort a range's events once: ([(code, version, key)], limit keys)."""
    parsed: list[tuple[str, str, Any]] = []
    limits: list[Any] = []
    for code, ver in events:
        if code == "i" and ver == "0":
            parsed.append((code, ver, None))
            continue
        key = scheme.key(ver)
        if key is None:
            continue  # an event we cannot read is not evidence either way
        if code == "m":
            limits.append(key)
        else:
            parsed.append((code, ver, key))
    if len(parsed) > 1:
        parsed.sort(key=_event_order)
    return parsed, limits


def walk_range(prepared: Prepared, vkey: Any, detail: bool = True) -> tuple[bool, str | None, str]:
    """OSV's evaluation over sorted events: (affected?, nearest fix above, short range text)."""
    parsed, limits = prepared
    vulnerable = False
    lower = "0"
    for code, ver, key in parsed:
        if code == "i":
            if key is None or vkey >= key:
                vulnerable = True
                lower = ver
        elif code == "f":
            if vkey >= key:
                vulnerable = False
        elif code == "l" and vkey > key:
            vulnerable = False
    if vulnerable and limits and all(vkey >= lim for lim in limits):
        vulnerable = False
    if not vulnerable or not detail:
        return vulnerable, None, ""
    upper = next(((code, ver) for code, ver, key in parsed
                  if key is not None and ((code == "f" and key > vkey) or (code == "l" and key >= vkey))),
                 None)
    text = f">={lower}" if lower != "0" else ""
    if upper is not None:
        text += (", " if text else "") + (f"<{upper[1]}" if upper[0] == "f" else f"<={upper[1]}")
    return True, upper[1] if upper and upper[0] == "f" else None, text or "all versions"


def evaluate_range(events: list[list[str]], scheme: VersionScheme, version: str
                   ) -> tuple[bool, str | None, str]:
    """(affected?, the nearest fix above the version, a short range text) per OSV's algorithm."""
    vkey = scheme.key(version)
    if vkey is None:
        return False, None, ""
    return walk_range(prepare_range(events, scheme), vkey)


def uncovered_versions(ranges: list[list[Any]], ecosystem: str, versions: list[str]) -> list[str]:
    """The listed versions that the ECOSYSTEM/SEMVER ranges do not already cover."""
    eco_scheme = scheme_for(ecosystem)
    prepared: list[tuple[VersionScheme, Prepared]] = []
    for rtype, events in ranges:
        scheme = _range_scheme(rtype, eco_scheme)
        if scheme is not None:
            prepared.append((scheme, prepare_range(events, scheme)))
    if not prepared:
        return versions
    out: list[str] = []
    for version in versions:
        covered = False
        for scheme, prep in prepared:
            vkey = scheme.key(version)
            if vkey is not None and walk_range(prep, vkey, detail=False)[0]:
                covered = True
                break
        if not covered:
            out.append(version)
    return out


def evaluate_row(data: bytes, listed_blob: bytes | None, ecosystem: str, version: str
                 ) -> tuple[bool, list[str], str | None, str]:
    """(affected?, every fixed version of the row, nearest fix, evidence text)."""
    eco_scheme = scheme_for(ecosystem)
    fixed_all: list[str] = []
    hit = False
    next_fix: str | None = None
    evidence = ""
    for rtype, events in orjson.loads(data):
        scheme = _range_scheme(rtype, eco_scheme)
        if scheme is None:
            continue
        fixed_all.extend(v for code, v in events if code == "f")
        if not hit:
            ok, fix, text = evaluate_range(events, scheme, version)
            if ok:
                hit, next_fix, evidence = True, fix, text
    if not hit and listed_blob and canonical_version(ecosystem, version) in orjson.loads(listed_blob):
        hit, evidence = True, "listed as an affected version"
        key = eco_scheme.key(version)
        above = [(k, v) for v in fixed_all if key is not None and (k := eco_scheme.key(v)) is not None
                 and k > key]
        if above:
            next_fix = min(above, key=lambda kv: kv[0])[1]
    return hit, fixed_all, next_fix, evidence


# ---------------------------------------------------------------------------------------------
# merging and findings

_CVE = re.compile(r"^CVE-(\d+)-(\d+)$")


@lru_cache(maxsize=65536)
def _id_rank(vid: str) -> tuple[int, Any]:
    m = _CVE.match(vid)
    if m:
        return (0, (int(m.group(1)), int(m.group(2))))
    if vid.startswith("GHSA-"):
        return (1, vid)
    return (2, vid)


def primary_id(ids: set[str]) -> str:
    """The id that names the whole group: its only CVE, else its only GHSA, else the lowest
    feed id (an advisory bundling several CVEs, like an ALAS, is named by itself)."""
    cves: list[str] = []
    ghsas: list[str] = []
    native: list[str] = []
    for i in ids:
        (cves if i.startswith("CVE-") else ghsas if i.startswith("GHSA-") else native).append(i)
    if len(cves) == 1:
        return cves[0]
    if len(ghsas) == 1 and not cves:
        return ghsas[0]
    return min(native or list(ids), key=_id_rank)


@lru_cache(maxsize=65536)
def _advisory_url(vid: str) -> str:
    if vid.startswith("CVE-"):
        return f"https://nvd.nist.gov/vuln/detail/{vid}"
    if vid.startswith("GHSA-"):
        return f"https://github.com/advisories/{vid}"
    if vid.startswith("GO-"):
        return f"https://pkg.go.dev/vuln/{vid}"
    return f"https://osv.dev/vulnerability/{vid}"


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        parent = self.parent.setdefault(x, x)
        while parent != x:
            grand = self.parent.setdefault(parent, parent)
            self.parent[x] = grand
            x, parent = parent, grand
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def merge_hits(hits: list[Hit]) -> list[list[Hit]]:
    if len(hits) == 1:
        return [hits]
    uf = _UnionFind()
    for hit in hits:
        uf.find(hit.id)
        for alias in hit.aliases:
            uf.union(hit.id, alias)
    groups: dict[str, list[Hit]] = {}
    for hit in hits:
        groups.setdefault(uf.find(hit.id), []).append(hit)
    return list(groups.values())


def subject_of(pkg: Package, query: Query) -> str:
    if query.name != normalize_name(query.ecosystems[0], pkg.name):
        return f"{pkg.name} (source package {query.name})"
    return pkg.name


def finding_for(pkg: Package, query: Query, group: list[Hit], subject: str | None = None,
                resource: Resource | None = None) -> Finding:
    ids: set[str] = set()
    for hit in group:
        ids.add(hit.id)
        ids.update(hit.aliases)
    primary = primary_id(ids)
    scheme = scheme_for(group[0].ecosystem)

    best_cvss: tuple[Severity, float, str] | None = None
    rating = Severity.UNKNOWN
    for hit in group:
        if hit.cvss:
            parsed = from_cvss(hit.cvss)
            if parsed and (best_cvss is None or parsed[1] > best_cvss[1]):
                best_cvss = (parsed[0], parsed[1], hit.cvss)
        hit_rating = from_rating(hit.rating)
        if hit_rating.rank > rating.rank:
            rating = hit_rating
    severity = best_cvss[0] if best_cvss else rating

    def vkey(v: str) -> Any:
        k = scheme.key(v)
        return (0, k) if k is not None else (1, v)

    fixed: list[str] = []
    for hit in group:
        for v in hit.fixed_all:
            if v not in fixed:
                fixed.append(v)
    try:
        fixed.sort(key=vkey)
    except TypeError:
        fixed.sort()
    next_fixes = [h.next_fix for h in group if h.next_fix]
    target = max(next_fixes, key=vkey) if next_fixes else None
    subject = subject or subject_of(pkg, query)
    remediation = (f"Upgrade {subject} to {target}" if target
                   else f"No fixed version of {subject} is known yet; remove it or mitigate")
    ordered = group if len(group) == 1 else sorted(group, key=lambda h: _id_rank(h.id))
    summary = next((h.summary for h in ordered if h.summary), None)
    title = summary or f"{primary} in {pkg.name}"
    refs: list[str] = [_advisory_url(primary)]
    for hit in group:
        for r in [_advisory_url(hit.id), *hit.refs]:
            if r not in refs and len(refs) < 10:
                refs.append(r)
    published = min((h.published for h in group if h.published), default=None)
    feeds = sorted({h.feed for h in group})
    evidence = (f"{pkg.name} {pkg.version} is affected by {primary} "
                f"({'; '.join(sorted({h.evidence for h in group if h.evidence}))})")
    if query.version != pkg.version:
        evidence += f"; source {query.name} {query.version}"
    return Finding(
        kind=FindingKind.VULNERABILITY,
        rule=primary,
        title=title,
        severity=severity,
        resource=resource or Resource(type="package", name=pkg.name),
        location=pkg.locations[0] if pkg.locations else Location(),
        evidence=evidence,
        remediation=remediation,
        references=refs,
        vulnerability=VulnerabilityInfo(
            id=primary, aliases=sorted(ids - {primary}, key=_id_rank),
            cvss_vector=best_cvss[2] if best_cvss else None,
            cvss_score=best_cvss[1] if best_cvss else None,
            fixed_versions=fixed, source=", ".join(feeds), published=published),
        package=pkg,
    )


class Matcher:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.stats = MatchStats()

    def hits_for(self, query: Query) -> list[Hit]:
        hits: list[Hit] = []
        for ecosystem in query.ecosystems:
            self.stats.looked_up += 1
            rows = self.conn.execute(_QUERY, (ecosystem, query.name)).fetchall()
            for feed, vid, data, listed, aff_sev, summary, rating, cvss, published, refs, aliases in rows:
                ok, fixed_all, next_fix, evidence = evaluate_row(data, listed, ecosystem, query.version)
                if not ok:
                    continue
                hits.append(Hit(feed, vid, ecosystem, summary, aff_sev or rating, cvss, published,
                                orjson.loads(refs) if refs else [], orjson.loads(aliases) if aliases else [],
                                fixed_all, next_fix, evidence))
        return hits

    def match(self, packages: Sequence[Package], os: OSInfo | None) -> list[Finding]:
        findings: list[Finding] = []
        for pkg in packages:
            self.stats.packages += 1
            query = query_for(pkg, os)
            if isinstance(query, str) or query is None:
                if query == "no_os":
                    self.stats.no_os_release += 1
                else:
                    self.stats.unsupported += 1
                continue
            if scheme_for(query.ecosystems[0]).key(query.version) is None:
                self.stats.invalid_versions += 1
                if len(self.stats.invalid) < 100:
                    self.stats.invalid.append(f"{pkg.name} {query.version!r} ({query.ecosystems[0]})")
                continue
            hits = self.hits_for(query)
            if not hits:
                continue
            self.stats.matched_packages += 1
            subject = subject_of(pkg, query)
            resource = Resource(type="package", name=pkg.name)
            for group in merge_hits(hits):
                findings.append(finding_for(pkg, query, group, subject, resource))
        self.stats.findings += len(findings)
        return findings
