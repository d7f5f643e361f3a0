"""Matching installed packages against the store, with OSV semantics.

Per package, `query_for` decides which (ecosystem, name, version) to look up -- or returns a
`Skip` saying why the package cannot be matched (its OS was not detected, seawall has no feed for
its distribution, the database holds no advisories for its ecosystem, its version does not
parse). Skips are values: the scan turns them into report warnings with counts, never silence.
Packages no ecosystem feed covers -- binaries without a package database, jars without a Maven
group -- are matched by their CPEs against NVD's configurations instead (seawall.vulndb.cpe).
Each row read is evaluated with the ecosystem's version scheme (seawall.vulndb.ranges), the
advisories that matched are merged into one finding per vulnerability (seawall.vulndb.merge),
and the findings get severities, KEV and EPSS from the database (seawall.vulndb.enrich).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import orjson

from seawall.core import Finding, OSInfo, Package, Resource, Skip
from seawall.vulndb.cpe import BAD_VERSION as BAD_CPE_VERSION
from seawall.vulndb.cpe import CPE_ECOSYSTEM, CpeMatcher, CpeQuery, cpe_query, wants_cpe
from seawall.vulndb.distros import distro_for
from seawall.vulndb.enrich import Enricher
from seawall.vulndb.merge import Hit, Subject, finding_for, merge_hits, subject_text
from seawall.vulndb.names import OS_ECOSYSTEMS, canonical_ecosystem, ecosystem_of_purl, normalize_name
from seawall.vulndb.ranges import evaluate_row
from seawall.vulndb.versions import scheme_for

_OS_PURLS = {"deb": "deb", "apk": "apk", "rpm": "rpm"}

# why a package is not matched (Skip.reason); the subject says which packages
NO_OS = "the image's operating system was not detected (no os-release), so no distribution feed applies"
NO_RELEASE = "the OS release is not known (no VERSION_ID), so no distribution feed applies"
NO_FEED = "no advisory feed for this distribution"
NO_ECOSYSTEM = "no advisory feed for this kind of package"
BAD_VERSION = "their version does not parse as a {scheme} version"
NO_VERSION = "no version recorded (Go's \"(devel)\": a main module built from a source tree)"

_QUERY = (
    "SELECT a.feed, a.id, a.data, a.versions, a.severity, v.summary, v.severity, v.cvss, v.published, "
    "v.refs, v.aliases, v.related "
    "FROM affected a JOIN advisories v ON v.feed = a.feed AND v.id = a.id "
    "WHERE a.ecosystem = ? AND a.name = ?"
)


def no_data(wanted: str) -> str:
    return f"the vulnerability database holds no advisories for {wanted}; `seawall db update` fetches them"


@dataclass(slots=True)
class MatchStats:
    packages: int = 0
    looked_up: int = 0
    matched_packages: int = 0
    findings: int = 0
    invalid_versions: int = 0
    no_os_release: int = 0
    invalid: list[str] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)  # merged, with counts


@dataclass(slots=True)
class Query:
    ecosystems: list[str]
    name: str
    version: str


def package_kind(pkg: Package, eco: str) -> str:
    """`deb` / `apk` / `rpm` for OS packages (their purl type), else the ecosystem."""
    ptype = pkg.purl[4:].split("/", 1)[0].lower() if pkg.purl.startswith("pkg:") else ""
    return _OS_PURLS.get(ptype) or eco or ptype or "unknown"


def _os_label(os: OSInfo) -> str:
    return f"{os.id} {os.version}" if os.version else os.id


def query_for(pkg: Package, os: OSInfo | None, known: Collection[str] | None = None
              ) -> Query | CpeQuery | Skip:
    """The rows to read for a package, or why it cannot be matched. `known` is the set of
    ecosystems the database holds (None: do not check)."""
    if wants_cpe(pkg):
        return cpe_query(pkg, known)
    eco_text = pkg.ecosystem or ecosystem_of_purl(pkg.purl) or ""
    eco = canonical_ecosystem(eco_text) if eco_text else ""
    base = eco.split(":", 1)[0]
    kind = package_kind(pkg, base)
    if base in OS_ECOSYSTEMS or kind in ("deb", "apk", "rpm"):
        return _distro_query(pkg, eco, base, kind, os, known)
    if not eco:
        return Skip(f"{kind} packages", NO_ECOSYSTEM, category="unsupported")
    if known is not None and eco not in known:
        return Skip(f"{eco} packages", no_data(eco), category="skipped")
    name = pkg.name
    if base == "Maven" and ":" not in name and pkg.purl.startswith("pkg:maven/"):
        path = pkg.purl[len("pkg:maven/"):].split("@", 1)[0].split("?", 1)[0]
        if "/" in path:
            group, artifact = path.rsplit("/", 1)
            name = f"{group.replace('/', '.')}:{artifact}"
    return Query([eco], normalize_name(eco, name), pkg.version)


def _distro_query(pkg: Package, eco: str, base: str, kind: str, os: OSInfo | None,
                  known: Collection[str] | None) -> Query | Skip:
    if ":" in eco and base not in ("rpm", "RPM"):  # an explicit release (an SBOM's purl): trust it
        ecosystems = [eco]
        source_names = base in ("Debian", "Ubuntu", "Alpine", "Wolfi", "Chainguard")
        if known is not None and eco not in known:
            return Skip(f"{kind} packages", no_data(eco), category="skipped")
    else:
        if os is None:
            return Skip(f"{kind} packages", NO_OS, category="unsupported")
        subject = f"{kind} packages of {_os_label(os)}"
        distro = distro_for(os)
        if distro is None:
            reason = NO_RELEASE if distro_for(OSInfo(os.id, "0.0")) is not None else NO_FEED
            return Skip(subject, reason, category="unsupported")
        ecosystems = distro.resolve(known) if known is not None else list(distro.ecosystems)
        if not ecosystems:
            return Skip(subject, no_data(distro.wanted), category="skipped")
        source_names = distro.source_names
    if source_names:
        name, version = pkg.source_name or pkg.name, pkg.source_version or pkg.version
    else:
        name, version = pkg.name, pkg.version
    return Query(ecosystems, normalize_name(ecosystems[0], name), version)


def _same_build_stream(version: str, fixed: list[str]) -> bool:
    """rpm module builds (`.module+el9...`) and plain builds are different streams: a fix in the
    ruby:3.3 module says nothing about the distribution's own ruby 3.0 package."""
    if not fixed:
        return True
    modular = ".module+" in version or ".module_" in version
    return any((".module+" in f or ".module_" in f) == modular for f in fixed)


