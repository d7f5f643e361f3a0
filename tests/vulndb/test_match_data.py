"""Matching checked against the advisory data itself.

For real (package, version) pairs, the expected advisories are derived here from the OSV JSON
by an independent, simple reading: walk each ECOSYSTEM/SEMVER range's events in the order they
are written, pairing every `introduced` with the next `fixed`/`last_affected`, compare with
packaging.version (PyPI) or a small SemVer compare written below (Go), and add the explicit
`versions` list. `match` must return exactly those advisories, as alias groups.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from seawall.core import Location, OSInfo, Package
from seawall.vulndb import SHIPPED_DIR, open_db

PYPI_ZIP = SHIPPED_DIR / "osv" / "PyPI.zip"
GO_ZIP = SHIPPED_DIR / "osv" / "Go.zip"


def _load(zip_path: Path) -> list[dict[str, Any]]:
    with zipfile.ZipFile(zip_path) as zf:
        return [json.loads(zf.read(n)) for n in zf.namelist() if n.endswith(".json")]


@pytest.fixture(scope="module")
def pypi_docs() -> list[dict[str, Any]]:
    return _load(PYPI_ZIP)


@pytest.fixture(scope="module")
def go_docs() -> list[dict[str, Any]]:
    return _load(GO_ZIP)


# --- the independent reading -------------------------------------------------------------------

def _go_tuple(text: str) -> tuple[Any, ...]:
    """A deliberately small SemVer reading: (major, minor, patch, is_release, prerelease parts)."""
    text = text.lstrip("v").split("+", 1)[0]
    core, _, pre = text.partition("-")
    major, minor, patch = (int(x) for x in core.split("."))
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")) if pre else ()
    return (major, minor, patch, 0 if pre else 1, parts)


def _in_ranges(version: str, affected: dict[str, Any], parse: Any) -> bool:
    v = parse(version)
    for rng in affected.get("ranges", []):
        if rng["type"] not in ("ECOSYSTEM", "SEMVER"):
            continue
        start = None
        for event in rng["events"]:
            if "introduced" in event:
                start = event["introduced"]
            elif "fixed" in event and start is not None:
                if (start == "0" or parse(start) <= v) and v < parse(event["fixed"]):
                    return True
                start = None
            elif "last_affected" in event and start is not None:
                if (start == "0" or parse(start) <= v) and v <= parse(event["last_affected"]):
                    return True
                start = None
        if start is not None and (start == "0" or parse(start) <= v):
            return True
    return False


def expected_groups(docs: list[dict[str, Any]], ecosystem: str, name: str, version: str,
                    parse: Any, listed: Any) -> set[frozenset[str]]:
    groups: list[set[str]] = []
    for doc in docs:
        if doc.get("withdrawn"):
            continue
        for affected in doc.get("affected", []):
            pkg = affected["package"]
            if pkg["ecosystem"] != ecosystem or pkg["name"] != name:
                continue
            if _in_ranges(version, affected, parse) or listed(version, affected.get("versions", [])):
                groups.append({doc["id"], *doc.get("aliases", [])})
                break
    merged: list[set[str]] = []
    for g in groups:
        for m in [m for m in merged if m & g]:
            g |= m
            merged.remove(m)
        merged.append(g)
    return {frozenset(g) for g in merged}


def _pypi_listed(version: str, versions: list[str]) -> bool:
    return any(Version(v) == Version(version) for v in versions)


def _go_listed(version: str, versions: list[str]) -> bool:
    return any(_go_tuple(v) == _go_tuple(version) for v in versions)


def found_groups(findings: list[Any], package: str) -> set[frozenset[str]]:
    return {frozenset([f.rule, *f.vulnerability.aliases]) for f in findings if f.package.name == package}


# --- the pairs ------------------------------------------------------------------------------------

PYPI_PAIRS = [
    ("Django", "django", "3.2.0"),
    ("requests", "requests", "2.25.0"),
    ("urllib3", "urllib3", "1.26.4"),
    ("PyYAML", "pyyaml", "5.3.1"),
    ("Jinja2", "jinja2", "2.11.2"),
    ("Pillow", "pillow", "8.0.0"),
    ("cryptography", "cryptography", "3.2"),
    ("Flask", "flask", "0.12"),
    ("setuptools", "setuptools", "65.5.0"),
    ("Django", "django", "4.2.16"),
]

GO_PAIRS = [
    ("stdlib", "go1.19.8", "1.19.8"),
    ("stdlib", "go1.21.0", "1.21.0"),
    ("golang.org/x/net", "v0.0.0-20210226172049-e18ecbb05110", "0.0.0-20210226172049-e18ecbb05110"),
    ("golang.org/x/net", "v0.7.0", "0.7.0"),
    ("golang.org/x/crypto", "v0.0.0-20200622213623-75b288015ac9", "0.0.0-20200622213623-75b288015ac9"),
    ("golang.org/x/text", "v0.3.5", "0.3.5"),
    ("github.com/gin-gonic/gin", "v1.6.0", "1.6.0"),
    ("github.com/docker/docker", "v20.10.0+incompatible", "20.10.0+incompatible"),
]


def test_pypi_pairs_match_the_advisory_data(shipped_db: Path, pypi_docs: list[dict[str, Any]]) -> None:
    packages = [Package(display, version, "PyPI", f"pkg:pypi/{osv_name}@{version}",
                        [Location(f"/usr/lib/python3/site-packages/{display}-{version}.dist-info/METADATA",
                                  layer="sha256:" + "ab" * 32)])
                for display, osv_name, version in PYPI_PAIRS]
    with open_db(shipped_db) as db:
        findings = db.match(packages, OSInfo("debian", "12"))
    total = 0
    for display, osv_name, version in PYPI_PAIRS:
        expected = expected_groups(pypi_docs, "PyPI", osv_name, version, Version, _pypi_listed)
        got = found_groups([f for f in findings if f.package.version == version], display)
        assert got == expected, f"{display} {version}: missing {expected - got}, extra {got - expected}"
        total += len(expected)
    assert total > 60  # the demo's old releases are really vulnerable
    django = [f for f in findings if f.package.name == "Django" and f.package.version == "3.2.0"]
    assert len(django) >= 20
    for f in django:
        assert f.location.layer == "sha256:" + "ab" * 32
        assert f.remediation and f.remediation.startswith(("Upgrade Django to ", "No fixed version"))
        assert f.vulnerability and f.vulnerability.source == "osv:PyPI"


def test_go_pairs_match_the_advisory_data(shipped_db: Path, go_docs: list[dict[str, Any]]) -> None:
    packages = [Package(name, version, "Go", f"pkg:golang/{name}@{version}") for name, version, _ in GO_PAIRS]
    with open_db(shipped_db) as db:
        findings = db.match(packages, None)
    for name, version, plain in GO_PAIRS:
        expected = expected_groups(go_docs, "Go", name, plain, _go_tuple, _go_listed)
        got = found_groups([f for f in findings if f.package.version == version], name)
        assert got == expected, f"{name} {version}: missing {expected - got}, extra {got - expected}"
    stdlib = [f for f in findings if f.package.name == "stdlib" and f.package.version == "go1.19.8"]
    assert len(stdlib) > 20
    assert all(re.match(r"^(CVE-|GHSA-|GO-)", f.rule) for f in stdlib)


def test_withdrawn_advisories_are_ignored(shipped_db: Path, pypi_docs: list[dict[str, Any]]) -> None:
    withdrawn = [d for d in pypi_docs if d.get("withdrawn")]
    assert withdrawn
    import sqlite3

    conn = sqlite3.connect(shipped_db)
    ids = {r[0] for r in conn.execute("SELECT id FROM advisories WHERE feed = 'osv:PyPI'")}
    conn.close()
    assert not ids & {d["id"] for d in withdrawn}


def test_one_finding_per_package_and_vulnerability(shipped_db: Path) -> None:
    pkg = Package("Django", "3.2.0", "PyPI", "pkg:pypi/django@3.2.0")
    with open_db(shipped_db) as db:
        findings = db.match([pkg], None)
    seen: set[str] = set()
    for f in findings:
        ids = {f.rule, *f.vulnerability.aliases}
        assert not ids & seen, f"{ids & seen} reported twice"
        seen |= ids
        # CVE-named when the group has exactly one CVE
        cves = [i for i in ids if i.startswith("CVE-")]
        if len(cves) == 1:
            assert f.rule == cves[0]


def test_name_normalization_and_invalid_versions(shipped_db: Path) -> None:
    packages = [
        Package("PyYAML", "5.3.1", "pypi", "pkg:pypi/pyyaml@5.3.1"),
        Package("pyyaml", "5.3.1", "PyPI", "pkg:pypi/pyyaml@5.3.1"),
        Package("Py_Yaml", "5.3.1", "PyPI", ""),  # not the same project: PEP 503 keeps "py-yaml"
        Package("django", "not-a-version", "PyPI", "pkg:pypi/django@not-a-version"),
        Package("stdlib", "(devel)", "Go", "pkg:golang/stdlib@(devel)"),
    ]
    with open_db(shipped_db) as db:
        findings = db.match(packages, None)
        stats, skips = db.stats, db.skips
    by_name: dict[str, set[str]] = {}
    for f in findings:
        by_name.setdefault(f.package.name, set()).add(f.rule)
    assert by_name["PyYAML"] == by_name["pyyaml"] and by_name["PyYAML"]
    assert "Py_Yaml" not in by_name
    # the unparsable PyPI version is an invalid version; Go's "(devel)" is no version at all
    assert stats.invalid_versions == 1
    reasons = {s.reason for s in skips}
    assert any("does not parse" in r for r in reasons) and any("(devel)" in r for r in reasons)
    assert "django" not in by_name and "stdlib" not in by_name


def test_go_toolchain_names_match_stdlib_ranges(shipped_db: Path) -> None:
    with open_db(shipped_db) as db:
        a = db.match([Package("stdlib", "go1.19.8", "Go", "pkg:golang/stdlib@go1.19.8")], None)
        b = db.match([Package("stdlib", "v1.19.8", "Go", "pkg:golang/stdlib@v1.19.8")], None)
        c = db.match([Package("stdlib", "1.19.8", "golang", "")], None)
    assert {f.rule for f in a} == {f.rule for f in b} == {f.rule for f in c}
    assert a


def test_shipped_nvd_subset_gives_go_and_pypi_findings_a_severity(shipped_db: Path) -> None:
    """The Go and PyPA advisories carry no CVSS for most of the demo's findings; the shipped NVD
    excerpt (real records, metrics only) gives those CVEs NVD's or CISA's CVSS vector."""
    nvd = [json.loads(p.read_text()) for p in sorted((SHIPPED_DIR / "nvd").glob("*.json"))]
    ids = {i["cve"]["CVE_data_meta"]["ID"] for i in nvd[0]["CVE_Items"]}
    ids |= {v["cve"]["id"] for v in nvd[1]["vulnerabilities"]}
    with open_db(shipped_db) as db:
        findings = db.match([Package("stdlib", "go1.19.8", "Go", "pkg:golang/stdlib@go1.19.8"),
                             Package("Django", "3.2.0", "PyPI", "pkg:pypi/django@3.2.0")], None)
    by_rule = {f.rule: f for f in findings}
    # CVE-2024-34158 (go/build/constraint): only CISA-ADP's CVSS 3.1 vector, HIGH 7.5
    f = by_rule["CVE-2024-34158"]
    assert f.vulnerability.severity_source == "nvd"
    assert f.vulnerability.cvss_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
    assert f.severity.value == "high"
    sourced = [f for f in findings if f.vulnerability.severity_source == "nvd"]
    assert sourced and all(f.rule in ids or ids & set(f.vulnerability.aliases) for f in sourced)
    # a CVE whose NVD record had no metrics at the time stays unknown, never guessed
    assert by_rule["CVE-2021-45116"].severity.value == "unknown"
