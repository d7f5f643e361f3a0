"""SARIF (against the official 2.1.0 schema) and OCSF (required attributes per class)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from seawall.core import (
    Finding,
    FindingKind,
    Location,
    Package,
    Report,
    Resource,
    Severity,
    Target,
    VulnerabilityInfo,
)
from seawall.report import render
from seawall.report.ocsf import to_ocsf
from seawall.report.sarif import to_sarif

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
IMAGE = Resource(type="container-image", name="127.0.0.1:5000/demo:1")
LAYER = "sha256:" + "c" * 64


def sample_report() -> Report:
    django = Package(
        name="django",
        version="3.2.0",
        ecosystem="PyPI",
        purl="pkg:pypi/django@3.2.0",
        locations=[
            Location(
                path="/usr/local/lib/python3.11/dist-packages/Django-3.2.dist-info/METADATA", layer=LAYER
            )
        ],
    )
    vuln = Finding(
        kind=FindingKind.VULNERABILITY,
        rule="GHSA-xpfp-f569-q3p2",
        title="SQL injection in Django",
        severity=Severity.CRITICAL,
        resource=IMAGE,
        location=Location(path=django.locations[0].path, layer=LAYER),
        vulnerability=VulnerabilityInfo(
            id="GHSA-xpfp-f569-q3p2",
            aliases=["CVE-2022-34265", "PYSEC-2022-213"],
            cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            cvss_score=9.8,
            fixed_versions=["3.2.14", "4.0.6"],
            source="osv:PyPI",
        ),
        package=django,
        references=["https://nvd.nist.gov/vuln/detail/CVE-2022-34265"],
    )
    unfixed = Finding(
        kind=FindingKind.VULNERABILITY,
        rule="GHSA-aaaa-bbbb-cccc",
        title="A moderate bug",
        severity=Severity.MEDIUM,
        resource=IMAGE,
        vulnerability=VulnerabilityInfo(id="GHSA-aaaa-bbbb-cccc"),
        package=django,
    )
    secret = Finding(
        kind=FindingKind.SECRET,
        rule="aws-access-key",
        title="AWS access key",
        severity=Severity.CRITICAL,
        resource=IMAGE,
        location=Location(path="/app/config/settings.ini", line=7, layer=LAYER),
        evidence="AKIA**** + wJal****",
        remediation="Deactivate the key.",
        references=["cis-docker:4.10", "dockle:CIS-DI-0010"],
    )
    misconfig = Finding(
        kind=FindingKind.MISCONFIGURATION,
        rule="SW-IMG-001",
        title="Image runs as root",
        severity=Severity.HIGH,
        resource=IMAGE,
        evidence="no USER",
        remediation="Add USER 10001.",
        references=["cis-docker:4.1", "dockle:CIS-DI-0001", "trivy:DS002"],
        extra={"rationale": "Root is bad."},
    )
    exposure = Finding(
        kind=FindingKind.EXPOSURE,
        rule="SW-NET-001",
        title="Port open to the world",
        severity=Severity.LOW,
        resource=Resource(type="aws-security-group", name="sg-1", arn="arn:aws:ec2:eu-west-1:1:sg/sg-1"),
    )
    detection = Finding(
        kind=FindingKind.DETECTION,
        rule="sigma:abc",
        title="ECS Exec session",
        severity=Severity.INFO,
        resource=Resource(type="ecs-task", name="task/1", namespace="cluster-a"),
        attack=["T1609"],
        count=3,
        first_seen="2026-01-01T00:00:00Z",
        last_seen="2026-01-01T01:00:00Z",
    )
    target = Target(kind="image", name=IMAGE.name, digest="sha256:" + "d" * 64)
    return Report(
        target=target,
        packages=[django],
        findings=[vuln, unfixed, secret, misconfig, exposure, detection],
        warnings=["the advisory database is 9 days old"],
    )


def test_sarif_validates_against_official_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    doc = to_sarif(sample_report())
    jsonschema.Draft4Validator.check_schema(schema)
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_sarif_has_what_github_code_scanning_needs() -> None:
    doc = to_sarif(sample_report())
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert run["tool"]["driver"]["name"] == "seawall"
    assert set(rules) == {
        "GHSA-xpfp-f569-q3p2",
        "GHSA-aaaa-bbbb-cccc",
        "aws-access-key",
        "SW-IMG-001",
        "SW-NET-001",
        "sigma:abc",
    }
    assert rules["GHSA-xpfp-f569-q3p2"]["properties"]["security-severity"] == "9.8"
    assert rules["SW-IMG-001"]["properties"]["security-severity"] == "8.0"
    for rule in rules.values():
        float(rule["properties"]["security-severity"])  # a number, as a string
        assert rule["shortDescription"]["text"] and rule["help"]["text"]
    by_rule = {r["ruleId"]: r for r in run["results"]}
    secret = by_rule["aws-access-key"]
    loc = secret["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "app/config/settings.ini"
    assert loc["region"]["startLine"] == 7
    assert secret["level"] == "error" and secret["partialFingerprints"]
    assert by_rule["GHSA-aaaa-bbbb-cccc"]["level"] == "warning"
    assert "Fixed in: 3.2.14, 4.0.6" in by_rule["GHSA-xpfp-f569-q3p2"]["message"]["text"]
    for result in run["results"]:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]


BASE_REQUIRED = ("activity_id", "category_uid", "class_uid", "type_uid", "severity_id", "time", "metadata")
CLASS_REQUIRED = {
    2002: ("finding_info", "vulnerabilities"),
    2003: ("finding_info", "compliance"),
    2004: ("finding_info",),
}


def test_ocsf_required_attributes_per_class() -> None:
    events = to_ocsf(sample_report(), now_ms=1_700_000_000_000)
    classes = [e["class_uid"] for e in events]
    assert classes == [2002, 2002, 2002, 2003, 2003, 2004]
    for e in events:
        for attr in (*BASE_REQUIRED, *CLASS_REQUIRED[e["class_uid"]]):
            assert attr in e, (e["class_uid"], attr)
        assert e["category_uid"] == 2
        assert e["type_uid"] == e["class_uid"] * 100 + e["activity_id"]
        assert e["metadata"]["product"]["name"] == "seawall" and e["metadata"]["product"]["vendor_name"]
        assert e["metadata"]["version"].startswith("1.")
        assert e["finding_info"]["uid"] and e["finding_info"]["title"]
        assert isinstance(e["time"], int)
    vuln, unfixed, secret, misconfig, exposure, detection = events
    assert vuln["severity_id"] == 5 and misconfig["severity_id"] == 4 and detection["severity_id"] == 1
    v = vuln["vulnerabilities"][0]
    assert v["cve"]["uid"] == "CVE-2022-34265"
    assert v["cve"]["cvss"] == [
        {"base_score": 9.8, "version": "3.1", "vector_string": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
    ]
    assert {k: v["affected_packages"][0][k] for k in ("name", "version", "purl", "fixed_in_version")} == {
        "name": "django",
        "version": "3.2.0",
        "purl": "pkg:pypi/django@3.2.0",
        "fixed_in_version": "3.2.14",
    }
    assert v["is_fix_available"] is True and unfixed["vulnerabilities"][0]["is_fix_available"] is False
    for event in events:
        for vv in event.get("vulnerabilities", []):
            assert "cve" in vv or "cwe" in vv  # OCSF's at_least_one constraint
    s = secret["vulnerabilities"][0]
    assert s["cwe"]["uid"] == "CWE-798"
    assert s["affected_code"][0]["file"]["path"] == "/app/config/settings.ini"
    assert s["affected_code"][0]["start_line"] == 7
    comp = misconfig["compliance"]
    assert comp["standards"] == ["CIS Docker Benchmark", "Dockle", "Trivy"] and comp["control"] == "4.1"
    assert comp["status_id"] == 3 and misconfig["remediation"]["desc"] == "Add USER 10001."
    assert exposure["resources"][0]["uid"] == "arn:aws:ec2:eu-west-1:1:sg/sg-1"
    assert detection["count"] == 3 and detection["start_time"] < detection["end_time"]
    assert detection["finding_info"]["attacks"][0]["technique"]["uid"] == "T1609"


@pytest.mark.parametrize("fmt", ["sarif", "ocsf", "json", "table"])
def test_formats_render_through_registry(fmt: str) -> None:
    out = io.StringIO()
    render(sample_report(), fmt, out)
    text = out.getvalue()
    assert "SW-IMG-001" in text
    if fmt != "table":
        parsed: Any = json.loads(text)
        assert parsed
