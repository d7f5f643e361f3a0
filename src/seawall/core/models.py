"""Finding, Package, Report and the small value types they are made of.

Everything downstream of findings (reports, store, incidents, console) sees only these.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

REPORT_SCHEMA = "seawall.report/v1"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Higher is worse; unknown ranks with info so it never trips --fail-on low."""
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        value = text.strip().lower()
        aliases = {"moderate": "medium", "important": "high", "negligible": "low", "none": "info",
                   "informational": "info", "warning": "medium", "error": "high", "notice": "low"}
        value = aliases.get(value, value)
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK = {
    Severity.CRITICAL: 5,
    Severity.HIGH: 4,
    Severity.MEDIUM: 3,
    Severity.LOW: 2,
    Severity.INFO: 1,
    Severity.UNKNOWN: 0,
}


class ReportKind(StrEnum):
    """What a report holds, so that formats can say which they render."""

    FINDINGS = "findings"  # scan, audit, detect, network, runtime
    SBOM = "sbom"  # packages only


class FindingKind(StrEnum):
    VULNERABILITY = "vulnerability"
    MISCONFIGURATION = "misconfiguration"
    SECRET = "secret"
    DETECTION = "detection"
    EXPOSURE = "exposure"


def _compact(mapping: dict[str, Any]) -> dict[str, Any]:
    """Drop None values and empty containers so reports stay small and stable."""
    return {k: v for k, v in mapping.items() if v is not None and v != [] and v != {}}


@dataclass(frozen=True, slots=True)
class Location:
    path: str | None = None
    line: int | None = None
    layer: str | None = None
    end_line: int | None = None
    layer_created_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _compact({"path": self.path, "line": self.line, "end_line": self.end_line,
                         "layer": self.layer, "layer_created_by": self.layer_created_by})

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Location:
        return cls(path=raw.get("path"), line=raw.get("line"), layer=raw.get("layer"),
                   end_line=raw.get("end_line"), layer_created_by=raw.get("layer_created_by"))


@dataclass(frozen=True, slots=True)
class Resource:
    type: str
    name: str
    namespace: str | None = None
    workload: str | None = None
    arn: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _compact({"type": self.type, "name": self.name, "namespace": self.namespace,
                         "workload": self.workload, "arn": self.arn})

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Resource:
        return cls(type=raw.get("type", ""), name=raw.get("name", ""), namespace=raw.get("namespace"),
                   workload=raw.get("workload"), arn=raw.get("arn"))


@dataclass(frozen=True, slots=True)
class OSInfo:
    id: str
    version: str | None = None
    name: str | None = None
    codename: str | None = None
    id_like: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return _compact({"id": self.id, "version": self.version, "name": self.name,
                         "codename": self.codename})


@dataclass(slots=True)
class Package:
    """One installed package. `ecosystem` uses OSV's names (PyPI, npm, Go, Maven, Debian...)."""

    name: str
    version: str
    ecosystem: str
    purl: str
    locations: list[Location] = field(default_factory=list)
    source_name: str | None = None
    source_version: str | None = None
    arch: str | None = None
    licenses: list[str] = field(default_factory=list)
    cataloger: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # CPE 2.3 names (NVD-style matching), most specific first
    cpes: list[str] = field(default_factory=list)
    # purls of the packages of the same report that this one depends on (where the ecosystem
    # records it: dpkg Depends, npm lockfiles, Python Requires-Dist, Go modules, Maven poms)
    dependencies: list[str] = field(default_factory=list)

    @property
    def layer(self) -> str | None:
        """The layer that introduced the package (first location carrying a layer)."""
        for loc in self.locations:
            if loc.layer:
                return loc.layer
        return None

    def ref(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "ecosystem": self.ecosystem,
                "purl": self.purl}

    def to_dict(self) -> dict[str, Any]:
        return _compact({**self.ref(), "cpes": self.cpes, "source_name": self.source_name,
                         "source_version": self.source_version, "arch": self.arch,
                         "licenses": self.licenses, "cataloger": self.cataloger,
                         "locations": [loc.to_dict() for loc in self.locations],
                         "dependencies": self.dependencies, "metadata": self.metadata})


@dataclass(slots=True)
class VulnerabilityInfo:
    id: str
    aliases: list[str] = field(default_factory=list)
    cvss_vector: str | None = None
    cvss_score: float | None = None
    fixed_versions: list[str] = field(default_factory=list)
    source: str | None = None
    published: str | None = None
    # where the severity came from: the matching advisory's feed, else "ghsa" / "nvd" / "cve"
    severity_source: str | None = None
    # CISA Known Exploited Vulnerabilities: {"cves", "date_added", "due_date", "ransomware"}
    kev: dict[str, Any] | None = None
    epss: float | None = None  # FIRST EPSS probability (0-1), the highest of the group's CVEs
    epss_percentile: float | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> VulnerabilityInfo:
        cvss = raw.get("cvss") or {}
        epss = raw.get("epss") or {}
        return cls(id=raw.get("id", ""), aliases=list(raw.get("aliases", [])),
                   cvss_vector=cvss.get("vector"), cvss_score=cvss.get("score"),
                   fixed_versions=list(raw.get("fixed_versions", [])), source=raw.get("source"),
                   published=raw.get("published"), severity_source=raw.get("severity_source"),
                   kev=dict(raw["kev"]) if isinstance(raw.get("kev"), dict) else None,
                   epss=epss.get("score"), epss_percentile=epss.get("percentile"))

    def to_dict(self) -> dict[str, Any]:
        cvss = _compact({"vector": self.cvss_vector, "score": self.cvss_score}) or None
        epss = _compact({"score": self.epss, "percentile": self.epss_percentile}) or None
        return _compact({"id": self.id, "aliases": self.aliases, "cvss": cvss,
                         "fixed_versions": self.fixed_versions, "source": self.source,
                         "published": self.published, "severity_source": self.severity_source,
                         "kev": self.kev, "epss": epss})


