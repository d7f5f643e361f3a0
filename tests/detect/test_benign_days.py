"""A benign day of each source is quiet: no high or critical finding, a handful of mediums that an
analyst would want -- with seawall's shipped context plus the operator's own (their people, CI and
AWS Organization) -- while what the shipped allowlists quiet stays visible at severity info, one
finding per entry. Run through the CLI as an operator would."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from devtools.detectgen import containers_day, ecs_day, eks_day
from tests.conftest import run_cli

DATA = Path(__file__).parent / "data"


def detect(*args: str) -> dict:
    proc = run_cli("detect", *args, "--format", "json", "--no-state")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    report: dict = json.loads(proc.stdout)
    return report


def above_info(report: dict) -> Counter[tuple[str, str]]:
    return Counter((f["severity"], f["rule"]) for f in report["findings"] if f["severity"] != "info")


@pytest.fixture(scope="module")
def eks_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return eks_day.write(tmp_path_factory.mktemp("eks") / "kube-apiserver-audit.log")


@pytest.fixture(scope="module")
def eks_report(eks_log: Path) -> dict:
    return detect("--source", "k8s-audit", str(eks_log), "--context", str(DATA / "context-eks.yaml"))


def test_eks_day_has_no_high_and_only_the_mediums_an_analyst_wants(eks_report: dict) -> None:
    assert 29_000 <= eks_report["target"]["metadata"]["events"] <= 31_000
    got = above_info(eks_report)
    assert not [k for k in got if k[0] in ("high", "critical")], got
    mediums = {rule: f for f in eks_report["findings"] if f["severity"] == "medium" for rule in [f["rule"]]}
    # the one exec in staging (built-in and SigmaHQ's rule), and the staging secret a developer read
    # right after five refused reads of production secrets
    assert set(mediums) == {"SW-K8S-EXEC", "sigma:a1b0ca4e-7835-413e-8471-3ff2b8a66be6", "SW-K8S-SECRET-GET"}
    assert mediums["SW-K8S-EXEC"]["resource"]["namespace"] == "staging"
    assert mediums["SW-K8S-EXEC"]["count"] == 1  # logged at two stages, one request
    assert mediums["SW-K8S-SECRET-GET"]["resource"] == {
        "type": "k8s:Secret",
        "name": "db-credentials",
        "namespace": "staging",
        "workload": "Secret/db-credentials",
    }
    lows = [r for (s, r) in got if s == "low"]
    assert len(lows) <= 4, got
    assert "SW-K8S-SECRET-GET-DENIED" in lows  # the five refusals, one finding


def test_eks_day_what_the_allowlists_quiet_is_shown_once_per_entry(eks_report: dict) -> None:
    quieted = [f for f in eks_report["findings"] if "allowlist" in f["extra"]]
    assert quieted and all(f["severity"] == "info" for f in quieted)
    privileged = {
        f["extra"]["allowlist"]["entry"]: f for f in quieted if f["rule"] == "SW-K8S-PRIVILEGED-POD"
    }
    # one finding per add-on DaemonSet, counting its pods (the aws-node upgrade rolled all 10 nodes)
    assert set(privileged) == {
        "eks-vpc-cni",
        "eks-kube-proxy",
        "eks-ebs-csi-node",
        "eks-efs-csi-node",
        "eks-pod-identity-agent",
    }
    cni = privileged["eks-vpc-cni"]
    assert cni["count"] == 12 and cni["resource"]["type"] == "k8s:DaemonSet"
    assert cni["resource"]["name"] == "aws-node" and cni["resource"]["namespace"] == "kube-system"
    assert "VPC CNI" in cni["extra"]["allowlist"]["reason"]
    enum = {f["extra"]["allowlist"]["entry"] for f in quieted if f["rule"] == "SW-K8S-SECRETS-ENUM"}
    assert {"kube-state-metrics", "argo-cd"} <= enum
    writes = {
        f["extra"]["allowlist"]["entry"]
        for f in quieted
        if f["rule"] == "sigma:58d31a75-a4f8-4c40-985b-373d58162ca2"
    }
    assert writes == {"cert-manager", "external-secrets"}
    cron = [f for f in quieted if f["rule"] == "sigma:0c9b3bda-41a6-4442-9345-356ae86343dc"]
    assert len(cron) == 1 and cron[0]["count"] >= 96  # a CronJob every 15 minutes: one finding
    assert len(quieted) <= 60


def test_eks_day_without_the_operator_context_names_the_people_once(eks_log: Path) -> None:
    report = detect("--source", "k8s-audit", str(eks_log))
    got = above_info(report)
    assert not [k for k in got if k[0] in ("high", "critical")], got
    users = [f for f in report["findings"] if f["rule"] == "SW-K8S-DISALLOWED-USER"]
    # three engineers and the CI role, one finding each for the day (not one per object touched)
    assert len(users) == 4 and all(f["resource"]["type"] == "k8s:cluster" for f in users)
    # CI's image bumps are "sidecar injection" to SigmaHQ until the operator names their CI
    assert got[("medium", "sigma:ad9012a6-e518-4432-9890-f3b82b8fc71f")] >= 1


@pytest.fixture(scope="module")
def ecs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ecs")
    ecs_day.write(root)
    return root


def test_ecs_day_is_quiet(ecs_dir: Path) -> None:
    report = detect("--source", "cloudtrail", str(ecs_dir), "--context", str(DATA / "context-ecs.yaml"))
    assert len(list(ecs_dir.rglob("*.json.gz"))) == 288
    assert 14_500 <= report["target"]["metadata"]["events"] <= 15_500
    got = above_info(report)
    assert not [k for k in got if k[0] in ("high", "critical")], got
    mediums = [r for (s, r) in got if s == "medium"]
    assert mediums == ["SW-AWS-ECS-EXEC"], got  # the one ECS Exec into staging
    exec_f = next(f for f in report["findings"] if f["rule"] == "SW-AWS-ECS-EXEC")
    assert exec_f["resource"]["namespace"] == "staging"
    assert sum(got.values()) <= 4, got
    shared = {f["rule"]: f for f in report["findings"] if "allowlist" in f["extra"]}
    # inside the Organization: shown, at info, with the entry that says why
    for rule in ("SW-AWS-ECR-POLICY-CROSS-ACCOUNT", "SW-AWS-ECR-REPLICATION-EXTERNAL"):
        assert shared[rule]["severity"] == "info"
        assert shared[rule]["extra"]["allowlist"]["allowlist"] == "organization"


def test_ecs_day_without_the_organization_keeps_the_shares_visible(ecs_dir: Path) -> None:
    report = detect("--source", "cloudtrail", str(ecs_dir))
    got = above_info(report)
    # not knowing the Organization, a share to another account is high -- but a policy limited by
    # aws:PrincipalOrgID is never "public"
    assert ("critical", "SW-AWS-ECR-POLICY-PUBLIC") not in got
    assert got[("high", "SW-AWS-ECR-POLICY-CROSS-ACCOUNT")] == 2
    assert got[("high", "SW-AWS-ECR-REPLICATION-EXTERNAL")] == 1
    assert not [k for k in got if k[1].startswith("sigma:") and k[0] in ("medium", "high", "critical")], got


def test_container_logs_day_is_quiet(tmp_path: Path) -> None:
    root = containers_day.write(tmp_path)
    report = detect("--source", "container-logs", str(root))
    got = above_info(report)
    assert report["target"]["metadata"]["events"] >= 20_000
    assert not [k for k in got if k[0] in ("high", "critical")], got
    assert sum(n for (s, _), n in got.items() if s == "medium") <= 3, got
