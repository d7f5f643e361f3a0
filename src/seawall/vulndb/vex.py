"""VEX documents: statements that a product is not affected by a vulnerability.

    statements = load_vex([Path("app.openvex.json"), Path("bom.vex.cdx.json")])
    result = apply_vex(findings, statements, VexTarget(name="registry.example/app:1", digest="sha256:..."))
    result.kept, result.dropped            # dropped: [(finding, statement)]

Formats, told apart by content:
  - OpenVEX (https://openvex.dev, v0.0.x and v0.2): `statements[]` with `vulnerability` (a string,
    or `{name, @id, aliases}`), `products` (strings, or `{@id, identifiers: {purl}, subcomponents}`),
    `status` (not_affected | affected | fixed | under_investigation), `justification`;
  - CycloneDX VEX (1.4+): `vulnerabilities[]` with `id`, `analysis.state` (not_affected,
    false_positive, resolved, resolved_with_pedigree, exploitable, in_triage) and `affects[].ref`
    (a purl, a `bom-ref` of the document's components or metadata.component, or a BOM-Link
    `urn:cdx:<serial>/<version>#<bom-ref>`).

A statement applies to a finding when one of its vulnerability ids is one of the finding's ids
(its primary id or an alias) and one of its products is the finding's package (purl type,
namespace and name equal; the version too when the statement names one; qualifiers ignored) or
the scanned image itself (an `pkg:oci/...` purl with the image's digest or repository name, or
the image name), narrowed to `subcomponents` when given. When several statements apply, the
latest (by timestamp, else document order) decides. Findings whose deciding statement says
not_affected / fixed (OpenVEX) or not_affected / false_positive / resolved (CycloneDX) are
dropped from the report -- as Trivy does -- and counted: a VEX statement is the product
owner's assessment, so the finding would only be noise for `--fail-on` and every output format.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from packageurl import PackageURL

from seawall.bounded import read_file_capped
from seawall.core import Finding, Package
from seawall.core.errors import InputError
from seawall.vulndb.names import normalize_name

MAX_VEX_BYTES = 64 * 1024 * 1024
SUPPRESSING = frozenset({"not_affected", "fixed", "false_positive", "resolved", "resolved_with_pedigree"})
_PEP503 = re.compile(r"[-_.]+")


@dataclass(frozen=True, slots=True)
class Product:
    """A product a statement is about: a package purl, or the scanned image."""

    purl: str | None = None
    ref: str | None = None  # a non-purl identifier (image name, bom-ref of the document)
    subcomponents: tuple[str, ...] = ()  # purls


@dataclass(frozen=True, slots=True)
class Statement:
    vulnerabilities: frozenset[str]
    products: tuple[Product, ...]
    status: str
    justification: str | None
    source: str  # the file it came from
    order: tuple[str, int]  # (timestamp, position): the latest applicable statement decides

    @property
    def suppresses(self) -> bool:
        return self.status in SUPPRESSING


@dataclass(slots=True)
class VexTarget:
    """What was scanned: the image's name (reference) and digest, to match `pkg:oci` products."""

    name: str | None = None
    digest: str | None = None


@dataclass(slots=True)
class VexResult:
    kept: list[Finding]
    dropped: list[tuple[Finding, Statement]] = field(default_factory=list)

    def summary(self) -> str:
        """`3 vulnerability findings dropped by VEX (not_affected: 2, fixed: 1)`."""
        counts: dict[str, int] = {}
        for _, st in self.dropped:
            counts[st.status] = counts.get(st.status, 0) + 1
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        noun = "finding" if len(self.dropped) == 1 else "findings"
        return f"{len(self.dropped)} vulnerability {noun} dropped by VEX statements ({detail})"


# ---------------------------------------------------------------------------------------------
# reading


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _openvex_product(raw: Any) -> Product | None:
    if isinstance(raw, str):
        return Product(purl=raw) if raw.startswith("pkg:") else Product(ref=raw)
    if not isinstance(raw, dict):
        return None
    ids: dict[str, Any] = raw["identifiers"] if isinstance(raw.get("identifiers"), dict) else {}
    own_id = _str(raw.get("@id"))
    purl = _str(ids.get("purl")) or (own_id if own_id and own_id.startswith("pkg:") else None)
    subs: list[str] = []
    for sub in raw.get("subcomponents") or []:
        p = _openvex_product(sub)
        if p is not None and p.purl:
            subs.append(p.purl)
    return Product(purl=purl, ref=None if purl else own_id, subcomponents=tuple(subs))


