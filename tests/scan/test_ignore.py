""".seawallignore: lines and YAML forms, aliases, expiry, scoping, bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from seawall.core import Finding, FindingKind, Location, Package, Resource, Severity, VulnerabilityInfo
from seawall.core.errors import InputError
from seawall.suppress import apply_ignores, load_ignore_file

TODAY = dt.date(2026, 6, 1)
RES = Resource(type="container-image", name="demo")
PKG = Package(name="django", version="3.2.0", ecosystem="PyPI", purl="pkg:pypi/django@3.2.0")


def vuln(rule: str, aliases: list[str]) -> Finding:
    return Finding(
        kind=FindingKind.VULNERABILITY,
        rule=rule,
        title="t",
        severity=Severity.HIGH,
        resource=RES,
        vulnerability=VulnerabilityInfo(id=rule, aliases=aliases),
        package=PKG,
    )


SECRET = Finding(
    kind=FindingKind.SECRET,
    rule="aws-access-key",
    title="t",
    severity=Severity.CRITICAL,
    resource=RES,
    location=Location(path="/app/config/settings.ini", line=7),
)
V1 = vuln("GHSA-1111-2222-3333", ["CVE-2021-1", "PYSEC-2021-1"])
V2 = vuln("GHSA-4444-5555-6666", ["CVE-2021-2"])


def run(tmp_path: Path, text: str, name: str = ".seawallignore") -> tuple[list[str], list[str]]:
    path = tmp_path / name
    path.write_text(text)
    result = apply_ignores([V1, V2, SECRET], load_ignore_file(path), TODAY)
    return [f.rule for f in result.kept], result.warnings


def test_lines_with_alias_expiry_and_comment(tmp_path: Path) -> None:
    kept, warnings = run(
        tmp_path,
        "# accepted risks\nCVE-2021-1 exp:2026-12-31  # not reachable\nGHSA-4444-5555-6666 exp:2026-01-01\n",
    )
    assert kept == ["GHSA-4444-5555-6666", "aws-access-key"]  # the expired entry no longer suppresses
    assert warnings == [
        "ignore entry GHSA-4444-5555-6666 expired on 2026-01-01; it no longer suppresses findings"
    ]


def test_yaml_with_paths_and_reason(tmp_path: Path) -> None:
    text = (
        "ignore:\n"
        "  - id: aws-access-key\n    paths: ['/app/config/*']\n    reason: fake key for the demo\n"
        "    expires: 2027-01-01\n"
        "  - id: PYSEC-2021-1\n    package: flask\n"
    )
    kept, warnings = run(tmp_path, text, "ignore.yaml")
    assert kept == ["GHSA-1111-2222-3333", "GHSA-4444-5555-6666"] and warnings == []


def test_yaml_path_scope_does_not_match_elsewhere(tmp_path: Path) -> None:
    kept, _ = run(tmp_path, "- id: aws-access-key\n  paths: ['/root/*']\n")
    assert "aws-access-key" in kept


def test_finding_id_matches(tmp_path: Path) -> None:
    kept, _ = run(tmp_path, f"{SECRET.id}\n")
    assert kept == ["GHSA-1111-2222-3333", "GHSA-4444-5555-6666"]


@pytest.mark.parametrize(
    "text",
    [
        "CVE-1 exp:2026-13-45\n",
        "CVE-1 colour:blue\n",
        "- expires: 2026-01-01\n",
        "- id: x\n  expires: tomorrow\n",
    ],
)
def test_bad_ignore_files_are_input_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad"
    path.write_text(text)
    with pytest.raises(InputError):
        load_ignore_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_ignore_file(tmp_path / "nope")
