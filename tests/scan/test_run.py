"""The scan pipeline's own logic: scanner names, filters in order, redaction of history lines."""

from __future__ import annotations

import pytest

from seawall.core import Finding, FindingKind, Location, Resource, Severity, VulnerabilityInfo
from seawall.core.errors import InputError
from seawall.scan.run import ScanOptions, _filter, _redacted_finding, _Redactor, parse_scanners
from seawall.secrets import SecretScanner

RES = Resource(type="container-image", name="demo")


def test_parse_scanners() -> None:
    assert parse_scanners(None) == {"vuln", "secret", "config"}
    assert parse_scanners("vuln, secrets,misconfig") == {"vuln", "secret", "config"}
    with pytest.raises(InputError, match="unknown scanner 'sbom'"):
        parse_scanners("vuln,sbom")
    with pytest.raises(InputError):
        parse_scanners(" , ")


def _vuln(rule: str, severity: Severity, fixed: list[str]) -> Finding:
    return Finding(
        kind=FindingKind.VULNERABILITY,
        rule=rule,
        title=rule,
        severity=severity,
        resource=RES,
        vulnerability=VulnerabilityInfo(id=rule, fixed_versions=fixed),
    )


def test_ignore_unfixed_and_severity_filter() -> None:
    findings = [
        _vuln("CVE-1", Severity.HIGH, ["1.2"]),
        _vuln("CVE-2", Severity.CRITICAL, []),
        Finding(
            kind=FindingKind.MISCONFIGURATION,
            rule="SW-IMG-001",
            title="root",
            severity=Severity.HIGH,
            resource=RES,
        ),
        _vuln("CVE-3", Severity.LOW, ["2.0"]),
    ]
    opts = ScanOptions(ignore_unfixed=True, use_default_ignore_file=False)
    kept, suppressed, warnings = _filter(findings, opts)
    assert [f.rule for f in kept] == ["CVE-1", "SW-IMG-001", "CVE-3"] and suppressed == 0 and not warnings
    opts = ScanOptions(severities={Severity.HIGH, Severity.CRITICAL}, use_default_ignore_file=False)
    assert [f.rule for f in _filter(findings, opts)[0]] == ["CVE-1", "CVE-2", "SW-IMG-001"]


def test_history_lines_in_findings_are_redacted() -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    f = Finding(
        kind=FindingKind.VULNERABILITY,
        rule="CVE-1",
        title="t",
        severity=Severity.HIGH,
        resource=RES,
        location=Location(
            path="/x",
            layer="sha256:" + "a" * 64,
            layer_created_by=f"RUN export AWS_SECRET_ACCESS_KEY={secret} && pip install x",
        ),
    )
    out = _redacted_finding(f, _Redactor(SecretScanner()))
    assert secret not in str(out.to_dict()) and "AWS_SECRET_ACCESS_KEY=wJal****" in (
        out.location.layer_created_by or ""
    )
