"""Every check: a failing real-format example (finding at the offending line) and a passing one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from seawall.posture import AuditOptions, Policy, all_checks, audit_paths

HERE = Path(__file__).parent


def _pod(component: str, flags: list[str]) -> str:
    lines = ["apiVersion: v1", "kind: Pod", f"metadata: {{name: {component}, namespace: kube-system}}",
             "spec:", "  containers:", f"    - name: {component}", "      command:",
             f"        - {component}"]
    lines += [f'        - "{flag}"' for flag in flags]
    return "\n".join(lines) + "\n"


def _flag_cases() -> list[dict]:
    """cases_controlplane.yaml: each case is a hardened static pod with some flags set or dropped."""
    data = yaml.safe_load((HERE / "cases_controlplane.yaml").read_text())
    out = []
    for case in data["cases"]:
        base = list(data["baselines"][case["component"]])
        name = lambda flag: flag.split("=", 1)[0]  # noqa: E731
        changed = {name(f): f for f in case.get("fail", [])}
        dropped = set(case.get("drop", []))
        failing = [changed.pop(name(f), f) for f in base if name(f) not in dropped] + list(changed.values())
        passing = base + list(case.get("pass", []))
        if case.get("fail"):
            line = 9 + failing.index(next(f for f in failing if name(f) == name(case["fail"][0])))
        else:
            line = 6  # the container's first line
        out.append({"check": case["check"], "file": f"{case['component']}.yaml", "line": line,
                    "fail": _pod(case["component"], failing), "pass": _pod(case["component"], passing)})
    return out


CASES = [case for name in ("cases_k8s.yaml", "cases_aws.yaml", "cases_docker.yaml")
         for case in yaml.safe_load((HERE / name).read_text())] + _flag_cases()
# file-mode / auditd checks need a root filesystem: covered in test_host.py
HOST_ONLY = {"SW-DH-010", "SW-DH-011", "SW-DH-012"}


def _audit(tmp_path: Path, case: dict, text: str):
    (tmp_path / case["file"]).write_text(text)
    for name, body in (case.get("extra_files") or {}).items():
        (tmp_path / name).write_text(body)
    policy = Policy.from_dict(case.get("policy") or {})
    return audit_paths([tmp_path], AuditOptions(policy=policy))


def _ids(case: dict) -> str:
    return f"{case['check']}-{case['file']}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_failing_example_is_found_at_the_offending_line(tmp_path: Path, case: dict) -> None:
    report = _audit(tmp_path, case, case["fail"])
    hits = [f for f in report.findings if f.rule == case["check"]]
    assert hits, f"{case['check']} not reported; got {sorted({f.rule for f in report.findings})}"
    lines = sorted({f.location.line for f in hits})
    assert case["line"] in lines, f"{case['check']} at lines {lines}, expected {case['line']}"
    finding = hits[0]
    assert finding.location.path and finding.location.path.endswith(case["file"])
    assert finding.remediation
    assert not report.all_warnings(), report.all_warnings()


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_passing_example_is_clean(tmp_path: Path, case: dict) -> None:
    report = _audit(tmp_path, case, case["pass"])
    hits = [(f.rule, f.location.line, f.evidence) for f in report.findings if f.rule == case["check"]]
    assert not hits
    assert not report.all_warnings(), report.all_warnings()


def test_every_check_has_examples() -> None:
    covered = {case["check"] for case in CASES} | HOST_ONLY
    ids = {check.id for check in all_checks()}
    assert ids - covered == set()
    assert covered - ids == set()


def test_check_metadata_is_complete_and_references_are_well_formed() -> None:
    checks = all_checks()
    assert len({c.id for c in checks}) == len(checks)
    prefixes = ("kubescape:C-", "checkov:CKV_", "checkov:CKV2_", "cis-k8s:", "cis-docker:", "cis-eks:",
                "pss:baseline", "pss:restricted", "nsa-cisa:", "aws-securityhub:ECS.",
                "aws-securityhub:EKS.", "aws-securityhub:ECR.", "aws-config:", "hadolint:DL")
    for check in checks:
        assert check.title and check.rationale and check.remediation, check.id
        for ref in check.references:
            assert ref.startswith(prefixes), (check.id, ref)
    by_id = {c.id: c for c in checks}
    # a few cross-references users map to, pinned
    assert "kubescape:C-0057" in by_id["SW-K8S-001"].references
    assert "checkov:CKV_K8S_16" in by_id["SW-K8S-001"].references
    assert "aws-securityhub:ECS.4" in by_id["SW-ECS-001"].references
    assert "aws-securityhub:EKS.1" in by_id["SW-EKS-001"].references
    assert "aws-securityhub:ECR.1" in by_id["SW-ECR-001"].references


def test_kubescape_references_name_controls_that_exist() -> None:
    """Every `kubescape:C-xxxx` names a control of Kubescape's control library (the regolibrary
    snapshot's control list, committed under tests/conformance/kubescape with its license)."""
    data = json.loads((HERE.parent / "conformance" / "kubescape" / "cases.json").read_text())
    controls = set(data["controls"])
    assert len(controls) > 250
    unknown = sorted({(c.id, ref) for c in all_checks() for ref in c.references
                      if ref.startswith("kubescape:") and ref.removeprefix("kubescape:") not in controls})
    assert unknown == []
