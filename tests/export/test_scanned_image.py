"""The exports of a real scan: the demo image (real Debian packages and old PyPI/Go releases)
scanned against the shipped advisories, then written as OCSF Vulnerability Findings (2002) in the
Security Lake layout and as ASFF for Security Hub. What a user checks: every CVE of the scan is
there once with its package, version and fix; the planted AWS secret is reported, never copied."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from seawall import analyzers
from seawall.core import Finding
from seawall.export import securityhub as sh
from seawall.export.securitylake import write_findings

pytestmark = [pytest.mark.slow, pytest.mark.toolchain]

REGION = "eu-west-1"
ACCOUNT = "111122223333"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # planted in the demo image (AWS's example)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    from devtools.demo_image import build_demo
    from seawall import vulndb

    for tool in ("mmdebstrap", "go"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `make system-deps` (devtools/system-deps.sh)")
    with pytest.MonkeyPatch.context() as mp:  # as tests/scan/conftest.py: pip must not touch the venv
        mp.setenv("PIP_IGNORE_INSTALLED", "1")
        demo = build_demo()  # built once and cached (.cache/demo)

    db = tmp_path_factory.mktemp("vulndb") / "vulndb.sqlite"
    vulndb.import_paths(vulndb.shipped_feed_paths(), db)
    report = analyzers.run("scan", demo.oci_ref, db_path=db, offline=True)
    kinds = Counter(f.kind.value for f in report.findings)
    assert kinds["vulnerability"] >= 20 and kinds["secret"] >= 1, kinds
    return report.findings


def _cve(f: Finding) -> str:
    v = f.vulnerability
    assert v is not None
    ids = [v.id, *v.aliases]
    return next((i for i in ids if i.startswith("CVE-")), v.id)


def test_vulnerabilities_and_secrets_as_ocsf_2002_in_the_security_lake_layout(
    scanned: list[Finding], tmp_path: Path
) -> None:
    written = write_findings(scanned, str(tmp_path), region=REGION, account=ACCOUNT)
    vuln_files = [w for w in written if w.class_uid == 2002]
    assert vuln_files and all(
        "/ext/seawall-vulnerability-finding/region=eu-west-1/" in w.key for w in vuln_files
    )
    rows: list[dict[str, Any]] = []
    for w in vuln_files:
        rows += pq.read_table(w.key).to_pylist()
        assert FAKE_SECRET.encode() not in Path(w.key).read_bytes()
    by_uid = {r["metadata"]["uid"]: r for r in rows}
    expected = [f for f in scanned if f.kind.value in ("vulnerability", "secret")]
    assert len(rows) == len(by_uid) == len(expected)
    for f in expected:
        row = by_uid[f.id]
        assert row["class_uid"] == 2002 and row["cloud"]["account"]["uid"] == ACCOUNT
        (vuln,) = row["vulnerabilities"]
        if f.kind.value == "secret":
            assert vuln["cwe"]["uid"] == "CWE-798"
            continue
        assert f.package is not None and f.vulnerability is not None
        assert vuln["cve"]["uid"] == _cve(f)
        (pkg,) = vuln["affected_packages"]
        assert (pkg["name"], pkg["version"]) == (f.package.name, f.package.version)
        if f.vulnerability.fixed_versions:
            assert pkg["fixed_in_version"] == f.vulnerability.fixed_versions[0]
    # a user's check: PyYAML 5.3.1 of the demo image, CVE-2020-14343, fixed in 5.4
    pyyaml = [r for r in rows if (r["vulnerabilities"][0].get("cve") or {}).get("uid") == "CVE-2020-14343"]
    assert pyyaml and pyyaml[0]["vulnerabilities"][0]["affected_packages"][0]["version"] == "5.3.1"


def test_vulnerabilities_as_asff_valid_for_security_hub(scanned: list[Finding]) -> None:
    ctx = sh.Context(REGION, ACCOUNT)
    seen: set[str] = set()
    for f in scanned:
        asff = sh.to_asff(f.to_dict(), ctx, None, "2026-03-02T10:00:00.000000Z")
        assert sh.validate(asff) == [], (f.rule, sh.validate(asff))
        assert asff["Id"] not in seen
        seen.add(asff["Id"])
        assert FAKE_SECRET not in str(asff)
        if f.kind.value != "vulnerability":
            continue
        assert f.package is not None and f.vulnerability is not None
        assert asff["Types"] == ["Software and Configuration Checks/Vulnerabilities/CVE"]
        label = {"unknown": "INFORMATIONAL", "info": "INFORMATIONAL"}.get(
            f.severity.value, f.severity.value.upper()
        )
        assert asff["Severity"]["Label"] == label
        (v,) = asff["Vulnerabilities"]
        assert v["Id"] == _cve(f)
        (pkg,) = v["VulnerablePackages"]
        assert (pkg["Name"], pkg["Version"]) == (f.package.name, f.package.version)
        assert (v["FixAvailable"] == "YES") == bool(f.vulnerability.fixed_versions)
        assert asff["Resources"][0]["Type"] == "Container"  # an OCI layout, not an ECR image
