"""CPE 2.3 names for packages, so that NVD-style advisories (which name products by CPE) can be
matched to binaries, jars and OS packages, as Syft's CPE generator does.

Vendor and product come from a table of the NVD dictionary's names where a package's own name
is not the dictionary's (cpe_vendors.yaml: `openssl` -> openssl:openssl, `curl` -> haxx:curl,
`log4j-core` -> apache:log4j, `django` -> djangoproject:django, `python3.11` ->
python:python ...); otherwise the package name is both (and `<name>_project` is a second
vendor candidate). The version is the upstream version: epoch and distribution revision dropped
(`1:2.38.1-5+deb12u1` -> `2.38.1`, `1.1.1g-r0` -> `1.1.1g`), the `v` of Go versions too.
Language packages carry their target software (`python`, `node.js`, `java`, `go`).

    assign_cpes(packages)   # fills Package.cpes where it is empty, most specific CPE first
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from importlib import resources

import yaml

from seawall.core import Package

_SAFE = re.compile(r"[^a-z0-9_.\-]")
_DEB_REPACK = re.compile(r"[+~.](?:dfsg|ds|repack|really|debian)[\w.]*$", re.IGNORECASE)
_OS_CATALOGERS = frozenset({"dpkg", "apk", "rpm"})


@cache
def _tables() -> dict[str, dict[str, str]]:
    text = resources.files("seawall.catalog").joinpath("cpe_vendors.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    return {k: {str(a): str(b) for a, b in (v or {}).items()} for k, v in doc.items()}


@cache
def _os_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(k), v) for k, v in _tables().get("os_patterns", {}).items())


def escape(value: str) -> str:
    """A CPE 2.3 formatted-string component: lower case, punctuation other than `._-` quoted."""
    value = value.strip().lower().replace(" ", "_")
    if not value:
        return "*"
    return _SAFE.sub(lambda m: "\\" + m.group(0), value)


def cpe23(vendor: str, product: str, version: str, target_sw: str = "*", part: str = "a") -> str:
    return (f"cpe:2.3:{part}:{escape(vendor)}:{escape(product)}:{escape(version) if version else '*'}"
            f":*:*:*:*:{target_sw}:*:*")


def upstream_version(version: str) -> str:
    """'1:2.38.1-5+deb12u1' -> '2.38.1'; '1.1.1g-r0' -> '1.1.1g'; '18.20.4+dfsg-1' -> '18.20.4'."""
    if ":" in version.split("-", 1)[0]:
        version = version.split(":", 1)[1]
    if "-" in version:
        version = version.rsplit("-", 1)[0]
    return _DEB_REPACK.sub("", version)


def _pairs(vendor_product: str) -> tuple[str, str]:
    vendor, _, product = vendor_product.partition(":")
    return vendor, product or vendor


def _os(pkg: Package) -> list[tuple[str, str]]:
    table = _tables().get("os", {})
    out: list[tuple[str, str]] = []
    for name in dict.fromkeys(n for n in (pkg.source_name, pkg.name) if n):
        known = table.get(name)
        if known is None:
            known = next((vp for rx, vp in _os_patterns() if rx.match(name)), None)
        if known is not None:
            out.append(_pairs(known))
    if not out:
        name = pkg.source_name or pkg.name
        out = [(name, name), (f"{name}_project", name)]
    return out


def _maven(pkg: Package) -> list[tuple[str, str]]:
    artifact = str(pkg.metadata.get("artifact_id") or pkg.name.rsplit(":", 1)[-1])
    group = str(pkg.metadata.get("group_id") or "")
    known = _tables().get("maven", {}).get(artifact)
    if known:
        return [_pairs(known)]
    vendor = None
    for prefix, v in sorted(_tables().get("maven_groups", {}).items(), key=lambda kv: -len(kv[0])):
        if group == prefix or group.startswith(prefix + "."):
            vendor = v
            break
    if vendor is None and group:
        parts = group.split(".")
        vendor = parts[1] if len(parts) > 1 and parts[0] in ("org", "com", "io", "net", "de") else parts[0]
    return [(vendor or artifact, artifact)]


def _go(pkg: Package) -> list[tuple[str, str]]:
    if pkg.name == "stdlib":
        return [("golang", "go")]
    known = _tables().get("go", {}).get(pkg.name)
    if known:
        return [_pairs(known)]
    parts = pkg.name.split("/")
    if parts[0] in ("github.com", "gitlab.com", "bitbucket.org") and len(parts) >= 3:
        return [(parts[1], parts[2])]
    if parts[0] == "golang.org" and len(parts) >= 3:
        return [("golang", parts[2])]
    last = parts[-1]
    if re.fullmatch(r"v\d+", last) and len(parts) > 1:
        last = parts[-2]
    return [(last, last), (f"{last}_project", last)]


def _language(pkg: Package, table: str) -> list[tuple[str, str]]:
    name = pkg.name.rsplit("/", 1)[-1]
    known = _tables().get(table, {}).get(pkg.name.lower())
    if known:
        return [_pairs(known)]
    return [(f"{name}_project", name), (name, name)]


_TARGET = {"PyPI": "python", "npm": "node.js", "Maven": "java", "Go": "go"}


def cpes_for(pkg: Package) -> list[str]:
    """CPE names for one package (most specific first); [] when nothing can be derived."""
    if not pkg.name or not pkg.version:
        return []
    version = pkg.version
    target = _TARGET.get(pkg.ecosystem, "*")
    if pkg.cataloger in _OS_CATALOGERS:
        pairs = _os(pkg)
        version = upstream_version(pkg.source_version or version)
        if pkg.cataloger == "rpm":
            version = upstream_version(version.split(":", 1)[-1])
    elif pkg.ecosystem == "Maven":
        pairs = _maven(pkg)
    elif pkg.ecosystem == "Go":
        pairs = _go(pkg)
        if version == "(devel)":
            version = ""
        version = version.removeprefix("v").split("+", 1)[0]
    elif pkg.ecosystem == "PyPI":
        pairs = _language(pkg, "pypi")
    elif pkg.ecosystem == "npm":
        pairs = _language(pkg, "npm")
    else:
        pairs = [(pkg.name, pkg.name)]
    return list(dict.fromkeys(cpe23(v, p, version, target) for v, p in pairs))


def assign_cpes(packages: Iterable[Package]) -> None:
    """Fill `Package.cpes` where a cataloger did not already set them."""
    for pkg in packages:
        if not pkg.cpes:
            pkg.cpes = cpes_for(pkg)
