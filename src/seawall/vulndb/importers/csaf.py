"""Red Hat CSAF 2.0: security advisories (RHSA, `csaf_security_advisory`) and VEX (`csaf_vex`).

https://security.access.redhat.com/data/csaf/v2/advisories/2024/rhsa-2024_0010.json,
.../v2/vex/2024/cve-2024-1234.json. The product tree names platforms by CPE
(`cpe:/a:redhat:enterprise_linux:9::appstream`) and packages by purl
(`pkg:rpm/redhat/openssl@3.0.7-25.el9_3?arch=x86_64&epoch=1`); a relationship joins them
(`AppStream-9.3.0.Z.MAIN:openssl-1:3.0.7-25.el9_3.x86_64`). Each vulnerability lists the products
`fixed` (-> an `introduced 0, fixed EVR` range) and `known_affected` (-> affected, no fix yet).

Platforms of the main RHEL stream (`enterprise_linux:N`) become the ecosystem `Red Hat:N`, the
release an image's os-release names; extended-support products (`.EUS`, `.AUS`, `.E4S`, `.TUS`
in the product id, or `rhel_eus:9.2`-style CPEs) keep their own name and are not matched against
a plain RHEL image. Source rpms (`arch=src`) are recorded under the source name: Red Hat often
lists only the source package of an update, and seawall reads an RHEL package under its binary
and its source name. An RHSA names its CVEs in `related` (a bundle: seawall.vulndb.merge).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from seawall.core.errors import InputError
from seawall.vulndb.base import ECOSYSTEM, Advisory, Affected, FeedLimits, Range
from seawall.vulndb.importers.common import load_json_document
from seawall.vulndb.names import canonical_ecosystem
from seawall.vulndb.severity import from_cvss

_CPE = re.compile(r"^cpe:/[aoh]:redhat:([a-z_]+):([0-9][0-9.]*)")
_EXTENDED = re.compile(r"\.(?:EUS|AUS|E4S|TUS)\b")
_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")


def _walk(branches: Any, out: dict[str, dict[str, str]]) -> None:
    for branch in branches if isinstance(branches, list) else []:
        if not isinstance(branch, dict):
            continue
        product = branch.get("product")
        if isinstance(product, dict) and isinstance(product.get("product_id"), str):
            helper = product.get("product_identification_helper") or {}
            out[product["product_id"]] = {k: v for k, v in helper.items() if isinstance(v, str)} \
                if isinstance(helper, dict) else {}
        _walk(branch.get("branches"), out)


def _ecosystem(platform_id: str, cpe: str | None) -> str | None:
    m = _CPE.match(cpe or "")
    if m is None:
        return None
    product, version = m.groups()
    if product == "enterprise_linux" and not _EXTENDED.search(platform_id):
        return canonical_ecosystem(f"Red Hat:enterprise_linux:{version.split('.', 1)[0]}")
    return f"Red Hat:{product}:{version}"


def _package(purl: str | None) -> tuple[str, str | None] | None:
    """(name, EVR or None) from `pkg:rpm/redhat/name@version-release?epoch=N`."""
    if not purl or not purl.startswith("pkg:rpm/"):
        return None
    try:
        p = PackageURL.from_string(purl)
    except ValueError:
        return None
    quals = p.qualifiers if isinstance(p.qualifiers, dict) else {}
    if not p.version:
        return p.name, None
    epoch = quals.get("epoch")
    return p.name, f"{epoch}:{p.version}" if epoch and epoch != "0" else p.version


class _Products:
    """product id (`platform:package`) -> (ecosystem, package name, EVR or None)."""

    def __init__(self, tree: Any) -> None:
        self.helpers: dict[str, dict[str, str]] = {}
        self.joined: dict[str, tuple[str, str]] = {}
        if isinstance(tree, dict):
            _walk(tree.get("branches"), self.helpers)
            for rel in tree.get("relationships") or []:
                if not isinstance(rel, dict):
                    continue
                full = rel.get("full_product_name")
                pid = full.get("product_id") if isinstance(full, dict) else None
                ref, platform = rel.get("product_reference"), rel.get("relates_to_product_reference")
                if isinstance(pid, str) and isinstance(ref, str) and isinstance(platform, str):
                    self.joined[pid] = (platform, ref)

    def resolve(self, pid: str) -> tuple[str, str, str | None] | None:
        joined = self.joined.get(pid)
        if joined is None:
            return None
        platform, ref = joined
        ecosystem = _ecosystem(platform, self.helpers.get(platform, {}).get("cpe"))
        package = _package(self.helpers.get(ref, {}).get("purl"))
        if ecosystem is None or package is None:
            return None
        return ecosystem, package[0], package[1]


def _vector(vuln: dict[str, Any]) -> str | None:
    best: tuple[float, str] | None = None
    for score in vuln.get("scores") or []:
        for key in ("cvss_v3", "cvss_v2"):
            data = score.get(key) if isinstance(score, dict) else None
            vector = data.get("vectorString") if isinstance(data, dict) else None
            if isinstance(vector, str) and (parsed := from_cvss(vector)) is not None:
                if best is None or parsed[1] > best[0]:
                    best = (parsed[1], vector)
                break
    return best[1] if best else None


def _impact(vuln: dict[str, Any]) -> str | None:
    for threat in vuln.get("threats") or []:
        if isinstance(threat, dict) and threat.get("category") == "impact" \
                and isinstance(threat.get("details"), str):
            return str(threat["details"]).strip().lower() or None
    return None


def parse_csaf(doc: Any, what: str) -> Advisory | None:
    if not isinstance(doc, dict) or not isinstance(doc.get("document"), dict):
        raise InputError(f"{what}: not a CSAF document (no 'document')")
    meta = doc["document"]
    tracking: dict[str, Any] = meta["tracking"] if isinstance(meta.get("tracking"), dict) else {}
    aid = tracking.get("id")
    if not isinstance(aid, str) or not aid:
        raise InputError(f"{what}: a CSAF document without tracking.id")
    vulns = [v for v in doc.get("vulnerabilities") or [] if isinstance(v, dict)]
    products = _Products(doc.get("product_tree"))
    fixes: dict[tuple[str, str], list[str]] = {}
    unfixed: set[tuple[str, str]] = set()
    for vuln in vulns:
        status: dict[str, Any] = vuln["product_status"] if isinstance(vuln.get("product_status"), dict) \
            else {}
        for pid in status.get("fixed") or []:
            resolved = products.resolve(pid) if isinstance(pid, str) else None
            if resolved and resolved[2]:
                evrs = fixes.setdefault((resolved[0], resolved[1]), [])
                if resolved[2] not in evrs:
                    evrs.append(resolved[2])
        for pid in status.get("known_affected") or []:
            resolved = products.resolve(pid) if isinstance(pid, str) else None
            if resolved:
                unfixed.add((resolved[0], resolved[1]))
    affected = [Affected(eco, name, [Range(ECOSYSTEM, [("introduced", "0"), ("fixed", evr)])
                                     for evr in evrs])
                for (eco, name), evrs in sorted(fixes.items())]
    affected += [Affected(eco, name, [Range(ECOSYSTEM, [("introduced", "0")])])
                 for eco, name in sorted(unfixed - set(fixes))]
    if not affected:
        return None
    cves = [v["cve"] for v in vulns if isinstance(v.get("cve"), str) and _CVE.match(v["cve"])]
    vectors = [(parsed[1], vec) for v in vulns if (vec := _vector(v)) and (parsed := from_cvss(vec))]
    aggregate = meta.get("aggregate_severity")
    rating = aggregate.get("text") if isinstance(aggregate, dict) else None
    title = meta.get("title") if isinstance(meta.get("title"), str) else None
    initial, current = tracking.get("initial_release_date"), tracking.get("current_release_date")
    return Advisory(
        id=aid, affected=affected, related=[c for c in cves if c != aid],
        summary=title[:300] if title else None,
        severity=rating.strip().lower() if isinstance(rating, str) and rating.strip()
        else next((r for v in vulns if (r := _impact(v))), None),
        cvss_vector=max(vectors)[1] if vectors else None,
        published=initial if isinstance(initial, str) else None,
        modified=current if isinstance(current, str) else None,
        references=[f"https://access.redhat.com/errata/{aid}" if aid.startswith("RH")
                    else f"https://access.redhat.com/security/cve/{aid}"])


class CsafImporter:
    kind = "csaf"

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.is_file() and b'"csaf_version"' in head and b'"document"' in head

    def feed_name(self, path: Path) -> str:
        return "redhat-csaf"

    def read(self, path: Path, limits: FeedLimits) -> Iterator[Advisory]:
        adv = parse_csaf(load_json_document(path, limits), str(path))
        if adv is not None:
            yield adv