@dataclass(slots=True)
class Finding:
    kind: FindingKind
    rule: str
    title: str
    severity: Severity
    resource: Resource
    location: Location = field(default_factory=Location)
    evidence: str | None = None
    remediation: str | None = None
    references: list[str] = field(default_factory=list)
    attack: list[str] = field(default_factory=list)
    vulnerability: VulnerabilityInfo | None = None
    package: Package | None = None
    # detections: how many events, over which time range (ISO 8601, UTC)
    count: int | None = None
    first_seen: str | None = None
    last_seen: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Stable hash of kind + rule + resource + location (+ package for vulnerabilities)."""
        key = [self.kind.value, self.rule, self.resource.to_dict(), self.location.to_dict()]
        if self.package is not None:
            key.append(self.package.ref())
        digest = hashlib.sha256(orjson.dumps(key, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return digest[:24]

    def to_dict(self) -> dict[str, Any]:
        return _compact({
            "id": self.id,
            "kind": self.kind.value,
            "rule": self.rule,
            "title": self.title,
            "severity": self.severity.value,
            "resource": self.resource.to_dict(),
            "location": self.location.to_dict(),
            "evidence": self.evidence,
            "remediation": self.remediation,
            "references": self.references,
            "attack": self.attack,
            "vulnerability": self.vulnerability.to_dict() if self.vulnerability else None,
            "package": self.package.ref() if self.package else None,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "extra": self.extra,
        })

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Finding:
        """A finding from its report form (`to_dict`): the store, Spark and imports read them back.
        `Finding.from_dict(f.to_dict()).id == f.id` (the id is derived, never read)."""
        pkg, vuln = raw.get("package"), raw.get("vulnerability")
        return cls(
            kind=FindingKind(raw["kind"]), rule=raw["rule"], title=raw.get("title", ""),
            severity=Severity.parse(raw.get("severity", "unknown")),
            resource=Resource.from_dict(raw.get("resource") or {}),
            location=Location.from_dict(raw.get("location") or {}),
            evidence=raw.get("evidence"), remediation=raw.get("remediation"),
            references=list(raw.get("references", [])), attack=list(raw.get("attack", [])),
            vulnerability=VulnerabilityInfo.from_dict(vuln) if vuln else None,
            package=Package(name=pkg["name"], version=pkg["version"], ecosystem=pkg["ecosystem"],
                            purl=pkg.get("purl", "")) if pkg else None,
            count=raw.get("count"), first_seen=raw.get("first_seen"), last_seen=raw.get("last_seen"),
            extra=dict(raw.get("extra", {})))


@dataclass(slots=True)
class Target:
    kind: str  # image | rootfs | files | aws | host | logs | flows
    name: str
    digest: str | None = None
    os: OSInfo | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _compact({"kind": self.kind, "name": self.name, "digest": self.digest,
                         "os": self.os.to_dict() if self.os else None,
                         "metadata": self.metadata})


@dataclass(frozen=True, slots=True)
class Skip:
    """Something an analyzer could not look at, and why: a value, never silence.

    `subject` says what was skipped ("rpm packages of rocky 9", "file a/b.yaml"), `reason` why
    ("no advisory feed for this distribution"), `count` how many of them. Skips end as report
    warnings with their counts in every output format (see `Report.all_warnings`)."""

    subject: str
    reason: str
    count: int = 1
    category: str = "skipped"  # skipped | unreadable | unsupported | damaged

    def message(self) -> str:
        what = f"{self.count} {self.subject}" if self.count != 1 else self.subject
        return f"{what} not analyzed: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "reason": self.reason, "count": self.count,
                "category": self.category}


def merge_skips(skips: list[Skip]) -> list[Skip]:
    """One skip per (subject, reason, category), counts added, in first-seen order."""
    merged: dict[tuple[str, str, str], int] = {}
    for s in skips:
        key = (s.subject, s.reason, s.category)
        merged[key] = merged.get(key, 0) + s.count
    return [Skip(subject=k[0], reason=k[1], count=n, category=k[2]) for k, n in merged.items()]


@dataclass(slots=True)
class Report:
    target: Target
    packages: list[Package] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    kind: ReportKind = ReportKind.FINDINGS

    def all_warnings(self) -> list[str]:
        """Warnings, then one line per (merged) skip with its count: what every format shows."""
        return [*self.warnings, *(s.message() for s in merge_skips(self.skips))]

    def to_dict(self) -> dict[str, Any]:
        from seawall import __version__

        # findings stay in the report even when empty: "no findings" is an answer
        body = _compact({
            "schema": REPORT_SCHEMA,
            "tool": {"name": "seawall", "version": __version__},
            "target": self.target.to_dict(),
            "packages": [p.to_dict() for p in self.packages],
            "warnings": self.all_warnings(),
            "skipped": [s.to_dict() for s in merge_skips(self.skips)],
        })
        return body | {"findings": [f.to_dict() for f in self.findings]}

    def max_severity(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)
