"""`seawall scan` against the real demo image, as a user runs it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from devtools.demo_image import DemoImage
from tests.conftest import run_cli
from tests.scan.conftest import FAKE_KEY_ID, FAKE_SECRET, scan

pytestmark = pytest.mark.slow


def ids_of(finding: dict[str, Any]) -> set[str]:
    vuln = finding.get("vulnerability") or {}
    return {finding["rule"], *vuln.get("aliases", [])}


def vulns_for(doc: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [
        f for f in doc["findings"] if f["kind"] == "vulnerability" and f["package"]["name"].lower() == name
    ]


# real advisories of the demo's old releases, each with the release that fixed it on that line
EXPECTED = {
    "django": {"CVE-2021-31542": "3.2.1", "CVE-2022-34265": "3.2.14", "CVE-2023-31047": "3.2.19"},
    "requests": {"CVE-2023-32681": "2.31.0"},
    "urllib3": {"CVE-2021-33503": "1.26.5", "CVE-2023-43804": "1.26.17"},
    "pyyaml": {"CVE-2020-14343": "5.4"},
    "jinja2": {"CVE-2020-28493": "2.11.3"},
}


@pytest.mark.parametrize("package", sorted(EXPECTED))
def test_real_advisories_for_old_python_releases(demo_scan: dict[str, Any], package: str) -> None:
    found = vulns_for(demo_scan, package)
    assert found, f"no advisories for {package}"
    for cve, fixed in EXPECTED[package].items():
        match = [f for f in found if cve in ids_of(f)]
        assert len(match) == 1, (cve, [f["rule"] for f in found])  # one finding per (package, vuln)
        f = match[0]
        assert fixed in f["vulnerability"]["fixed_versions"]
        assert f["location"]["layer"].startswith("sha256:")  # the layer that brought the package
        assert f["location"]["layer"] != demo_scan["target"]["metadata"].get("base_layer")


def test_vulnerabilities_point_at_the_pip_layer(demo: DemoImage, demo_scan: dict[str, Any]) -> None:
    layers = {
        f["location"].get("layer")
        for f in demo_scan["findings"]
        if f["kind"] == "vulnerability" and f["package"]["ecosystem"] == "PyPI"
    }
    assert layers == {demo.pip_diff_id}  # one layer id in every report: the diff_id


def test_go_stdlib_advisories(demo_scan: dict[str, Any]) -> None:
    go = [
        f for f in demo_scan["findings"] if f["kind"] == "vulnerability" and f["package"]["ecosystem"] == "Go"
    ]
    assert any(f["package"]["name"] == "stdlib" for f in go), "no Go stdlib advisories for the demo binary"
    assert all(f["rule"].startswith(("GO-", "CVE-")) for f in go)


def test_planted_aws_key_is_one_redacted_critical_secret(demo: DemoImage, demo_scan: dict[str, Any]) -> None:
    secrets = [f for f in demo_scan["findings"] if f["kind"] == "secret"]
    assert [(f["rule"], f["location"]["path"], f["location"]["line"], f["severity"]) for f in secrets] == [
        ("aws-access-key", "/app/config/settings.ini", 7, "critical")
    ]
    assert secrets[0]["evidence"] == "AKIA**** + wJal****"
    assert secrets[0]["location"]["layer"].startswith("sha256:")


def test_root_user_and_healthcheck_misconfigurations(demo_scan: dict[str, Any]) -> None:
    rules = {f["rule"]: f for f in demo_scan["findings"] if f["kind"] == "misconfiguration"}
    assert rules["SW-IMG-001"]["severity"] == "high"
    assert "cis-docker:4.1" in rules["SW-IMG-001"]["references"]
    assert "SW-IMG-007" in rules  # no HEALTHCHECK
    assert "SW-IMG-005" not in rules and "SW-IMG-004" not in rules  # no sshd, no curl | sh
    setuid = {f["location"]["path"] for f in demo_scan["findings"] if f["rule"] == "SW-IMG-006"}
    assert {"/usr/bin/su", "/usr/bin/passwd"} <= setuid


@pytest.mark.parametrize("fmt", ["json", "jsonl", "table", "sarif", "cyclonedx-json", "ocsf"])
def test_secret_never_printed_in_full(demo: DemoImage, demo_db: Path, fmt: str, tmp_path: Path) -> None:
    out = tmp_path / f"report.{fmt}"
    args = ["scan", "image", demo.oci_ref, "--db", str(demo_db), "--format", fmt]
    proc = run_cli(*args, "-o", str(out)) if fmt in ("sarif", "table") else run_cli(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text() if out.exists() else proc.stdout
    for shown in (text, proc.stdout, proc.stderr):
        assert FAKE_SECRET not in shown and FAKE_KEY_ID not in shown
        assert FAKE_SECRET[:12] not in shown and FAKE_KEY_ID[:10] not in shown
    if fmt == "cyclonedx-json":  # an SBOM with its vulnerabilities: secrets are not in that format
        assert "CVE-2022-34265" in text
    else:
        assert "aws-access-key" in text  # the secret is reported, only redacted
    if fmt == "jsonl":
        assert all(json.loads(line) for line in text.splitlines())
    elif fmt == "sarif":
        schema = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
        jsonschema.Draft4Validator(schema).validate(json.loads(text))
    elif fmt == "ocsf":
        events = json.loads(text)
        assert {e["class_uid"] for e in events} == {2002, 2003}
        assert all(e["type_uid"] == e["class_uid"] * 100 + 1 and e["finding_info"]["uid"] for e in events)
    elif fmt != "table":
        assert json.loads(text)


def test_fail_on(demo: DemoImage, demo_db: Path) -> None:
    _, _, code = scan(demo.oci_ref, demo_db, "--fail-on", "high", expect=1)
    assert code == 1
    # config checks alone top out at high: --fail-on critical passes
    doc, _, _ = scan(demo.oci_ref, demo_db, "--scanners", "config", "--fail-on", "critical", expect=0)
    assert {f["kind"] for f in doc["findings"]} == {"misconfiguration"}


def test_scanners_secret_only(demo: DemoImage, demo_db: Path) -> None:
    doc, _, _ = scan(demo.oci_ref, demo_db, "--scanners", "secret")
    assert {f["kind"] for f in doc["findings"]} == {"secret"}
    assert doc["target"]["metadata"]["scanners"] == ["secret"]


def test_severity_filter(demo_scan: dict[str, Any], demo: DemoImage, demo_db: Path) -> None:
    doc, _, _ = scan(demo.oci_ref, demo_db, "--severity", "CRITICAL,HIGH")
    assert doc["findings"] and {f["severity"] for f in doc["findings"]} <= {"critical", "high"}
    expected = [f["id"] for f in demo_scan["findings"] if f["severity"] in ("critical", "high")]
    assert [f["id"] for f in doc["findings"]] == expected


def test_ignore_file_suppresses_until_expiry(
    demo: DemoImage, demo_db: Path, tmp_path: Path, demo_scan: dict[str, Any]
) -> None:
    ignore = tmp_path / ".seawallignore"
    ignore.write_text(
        "ignore:\n"
        "  - id: CVE-2022-34265\n    expires: 2999-01-01\n    reason: not reachable here\n"
        "  - id: aws-access-key\n    paths: ['/app/config/*']\n    reason: the demo's fake key\n"
    )
    doc, err, _ = scan(demo.oci_ref, demo_db, "--ignore-file", str(ignore))
    all_ids = set().union(*(ids_of(f) for f in doc["findings"]))
    assert "CVE-2022-34265" not in all_ids and "aws-access-key" not in all_ids
    assert len(doc["findings"]) == len(demo_scan["findings"]) - 2
    assert doc["target"]["metadata"]["stats"]["suppressed"] == 2
    # expired: suppresses nothing any more, and says so
    ignore.write_text("CVE-2022-34265 exp:2020-01-01  # was accepted once\naws-access-key\n")
    doc, err, _ = scan(demo.oci_ref, demo_db, "--ignore-file", str(ignore))
    all_ids = set().union(*(ids_of(f) for f in doc["findings"]))
    assert "CVE-2022-34265" in all_ids and "aws-access-key" not in all_ids
    assert "CVE-2022-34265 expired on 2020-01-01" in err


def test_ignore_unfixed(demo: DemoImage, demo_db: Path, demo_scan: dict[str, Any]) -> None:
    doc, _, _ = scan(demo.oci_ref, demo_db, "--ignore-unfixed")
    kept = [
        f["id"]
        for f in demo_scan["findings"]
        if f["kind"] != "vulnerability" or f["vulnerability"].get("fixed_versions")
    ]
    assert [f["id"] for f in doc["findings"]] == kept


def test_missing_db_imports_shipped_data_offline(demo: DemoImage, tmp_path: Path) -> None:
    db = tmp_path / "cache" / "vulndb.sqlite"
    doc, err, _ = scan(demo.oci_ref, db, "--offline", "--scanners", "vuln")
    assert db.is_file()
    assert "imported the advisories shipped with seawall" in err
    assert "days old" in err  # the shipped snapshot is older than 7 days: the scan warns
    assert any("days old" in w for w in doc["warnings"])
    assert vulns_for(doc, "django")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scanners", "vuln,bogus"], "unknown scanner 'bogus'"),
        (["--format", "xml"], "unknown format 'xml'"),
        (["--fail-on", "severe"], "unknown severity 'severe'"),
        (["--ignore-file", "/nonexistent/.seawallignore"], "no such file"),
    ],
)
def test_bad_input_is_one_line_exit_2(demo: DemoImage, demo_db: Path, args: list[str], message: str) -> None:
    proc = run_cli("scan", "image", demo.oci_ref, "--db", str(demo_db), *args)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr and "Traceback" not in proc.stderr


def test_scan_rootfs(demo: DemoImage, demo_db: Path, tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    (root / "srv").mkdir()
    (root / "srv" / ".env").write_text(f"APP_MODE=prod\nGITLAB_TOKEN=glpat-{'x1Y2' * 5}\n")
    helper = root / "srv" / "helper"
    helper.write_bytes(b"#!/bin/sh\n")
    os.chmod(helper, 0o4755)
    proc = run_cli("scan", "rootfs", str(root), "--db", str(demo_db), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["target"]["kind"] == "rootfs"
    got = {(f["rule"], f["location"].get("path"), f["location"].get("line")) for f in doc["findings"]}
    assert got == {("gitlab-pat", "/srv/.env", 2), ("SW-IMG-006", "/srv/helper", None)}
    assert "x1Y2x1Y2" not in proc.stdout