def _openvex(doc: dict[str, Any], source: str) -> list[Statement]:
    default_time = _str(doc.get("timestamp")) or ""
    out: list[Statement] = []
    for i, st in enumerate(doc.get("statements") or []):
        if not isinstance(st, dict):
            raise InputError(f"{source}: statement {i} is not an object")
        vuln = st.get("vulnerability")
        ids: set[str] = set()
        if isinstance(vuln, str):
            ids.add(vuln.strip())
        elif isinstance(vuln, dict):
            for key in ("name", "@id"):
                if (v := _str(vuln.get(key))) is not None:
                    ids.add(v.rsplit("/", 1)[-1] if key == "@id" else v)
            ids.update(a.strip() for a in vuln.get("aliases") or [] if isinstance(a, str))
        status = _str(st.get("status"))
        if not ids or status is None:
            raise InputError(f"{source}: statement {i} has no vulnerability or no status")
        products = tuple(p for p in (_openvex_product(r) for r in st.get("products") or []) if p is not None)
        out.append(Statement(frozenset(ids), products, status.lower(), _str(st.get("justification")), source,
                             (_str(st.get("timestamp")) or default_time, i)))
    return out


def _bom_ref(ref: str) -> str:
    """A BOM-Link (`urn:cdx:<serial>/<version>#<bom-ref>`) -> its bom-ref."""
    return ref.split("#", 1)[1] if ref.startswith("urn:cdx:") and "#" in ref else ref


def _cyclonedx(doc: dict[str, Any], source: str) -> list[Statement]:
    refs: dict[str, str | None] = {}
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    product = meta.get("component") if isinstance(meta, dict) else None
    product_ref = _str(product.get("bom-ref")) if isinstance(product, dict) else None
    stack = list(doc.get("components") or [])
    while stack:
        comp = stack.pop()
        if isinstance(comp, dict):
            if (ref := _str(comp.get("bom-ref"))) is not None:
                refs[ref] = _str(comp.get("purl"))
            stack.extend(comp.get("components") or [])
    out: list[Statement] = []
    for i, vuln in enumerate(doc.get("vulnerabilities") or []):
        if not isinstance(vuln, dict):
            raise InputError(f"{source}: vulnerability {i} is not an object")
        vid = _str(vuln.get("id"))
        analysis: dict[str, Any] = vuln["analysis"] if isinstance(vuln.get("analysis"), dict) else {}
        state = _str(analysis.get("state"))
        if vid is None or state is None:
            continue  # a vulnerability without an analysis is a finding list, not a VEX statement
        ids = {vid, *(r["id"].strip() for r in vuln.get("references") or []
                     if isinstance(r, dict) and isinstance(r.get("id"), str))}
        products: list[Product] = []
        for affect in vuln.get("affects") or []:
            ref = _str(affect.get("ref")) if isinstance(affect, dict) else None
            if ref is None:
                continue
            ref = _bom_ref(ref)
            if ref.startswith("pkg:"):
                products.append(Product(purl=ref))
            elif refs.get(ref):
                products.append(Product(purl=refs[ref]))
            elif ref == product_ref:
                products.append(Product(ref="@image"))
            else:
                products.append(Product(ref=ref))
        when = _str(vuln.get("updated")) or _str(vuln.get("published")) or ""
        out.append(Statement(frozenset(ids), tuple(products), state.lower(),
                             _str(analysis.get("justification")), source, (when, i)))
    return out


def parse_vex(data: bytes, source: str) -> list[Statement]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"--vex {source}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(f"--vex {source}: not a VEX document (not a JSON object)")
    context = str(doc.get("@context") or "")
    if "openvex" in context or isinstance(doc.get("statements"), list):
        return _openvex(doc, source)
    if doc.get("bomFormat") == "CycloneDX":
        if not isinstance(doc.get("vulnerabilities"), list):
            raise InputError(f"--vex {source}: a CycloneDX document without 'vulnerabilities' (no VEX data)")
        return _cyclonedx(doc, source)
    raise InputError(f"--vex {source}: not an OpenVEX or CycloneDX VEX document")


