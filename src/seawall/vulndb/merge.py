"""From the advisories that matched one package to one finding per vulnerability.

Advisories that alias each other (PYSEC / GHSA / CVE / GO ids, or a record with one `upstream`
id such as UBUNTU-CVE-2024-1 -> CVE-2024-1) are merged into one group. A *bundle* -- an advisory
covering several CVEs (a DSA, USN, RHSA, RLSA, ALSA listing them in `upstream`/`related`) -- is
folded into the per-CVE groups that already report those CVEs (its id becomes one of their
aliases); the CVEs no other record reports stay together under the bundle's own id. So a Debian
image matched against both DSA-5555-1 and DEBIAN-CVE-2023-1 gets one finding for CVE-2023-1.

Primary id of a group: its CVE id when it has exactly one, else its GHSA id when it has exactly
one (and no CVE), else the lowest of the feeds' own ids (PYSEC, GO, ALAS ...). CVE first because
it is the one id every feed, scanner and NVD share; a group with several CVEs (an ALAS bundle, a
PYSEC entry covering two CVEs) is named by its own advisory id so no CVE hides behind another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from seawall.core import (
    Finding,
    FindingKind,
    Location,
    Package,
    Resource,
    Severity,
    VulnerabilityInfo,
)
from seawall.vulndb.names import normalize_name
from seawall.vulndb.severity import from_cvss, from_rating
from seawall.vulndb.versions import scheme_for


@dataclass(slots=True)
class Hit:
    """One advisory row that matched a package."""

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
    related: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Group:
    """The hits that describe one vulnerability, and every id it is known by."""

    hits: list[Hit]
    ids: set[str]


@dataclass(slots=True)
class Subject:
    """The package a finding is about, as the matcher read it."""

    name: str  # the name looked up (source package for Debian ...)
    version: str  # the version compared
    ecosystem: str


_CVE = re.compile(r"^CVE-(\d+)-(\d+)$")


@lru_cache(maxsize=65536)
def id_rank(vid: str) -> tuple[int, Any]:
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
    return min(native or list(ids), key=id_rank)


@lru_cache(maxsize=65536)
def advisory_url(vid: str) -> str:
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


def _is_bundle(hit: Hit) -> bool:
    return len(hit.related) > 1


def merge_hits(hits: list[Hit]) -> list[Group]:
    if len(hits) == 1 and not _is_bundle(hits[0]):
        hit = hits[0]
        return [Group(hits, {hit.id, *hit.aliases, *hit.related})]
    uf = _UnionFind()
    plain = [h for h in hits if not _is_bundle(h)]
    for hit in plain:
        uf.find(hit.id)
        for alias in (*hit.aliases, *hit.related):
            uf.union(hit.id, alias)
    by_root: dict[str, list[Hit]] = {}
    for hit in plain:
        by_root.setdefault(uf.find(hit.id), []).append(hit)
    groups = [Group(group, {i for h in group for i in (h.id, *h.aliases, *h.related)})
              for group in by_root.values()]
    index = {i: g for g in groups for i in g.ids}
    for bundle in sorted((h for h in hits if _is_bundle(h)), key=lambda h: id_rank(h.id)):
        residual: list[str] = []
        for rid in bundle.related:
            covered = index.get(rid)
            if covered is not None:
                covered.ids.add(bundle.id)
            else:
                residual.append(rid)
        own = index.get(bundle.id)
        if own is not None and bundle not in own.hits:  # the same bundle matched in two ecosystems
            own.hits.append(bundle)
            own.ids.update(residual)
            index.update(dict.fromkeys(residual, own))
        elif residual:
            group = Group([bundle], {bundle.id, *bundle.aliases, *residual})
            groups.append(group)
            for i in group.ids:
                index.setdefault(i, group)
    return groups


def subject_text(pkg: Package, subject: Subject) -> str:
    if subject.name != normalize_name(subject.ecosystem, pkg.name):
        return f"{pkg.name} (source package {subject.name})"
    return pkg.name


def _severity(group: Group) -> tuple[Severity, tuple[float, str] | None, str | None]:
    """(severity, (score, vector) of the best CVSS, the feed it came from)."""
    best: tuple[Severity, float, str, str] | None = None
    rating, rating_feed = Severity.UNKNOWN, None
    for hit in group.hits:
        if hit.cvss:
            parsed = from_cvss(hit.cvss)
            if parsed and (best is None or parsed[1] > best[1]):
                best = (parsed[0], parsed[1], hit.cvss, hit.feed)
        hit_rating = from_rating(hit.rating)
        if hit_rating.rank > rating.rank:
            rating, rating_feed = hit_rating, hit.feed
    if best is not None:
        return best[0], (best[1], best[2]), best[3]
    return rating, None, rating_feed


def finding_for(pkg: Package, subject: Subject, group: Group, text: str | None = None,
                resource: Resource | None = None) -> Finding:
    ids = group.ids
    hits = group.hits
    primary = primary_id(ids)
    scheme = scheme_for(hits[0].ecosystem)
    severity, cvss, severity_feed = _severity(group)

    def vkey(v: str) -> Any:
        k = scheme.key(v)
        return (0, k) if k is not None else (1, v)

    fixed: list[str] = []
    for hit in hits:
        for v in hit.fixed_all:
            if v not in fixed:
                fixed.append(v)
    try:
        fixed.sort(key=vkey)
    except TypeError:
        fixed.sort()
    next_fixes = [h.next_fix for h in hits if h.next_fix]
    target = max(next_fixes, key=vkey) if next_fixes else None
    text = text or subject_text(pkg, subject)
    remediation = (f"Upgrade {text} to {target}" if target
                   else f"No fixed version of {text} is known yet; remove it or mitigate")
    ordered = hits if len(hits) == 1 else sorted(hits, key=lambda h: id_rank(h.id))
    summary = next((h.summary for h in ordered if h.summary), None)
    refs: list[str] = [advisory_url(primary)]
    for hit in hits:
        for r in [advisory_url(hit.id), *hit.refs]:
            if r not in refs and len(refs) < 10:
                refs.append(r)
    published = min((h.published for h in hits if h.published), default=None)
    feeds = sorted({h.feed for h in hits})
    evidence = (f"{pkg.name} {pkg.version} is affected by {primary} "
                f"({'; '.join(sorted({h.evidence for h in hits if h.evidence}))})")
    if subject.version != pkg.version:
        evidence += f"; source {subject.name} {subject.version}"
    return Finding(
        kind=FindingKind.VULNERABILITY,
        rule=primary,
        title=summary or f"{primary} in {pkg.name}",
        severity=severity,
        resource=resource or Resource(type="package", name=pkg.name),
        location=pkg.locations[0] if pkg.locations else Location(),
        evidence=evidence,
        remediation=remediation,
        references=refs,
        vulnerability=VulnerabilityInfo(
            id=primary, aliases=sorted(ids - {primary}, key=id_rank),
            cvss_vector=cvss[1] if cvss else None, cvss_score=cvss[0] if cvss else None,
            fixed_versions=fixed, source=", ".join(feeds), published=published,
            severity_source=severity_feed if severity is not Severity.UNKNOWN else None),
        package=pkg,
    )
