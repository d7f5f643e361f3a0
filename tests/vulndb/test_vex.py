"""VEX: OpenVEX and CycloneDX VEX statements drop the findings they say are not affected, on the
real documents in tests/vulndb/fixtures/feeds and through `seawall scan rootfs --vex`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seawall.core import Finding, FindingKind, Package, Resource, Severity, VulnerabilityInfo
from seawall.core.errors import InputError
from seawall.vulndb import shipped_feed_paths
from seawall.vulndb.vex import VexTarget, apply_vex, load_vex, parse_vex
from tests.conftest import run_cli

from .conftest import FIXTURES

FEEDS = FIXTURES / "feeds"


def _finding(rule: str, aliases: list[str], name: str, version: str, purl: str) -> Finding:
    return Finding(kind=FindingKind.VULNERABILITY, rule=rule, title=rule, severity=Severity.HIGH,
                   resource=Resource("container-image", "app"),
                   vulnerability=VulnerabilityInfo(id=rule, aliases=aliases),
                   package=Package(name, version, purl.split("/", 1)[0][4:], purl))


def test_openvex_real_document_by_alias_and_version() -> None:
    statements = load_vex([FEEDS / "urllib3.openvex.json"])
    assert len(statements) == 1 and statements[0].status == "fixed"
    assert statements[0].vulnerabilities == {"CGA-7qjw-ggh3-pp9f", "CVE-2023-45803", "GHSA-g4mx-q9vg-27p4"}
    patched = _finding("CVE-2023-45803", ["GHSA-g4mx-q9vg-27p4", "PYSEC-2023-212"], "urllib3",
                       "1.26.16+cgr.1", "pkg:pypi/urllib3@1.26.16%2Bcgr.1")
    upstream = _finding("CVE-2023-45803", ["GHSA-g4mx-q9vg-27p4"], "urllib3", "1.26.16",
                        "pkg:pypi/urllib3@1.26.16")
    other = _finding("CVE-2024-37891", [], "urllib3", "1.26.16+cgr.1", "pkg:pypi/urllib3@1.26.16%2Bcgr.1")
    result = apply_vex([patched, upstream, other], statements, VexTarget())
    # Chainguard's rebuild 1.26.16+cgr.1 carries the fix; upstream 1.26.16 does not; other CVEs stay
    assert [f.package.version for f, _ in result.dropped] == ["1.26.16+cgr.1"]
    assert result.kept == [upstream, other]
    assert result.summary() == "1 vulnerability finding dropped by VEX statements (fixed: 1)"


def test_cyclonedx_real_vex_with_bom_link_refs() -> None:
    statements = load_vex([FEEDS / "cyclonedx-vex.json"])
    assert [(sorted(s.vulnerabilities), s.status) for s in statements] == [
        (["CVE-2020-25649", "SNYK-JAVA-COMFASTERXMLJACKSONCORE-1048302"], "not_affected")]
    purl = "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=jar"
    bom = json.loads((FEEDS / "cyclonedx-bom.json").read_text())
    assert purl in {c["purl"] for c in bom["components"]}  # the BOM-Link's bom-ref is that purl
    databind = _finding("CVE-2020-25649", ["GHSA-288c-cq4h-88gq"], "jackson-databind", "2.10.0",
                        "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0")
    newer = _finding("CVE-2020-25649", [], "jackson-databind", "2.10.1",
                     "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.1")
    result = apply_vex([databind, newer], statements, VexTarget())
    assert [f for f, _ in result.dropped] == [databind] and result.kept == [newer]
    # the BOM itself (no analysis) is no VEX document
    with pytest.raises(InputError, match="no VEX data"):
        parse_vex((FEEDS / "cyclonedx-bom.json").read_bytes(), "bom.json")


def test_image_products_subcomponents_and_the_latest_statement() -> None:
    doc = {
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex-1",
        "author": "app team", "timestamp": "2024-01-01T00:00:00Z", "version": 1,
        "statements": [
            {"vulnerability": {"name": "CVE-2023-45803"}, "status": "under_investigation",
             "timestamp": "2024-01-01T00:00:00Z", "products": [{"@id": "pkg:oci/app@sha256:abc"}]},
            {"vulnerability": {"name": "CVE-2023-45803"}, "status": "not_affected",
             "justification": "vulnerable_code_not_in_execute_path", "timestamp": "2024-02-01T00:00:00Z",
             "products": [{"@id": "pkg:oci/app@sha256:abc",
                           "subcomponents": [{"@id": "pkg:pypi/urllib3@1.26.4"}]}]},
            {"vulnerability": "CVE-2021-33503", "status": "affected", "products": ["pkg:pypi/urllib3"]},
        ]}
    statements = parse_vex(json.dumps(doc).encode(), "app.vex.json")
    urllib3 = _finding("CVE-2023-45803", [], "urllib3", "1.26.4", "pkg:pypi/urllib3@1.26.4")
    requests = _finding("CVE-2023-45803", [], "requests", "2.25.0", "pkg:pypi/requests@2.25.0")
    other = _finding("CVE-2021-33503", [], "urllib3", "1.26.4", "pkg:pypi/urllib3@1.26.4")
    image = VexTarget(name="registry.example/team/app:1", digest="sha256:abc")
    result = apply_vex([urllib3, requests, other], statements, image)
    assert [f for f, _ in result.dropped] == [urllib3]  # the later not_affected, narrowed to urllib3
    assert result.dropped[0][1].justification == "vulnerable_code_not_in_execute_path"
    # another image (digest differs): nothing applies
    assert apply_vex([urllib3], statements, VexTarget(name="x/app:2", digest="sha256:def")).dropped == []


@pytest.mark.parametrize("text, message", [
    (b"{not json", "not valid JSON"),
    (b"[]", "not a JSON object"),
    (b'{"hello": 1}', "not an OpenVEX or CycloneDX VEX document"),
    (b'{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [{"status": "fixed"}]}',
     "no vulnerability"),
])
def test_bad_vex_is_one_clear_error(text: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_vex(text, "x.json")


def test_scan_with_vex_drops_and_counts(tmp_path: Path) -> None:
    root = tmp_path / "root"
    site = root / "usr/lib/python3/dist-packages/urllib3-1.26.4.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.4\n")
    db = tmp_path / "db.sqlite"
    assert run_cli("db", "import", "--db", str(db), "-q").returncode == 0  # the shipped data
    base = ["scan", "rootfs", str(root), "--db", str(db), "--scanners", "vuln", "--format", "json"]
    before = json.loads(run_cli(*base).stdout)
    rules = {f["rule"] for f in before["findings"]}
    assert "CVE-2023-45803" in rules
    vex = tmp_path / "app.openvex.json"
    vex.write_text(json.dumps({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/v",
                               "author": "us", "timestamp": "2024-01-01T00:00:00Z", "version": 1,
                               "statements": [{"vulnerability": {"name": "GHSA-g4mx-q9vg-27p4"},
                                               "products": [{"@id": "pkg:pypi/urllib3"}],
                                               "status": "not_affected",
                                               "justification": "vulnerable_code_not_present"}]}))
    res = run_cli(*base, "--vex", str(vex))
    assert res.returncode == 0, res.stderr
    after = json.loads(res.stdout)
    assert {f["rule"] for f in after["findings"]} == rules - {"CVE-2023-45803"}
    assert after["target"]["metadata"]["stats"]["vex_dropped"] == 1
    assert "1 vulnerability finding dropped by VEX statements (not_affected: 1)" in after["warnings"]
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    res = run_cli(*base, "--vex", str(bad))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "not valid JSON" in res.stderr
    res = run_cli(*base, "--vex", str(tmp_path / "missing.json"))
    assert res.returncode == 2 and "no such file" in res.stderr


def test_fail_on_kev_gates_the_exit_code(tmp_path: Path) -> None:
    root = tmp_path / "root"
    site = root / "usr/lib/python3/dist-packages/urllib3-1.26.4.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.4\n")
    db = tmp_path / "db.sqlite"
    assert run_cli("db", "import", "--db", str(db), "-q").returncode == 0
    base = ["scan", "rootfs", str(root), "--db", str(db), "--scanners", "vuln", "--format", "json",
            "--fail-on-kev"]
    res = run_cli(*base)
    assert res.returncode == 0, res.stderr  # no KEV data: nothing to gate on
    # a KEV catalog composed for the test (the real excerpts list no CVE of urllib3)
    kev = tmp_path / "kev.json"
    kev.write_text(json.dumps({"title": "CISA Catalog of Known Exploited Vulnerabilities",
                               "catalogVersion": "2099.01.01", "count": 1, "vulnerabilities": [
                                   {"cveID": "CVE-2023-45803", "dateAdded": "2099-01-01"}]}))
    shipped = [str(p) for p in shipped_feed_paths()]
    assert run_cli("db", "import", "--db", str(db), "-q", *shipped, str(kev)).returncode == 0
    res = run_cli(*base)
    assert res.returncode == 1, res.stderr
    flagged = [f for f in json.loads(res.stdout)["findings"] if f["vulnerability"].get("kev")]
    assert [f["rule"] for f in flagged] == ["CVE-2023-45803"]
    assert run_cli(*base[:-1]).returncode == 0  # without the flag the exit code is unchanged
