"""The whole audit over the bundled sample set (devtools/samples/posture): Deployments, Helm-rendered
output, RBAC, a kubectl List dump, control plane manifests, ECS task definitions and services, EKS and
ECR JSON, a Dockerfile, daemon.json and a docker.service unit. The exact (check, resource, file, line)
set is pinned in corpus_expected.txt; each line of it was checked against the sample files by hand."""

from __future__ import annotations

import json
from pathlib import Path

from seawall.posture import audit_paths
from seawall.posture.base import resource_key
from tests.conftest import REPO, run_cli

SAMPLES = REPO / "devtools" / "samples" / "posture"
EXPECTED = Path(__file__).parent / "corpus_expected.txt"


def _expected() -> set[tuple[str, str, str, int]]:
    rows = set()
    for line in EXPECTED.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        check, resource, path, lineno = (part.strip() for part in line.split("|"))
        rows.add((check, resource, path, int(lineno)))
    return rows


def _actual(root: Path) -> set[tuple[str, str, str, int]]:
    report = audit_paths([root])
    assert report.warnings == []
    prefix = str(root) + "/"
    return {(f.rule, resource_key(f.resource).replace(prefix, ""),
             (f.location.path or "").replace(prefix, ""), f.location.line or 0) for f in report.findings}


def test_exact_findings_over_the_sample_corpus() -> None:
    actual, expected = _actual(SAMPLES.resolve()), _expected()
    assert sorted(actual - expected) == [], "unexpected findings"
    assert sorted(expected - actual) == [], "missing findings"


def test_hardened_workloads_produce_nothing() -> None:
    actual = _actual(SAMPLES.resolve())
    assert not [row for row in actual if "payments" in row[1] or "payments" in row[2]]
    assert not [row for row in actual if "Dockerfile.hardened" in row[2]]
    assert not [row for row in actual if "billing-worker" in row[1] and "TaskDefinition" in row[1]]
    assert not [row for row in actual if row[1].endswith("/base/python") and row[0] in
                ("SW-ECR-001", "SW-ECR-002", "SW-ECR-003", "SW-ECR-004")]


def test_cli_json_report_over_the_corpus(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = run_cli("audit", str(SAMPLES), "--format", "json", "--output", str(out), "--fail-on", "high")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(out.read_text())
    assert report["schema"] == "seawall.report/v1"
    assert report["target"]["kind"] == "files"
    assert len(report["findings"]) == len(_expected())
    svc = next(f for f in report["findings"] if f["rule"] == "SW-K8S-050")
    assert svc["kind"] == "exposure"
    assert svc["resource"]["workload"] == "Deployment/frontend"
    assert svc["extra"]["workloads"] == ["Deployment/frontend"]
    helm = next(f for f in report["findings"] if f["rule"] == "SW-K8S-051")
    assert helm["extra"]["helm_template"] == "node-exporter/templates/service.yaml"
    secret = next(f for f in report["findings"]
                  if f["rule"] == "SW-K8S-027" and "ci-runner" in f["resource"]["name"])
    assert "AKIAIOSFODNN7EXAMPLE" not in json.dumps(report)  # secrets are masked
    assert secret["evidence"].startswith("container runner: env AWS_ACCESS_KEY_ID=AKI")
    ids = [f["id"] for f in report["findings"]]
    assert len(ids) == len(set(ids))