class Matcher:
    def __init__(self, conn: sqlite3.Connection, known: Collection[str] | None = None) -> None:
        self.conn = conn
        self.known = known
        self.stats = MatchStats()
        self.cpe = CpeMatcher(conn)

    def hits_for(self, query: Query) -> list[Hit]:
        hits: list[Hit] = []
        rpm = scheme_for(query.ecosystems[0]).name == "rpm"
        for ecosystem in query.ecosystems:
            self.stats.looked_up += 1
            rows = self.conn.execute(_QUERY, (ecosystem, query.name)).fetchall()
            for (feed, vid, data, listed, aff_sev, summary, rating, cvss, published, refs, aliases,
                 related) in rows:
                ok, fixed_all, next_fix, evidence = evaluate_row(data, listed, ecosystem, query.version)
                if not ok or (rpm and not _same_build_stream(query.version, fixed_all)):
                    continue
                hits.append(Hit(feed, vid, ecosystem, summary, aff_sev or rating, cvss, published,
                                orjson.loads(refs) if refs else [], orjson.loads(aliases) if aliases else [],
                                fixed_all, next_fix, evidence, orjson.loads(related) if related else []))
        return hits

    def match(self, packages: Sequence[Package], os: OSInfo | None) -> list[Finding]:
        findings: list[Finding] = []
        skipped: Counter[tuple[str, str, str]] = Counter()
        for pkg in packages:
            self.stats.packages += 1
            query = query_for(pkg, os, self.known)
            if isinstance(query, Skip):
                if query.reason == NO_OS:
                    self.stats.no_os_release += 1
                skipped[(query.subject, query.reason, query.category)] += 1
                continue
            if isinstance(query, CpeQuery):
                findings.extend(self._match_cpe(pkg, query, skipped))
                continue
            scheme = scheme_for(query.ecosystems[0])
            if query.version in ("(devel)", ""):
                kind = package_kind(pkg, query.ecosystems[0].split(":", 1)[0])
                skipped[(f"{kind} packages", NO_VERSION, "unsupported")] += 1
                continue
            if scheme.key(query.version) is None:
                self.stats.invalid_versions += 1
                if len(self.stats.invalid) < 100:
                    self.stats.invalid.append(f"{pkg.name} {query.version!r} ({query.ecosystems[0]})")
                subject = f"{package_kind(pkg, query.ecosystems[0].split(':', 1)[0])} packages"
                skipped[(subject, BAD_VERSION.format(scheme=scheme.name), "unsupported")] += 1
                continue
            hits = self.hits_for(query)
            if not hits:
                continue
            self.stats.matched_packages += 1
            read = Subject(query.name, query.version, query.ecosystems[0])
            text = subject_text(pkg, read)
            resource = Resource(type="package", name=pkg.name)
            for group in merge_hits(hits):
                findings.append(finding_for(pkg, read, group, text, resource))
        self.stats.looked_up += self.cpe.lookups
        Enricher(self.conn).apply(findings)
        self.stats.findings += len(findings)
        self.stats.skips = [Skip(s, r, n, c) for (s, r, c), n in skipped.items()]
        return findings

    def _match_cpe(self, pkg: Package, query: CpeQuery, skipped: Counter[tuple[str, str, str]]
                   ) -> list[Finding]:
        scheme = scheme_for(CPE_ECOSYSTEM)
        vkey = scheme.key(query.version)
        if vkey is None:
            self.stats.invalid_versions += 1
            if len(self.stats.invalid) < 100:
                self.stats.invalid.append(f"{pkg.name} {query.version!r} (CPE)")
            skipped[(query.subject, BAD_CPE_VERSION, "unsupported")] += 1
            return []
        found = self.cpe.hits(query, vkey)
        if not found.hits:
            return []
        self.stats.matched_packages += 1
        read = Subject(pkg.name, query.version, CPE_ECOSYSTEM)
        resource = Resource(type="package", name=pkg.name)
        out: list[Finding] = []
        for group in merge_hits(found.hits):
            finding = finding_for(pkg, read, group, pkg.name, resource)
            self.cpe.finish(finding, pkg, found.last_affected)
            out.append(finding)
        return out
