"""CycloneDX 1.6 JSON (via cyclonedx-python-lib): components, the image, and vulnerabilities.

- `metadata.component`: the scanned image (type container, version = manifest digest) or rootfs;
- one `operating-system` component for the detected OS, one `library` component per package
  (`application` for runtimes and servers found by the binary classifiers), with its purl, its
  first CPE in `cpe` (further ones as `seawall:package:cpe` properties) and `seawall:*`
  properties for ecosystem, source package, path and layer;
- `dependencies`: the image contains the OS and every package, and each package depends on the
  packages its ecosystem records (dpkg Depends, npm lockfiles and package.json, Python
  Requires-Dist, Go modules of a binary, Maven poms: `Package.dependencies`);
- `vulnerabilities`: one per vulnerability finding, rated from its CVSS vector/severity,
  `affects` pointing at the package's component, aliases as references.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from cyclonedx.model import Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.license import LicenseExpression
from cyclonedx.model.vulnerability import (
    BomTarget,
    Vulnerability,
    VulnerabilityAdvisory,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from seawall import __version__
from seawall.core import Finding, FindingKind, Package, Report

try:  # cyclonedx-python-lib >= 11.x moved the factory; older releases have only the old place
    from cyclonedx.contrib.license.factories import LicenseFactory
except ImportError:  # pragma: no cover
    from cyclonedx.factory.license import LicenseFactory

_SEVERITY = {
    "critical": VulnerabilitySeverity.CRITICAL,
    "high": VulnerabilitySeverity.HIGH,
    "medium": VulnerabilitySeverity.MEDIUM,
    "low": VulnerabilitySeverity.LOW,
    "info": VulnerabilitySeverity.INFO,
    "unknown": VulnerabilitySeverity.UNKNOWN,
}


def _purl(text: str) -> PackageURL | None:
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


def _package_key(pkg: Package) -> tuple[str, str, str, str]:
    return (pkg.ecosystem, pkg.name, pkg.version, pkg.purl)


def _properties(pkg: Package) -> list[Property]:
    props = [Property(name="seawall:package:ecosystem", value=pkg.ecosystem)]
    props.extend(Property(name="seawall:package:cpe", value=cpe) for cpe in pkg.cpes[1:8])
    if pkg.cataloger:
        props.append(Property(name="seawall:package:cataloger", value=pkg.cataloger))
    if pkg.source_name:
        props.append(Property(name="seawall:package:source_name", value=pkg.source_name))
    if pkg.source_version:
        props.append(Property(name="seawall:package:source_version", value=pkg.source_version))
    if pkg.arch:
        props.append(Property(name="seawall:package:arch", value=pkg.arch))
    for i, loc in enumerate(pkg.locations):
        if loc.path:
            props.append(Property(name=f"seawall:location:{i}:path", value=loc.path))
        if loc.layer:
            props.append(Property(name=f"seawall:location:{i}:layer", value=loc.layer))
        if loc.layer_created_by:
            props.append(Property(name=f"seawall:location:{i}:layer_created_by",
                                  value=loc.layer_created_by[:1024]))
    return props


def _licenses(pkg: Package) -> list[Any]:
    """CycloneDX allows either one SPDX expression or a list of ids/names, never a mix."""
    factory = LicenseFactory()
    texts = [t.strip() for t in pkg.licenses[:16] if t.strip()]
    made = []
    for text in texts:
        with contextlib.suppress(Exception):  # the library's own exception classes moved between releases
            made.append(factory.make_from_string(text))
    if len(made) <= 1 or not any(isinstance(m, LicenseExpression) for m in made):
        return made
    with contextlib.suppress(Exception):  # all valid SPDX: one combined expression
        return [factory.make_with_expression(" AND ".join(f"({t})" for t in texts))]
    return [factory.make_with_name(t) for t in texts]


def _component(pkg: Package, ref: str) -> Component:
    kind = ComponentType.APPLICATION if pkg.cataloger == "binary" else ComponentType.LIBRARY
    return Component(type=kind, name=pkg.name, version=pkg.version,
                     purl=_purl(pkg.purl), bom_ref=ref, properties=_properties(pkg),
                     licenses=_licenses(pkg), cpe=pkg.cpes[0] if pkg.cpes else None)


def _rating(finding: Finding) -> VulnerabilityRating:
    vuln = finding.vulnerability
    method = None
    score = None
    vector = vuln.cvss_vector if vuln else None
    if vector:
        if vector.startswith("CVSS:4"):
            method = VulnerabilityScoreSource.CVSS_V4
        elif vector.startswith("CVSS:3.1"):
            method = VulnerabilityScoreSource.CVSS_V3_1
        elif vector.startswith("CVSS:3"):
            method = VulnerabilityScoreSource.CVSS_V3
        elif vector.startswith("AV:"):
            method = VulnerabilityScoreSource.CVSS_V2
        else:
            method = VulnerabilityScoreSource.OTHER
    if vuln and vuln.cvss_score is not None:
        with contextlib.suppress(InvalidOperation, ValueError):
            score = Decimal(str(vuln.cvss_score))
    source = VulnerabilitySource(name=vuln.source) if vuln and vuln.source else None
    return VulnerabilityRating(source=source, score=score, vector=vector, method=method,
                               severity=_SEVERITY.get(finding.severity.value,
                                                      VulnerabilitySeverity.UNKNOWN))


def _vulnerability(finding: Finding, target_ref: str) -> Vulnerability:
    vuln = finding.vulnerability
    vid = vuln.id if vuln else finding.rule
    source_name = (vuln.source if vuln and vuln.source else "seawall")
    references = [VulnerabilityReference(id=alias, source=VulnerabilitySource(name=_alias_source(alias)))
                  for alias in (vuln.aliases if vuln else []) if alias != vid]
    advisories = []
    for ref in finding.references:
        if ref.startswith(("https://", "http://")):
            with contextlib.suppress(ValueError, TypeError):
                advisories.append(VulnerabilityAdvisory(url=XsUri(ref)))
    recommendation = finding.remediation
    if not recommendation and vuln and vuln.fixed_versions:
        recommendation = "Upgrade to " + ", ".join(vuln.fixed_versions)
    props = [Property(name="seawall:finding:id", value=finding.id)]
    if finding.location.layer:
        props.append(Property(name="seawall:location:layer", value=finding.location.layer))
    if finding.location.path:
        props.append(Property(name="seawall:location:path", value=finding.location.path))
    return Vulnerability(
        bom_ref=f"vuln:{finding.id}", id=vid, source=VulnerabilitySource(name=source_name),
        references=references, ratings=[_rating(finding)], description=finding.title,
        recommendation=recommendation, advisories=advisories,
        affects=[BomTarget(ref=target_ref)], properties=props)


def _alias_source(alias: str) -> str:
    prefix = alias.split("-", 1)[0].upper()
    return {"CVE": "NVD", "GHSA": "GitHub", "PYSEC": "PyPA", "GO": "Go", "OSV": "OSV",
            "DSA": "Debian", "DLA": "Debian", "ALAS": "Amazon"}.get(prefix, prefix or "other")


def build_bom(report: Report) -> Bom:
    target = report.target
    root = Component(type=ComponentType.CONTAINER if target.kind == "image" else ComponentType.FILE,
                     name=target.name, version=target.digest, bom_ref="target")
    if target.digest:
        root.properties.add(Property(name="seawall:image:digest", value=target.digest))
    bom = Bom()
    bom.metadata.component = root
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="seawall", version=__version__))
    children: list[Component] = []
    if target.os:
        os_comp = Component(type=ComponentType.OPERATING_SYSTEM, name=target.os.id,
                            version=target.os.version, bom_ref="os",
                            description=target.os.name)
        children.append(os_comp)
    refs: dict[tuple[str, str, str, str], str] = {}
    used: set[str] = set()

    def add(pkg: Package) -> str:
        key = _package_key(pkg)
        if key in refs:
            return refs[key]
        ref = pkg.purl or f"pkg:{pkg.ecosystem}/{pkg.name}@{pkg.version}"
        base, n = ref, 1
        while ref in used:
            n += 1
            ref = f"{base}#{n}"
        used.add(ref)
        refs[key] = ref
        children.append(_component(pkg, ref))
        return ref

    by_purl: dict[str, Component] = {}
    for pkg in report.packages:
        ref = add(pkg)
        by_purl.setdefault(pkg.purl, next(c for c in reversed(children) if c.bom_ref.value == ref))
    vulns = []
    for finding in _vuln_findings(report.findings):
        assert finding.package is not None
        vulns.append(_vulnerability(finding, add(finding.package)))
    for comp in children:
        bom.components.add(comp)
    bom.register_dependency(root, children)
    for pkg in report.packages:
        dependent = by_purl.get(pkg.purl)
        if dependent is not None:
            bom.register_dependency(dependent, [by_purl[d] for d in pkg.dependencies
                                                if d in by_purl and by_purl[d] is not dependent])
    for v in vulns:
        bom.vulnerabilities.add(v)
    return bom


def _vuln_findings(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.kind is FindingKind.VULNERABILITY and f.package is not None]


def render(report: Report, out: TextIO, options: object) -> None:
    bom = build_bom(report)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the library warns about incomplete dependency graphs
        text = JsonV1Dot6(bom).output_as_string(indent=2)
    out.write(text)
    out.write("\n")