def load_vex(paths: Iterable[Path]) -> list[Statement]:
    statements: list[Statement] = []
    for path in paths:
        data = read_file_capped(Path(path), MAX_VEX_BYTES, f"--vex {path}")
        statements.extend(parse_vex(data, Path(path).name))
    return statements


# ---------------------------------------------------------------------------------------------
# matching


@dataclass(frozen=True, slots=True)
class _Purl:
    type: str
    namespace: str
    name: str
    version: str | None


def _purl(text: str | None) -> _Purl | None:
    if not text or not text.startswith("pkg:"):
        return None
    try:
        p = PackageURL.from_string(text)
    except ValueError:
        return None
    ptype = p.type.lower()
    name = _PEP503.sub("-", p.name).lower() if ptype == "pypi" else p.name
    if ptype in ("npm", "deb", "apk", "rpm", "pypi", "gem", "cargo", "composer", "nuget"):
        name = name.lower()
    return _Purl(ptype, (p.namespace or "").lower(), name, p.version or None)


def _same_package(product: _Purl, pkg: _Purl) -> bool:
    if (product.type, product.name) != (pkg.type, pkg.name):
        return False
    if product.namespace and pkg.namespace and product.namespace != pkg.namespace:
        return False
    return product.version is None or product.version == pkg.version


def _is_image(product: Product, target: VexTarget) -> bool:
    if product.ref == "@image":
        return True
    if product.ref and target.name and product.ref in (target.name, target.name.split("://", 1)[-1]):
        return True
    oci = _purl(product.purl)
    if oci is None or oci.type != "oci":
        return False
    if oci.version and target.digest:
        return oci.version.lower() == target.digest.lower()
    repo = (target.name or "").rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0].lower()
    return bool(repo) and oci.name.lower() == repo


def _applies(st: Statement, finding: Finding, pkg: _Purl | None, target: VexTarget) -> bool:
    v = finding.vulnerability
    ids = {finding.rule, *(v.aliases if v is not None else [])}
    if not ids & st.vulnerabilities:
        return False
    if not st.products:
        return True
    for product in st.products:
        if _is_image(product, target):
            if not product.subcomponents:
                return True
            subs = [_purl(s) for s in product.subcomponents]
            if pkg is not None and any(s is not None and _same_package(s, pkg) for s in subs):
                return True
            continue
        want = _purl(product.purl)
        if want is not None and pkg is not None and _same_package(want, pkg):
            return True
    return False


def _package_purl(pkg: Package | None) -> _Purl | None:
    if pkg is None:
        return None
    parsed = _purl(pkg.purl)
    if parsed is not None and parsed.version is None and pkg.version:
        parsed = _Purl(parsed.type, parsed.namespace, parsed.name, pkg.version)
    if parsed is not None and parsed.type == "pypi":
        parsed = _Purl(parsed.type, parsed.namespace, normalize_name("PyPI", parsed.name), parsed.version)
    return parsed


def apply_vex(findings: Sequence[Finding], statements: Sequence[Statement], target: VexTarget) -> VexResult:
    """Drop the vulnerability findings the latest applicable statement says are not affected."""
    if not statements:
        return VexResult(list(findings))
    by_id: dict[str, list[Statement]] = {}
    for st in statements:
        for vid in st.vulnerabilities:
            by_id.setdefault(vid, []).append(st)
    result = VexResult([])
    for finding in findings:
        v = finding.vulnerability
        if v is None:
            result.kept.append(finding)
            continue
        candidates = {id(st): st for vid in (finding.rule, *v.aliases) for st in by_id.get(vid, [])}
        pkg = _package_purl(finding.package)
        applicable = [st for st in candidates.values() if _applies(st, finding, pkg, target)]
        decider = max(applicable, key=lambda st: st.order) if applicable else None
        if decider is not None and decider.suppresses:
            result.dropped.append((finding, decider))
        else:
            result.kept.append(finding)
    return result
