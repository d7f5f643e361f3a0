"""SPDX 2.3 JSON: the image as the described package, CONTAINS one package per installed package.

Each package carries its purl (externalRefs PACKAGE-MANAGER/purl), its CPEs (SECURITY/cpe23Type),
its source package (`sourceInfo`), where it was found (path and layer, in `comment`), and its
declared license when it is a valid SPDX expression (otherwise a `LicenseRef-` with the original
text kept in `hasExtractedLicensingInfos`). A package DEPENDS_ON the packages its ecosystem
records (`Package.dependencies`). Vulnerability findings add SECURITY/advisory references.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from cyclonedx import spdx as spdx_ids

from seawall import __version__
from seawall.core import FindingKind, Package, Report

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")
NOASSERTION = "NOASSERTION"


def _spdx_id(*parts: str) -> str:
    return "SPDXRef-" + "-".join(_ID_UNSAFE.sub("-", p).strip("-") or "x" for p in parts)


class _Licenses:
    def __init__(self) -> None:
        self.extracted: dict[str, str] = {}  # LicenseRef id -> original text

    def expression(self, texts: list[str]) -> str:
        terms: list[str] = []
        for text in texts[:16]:
            text = text.strip()
            if not text:
                continue
            fixed = spdx_ids.fixup_id(text)
            if fixed:
                terms.append(fixed)
            elif spdx_ids.is_expression(text):
                terms.append(f"({text})" if " " in text else text)
            else:
                ref = "LicenseRef-" + (_ID_UNSAFE.sub("-", text).strip("-")[:48] or "x")
                ref += "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
                self.extracted[ref] = text
                terms.append(ref)
        if not terms:
            return NOASSERTION
        return " AND ".join(dict.fromkeys(terms))


def _package(pkg: Package, spdx_id: str, licenses: _Licenses, advisories: list[str]) -> dict[str, Any]:
    refs: list[dict[str, str]] = []
    if pkg.purl:
        refs.append({"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                     "referenceLocator": pkg.purl})
    for cpe in pkg.cpes[:8]:
        refs.append({"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
                     "referenceLocator": cpe})
    for url in advisories:
        refs.append({"referenceCategory": "SECURITY", "referenceType": "advisory",
                     "referenceLocator": url})
    where = [f"{loc.path or ''}" + (f" (layer {loc.layer})" if loc.layer else "")
             for loc in pkg.locations]
    doc: dict[str, Any] = {
        "SPDXID": spdx_id,
        "name": pkg.name,
        "versionInfo": pkg.version,
        "downloadLocation": NOASSERTION,
        "filesAnalyzed": False,
        "licenseConcluded": NOASSERTION,
        "licenseDeclared": licenses.expression(pkg.licenses),
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": "APPLICATION" if pkg.cataloger == "binary" else "LIBRARY",
        "externalRefs": refs,
        "comment": f"ecosystem: {pkg.ecosystem}; found at: " + "; ".join(where) if where
        else f"ecosystem: {pkg.ecosystem}",
    }
    if pkg.source_name:
        src = pkg.source_name + (f" {pkg.source_version}" if pkg.source_version else "")
        doc["sourceInfo"] = f"built from source package {src}"
    return doc


def build_document(report: Report, now: datetime | None = None) -> dict[str, Any]:
    target = report.target
    created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    root_id = _spdx_id(target.kind, target.name)
    root: dict[str, Any] = {
        "SPDXID": root_id, "name": target.name, "downloadLocation": NOASSERTION,
        "filesAnalyzed": False, "licenseConcluded": NOASSERTION, "licenseDeclared": NOASSERTION,
        "copyrightText": NOASSERTION,
        "primaryPackagePurpose": "CONTAINER" if target.kind == "image" else "OTHER",
    }
    if target.digest:
        root["versionInfo"] = target.digest
        algo, _, value = target.digest.partition(":")
        if algo == "sha256" and re.fullmatch(r"[0-9a-f]{64}", value):
            root["checksums"] = [{"algorithm": "SHA256", "checksumValue": value}]
    packages = [root]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": root_id}]
    if target.os:
        os_id = _spdx_id("OperatingSystem", target.os.id, target.os.version or "")
        packages.append({
            "SPDXID": os_id, "name": target.os.id, "versionInfo": target.os.version or NOASSERTION,
            "downloadLocation": NOASSERTION, "filesAnalyzed": False, "licenseConcluded": NOASSERTION,
            "licenseDeclared": NOASSERTION, "copyrightText": NOASSERTION,
            "primaryPackagePurpose": "OPERATING_SYSTEM",
            **({"description": target.os.name} if target.os.name else {})})
        relationships.append({"spdxElementId": root_id, "relationshipType": "CONTAINS",
                              "relatedSpdxElement": os_id})
    advisories: dict[tuple[str, str, str], list[str]] = {}
    for f in report.findings:
        if f.kind is FindingKind.VULNERABILITY and f.package is not None:
            urls = [r for r in f.references if r.startswith(("https://", "http://"))]
            advisories.setdefault((f.package.ecosystem, f.package.name, f.package.version), []).extend(urls)
    licenses = _Licenses()
    seen: set[str] = set()
    ids_by_purl: dict[str, str] = {}
    for pkg in report.packages:
        base = _spdx_id("Package", pkg.ecosystem, pkg.name,
                        hashlib.sha256(f"{pkg.purl}|{pkg.version}".encode()).hexdigest()[:12])
        spdx_id, n = base, 1
        while spdx_id in seen:
            n += 1
            spdx_id = f"{base}-{n}"
        seen.add(spdx_id)
        urls = list(dict.fromkeys(advisories.get((pkg.ecosystem, pkg.name, pkg.version), [])))
        packages.append(_package(pkg, spdx_id, licenses, urls))
        ids_by_purl.setdefault(pkg.purl, spdx_id)
        relationships.append({"spdxElementId": root_id, "relationshipType": "CONTAINS",
                              "relatedSpdxElement": spdx_id})
    for pkg in report.packages:
        dependent = ids_by_purl.get(pkg.purl)
        for dep in dict.fromkeys(pkg.dependencies):
            dependency = ids_by_purl.get(dep)
            if dependent is not None and dependency is not None and dependency != dependent:
                relationships.append({"spdxElementId": dependent, "relationshipType": "DEPENDS_ON",
                                      "relatedSpdxElement": dependency})
    name = _ID_UNSAFE.sub("-", target.name).strip("-") or "target"
    doc: dict[str, Any] = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": target.name,
        "documentNamespace": f"http://spdx.org/spdxdocs/seawall-{name}-{uuid.uuid4()}",
        "creationInfo": {"created": created, "creators": [f"Tool: seawall-{__version__}"]},
        "packages": packages,
        "relationships": relationships,
    }
    if licenses.extracted:
        doc["hasExtractedLicensingInfos"] = [
            {"licenseId": ref, "extractedText": text, "name": text[:200]}
            for ref, text in sorted(licenses.extracted.items())]
    return doc


def render(report: Report, out: TextIO, options: object) -> None:
    out.write(orjson.dumps(build_document(report), option=orjson.OPT_INDENT_2).decode())
    out.write("\n")
