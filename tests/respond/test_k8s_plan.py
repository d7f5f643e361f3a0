"""Offline Kubernetes plans (`--from` kubectl dumps): what changes, what stays reachable, guards, scope."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from seawall import respond
from seawall.respond import scope
from seawall.respond.kube_view import KubeView
from seawall.respond.kubernetes import KUBERNETES, QUARANTINE_LABEL
from tests.conftest import REPO, run_cli

DUMP = REPO / "devtools" / "samples" / "respond" / "k8s-shop.json"
SUSPECT = "k8s:shop/pod/frontend-6f7d9c8b4-x2kqz"


def _options(**kw: Any) -> respond.Options:
    return respond.Options(sources=[DUMP], scope=scope.Scope.from_config(None, "test"), **kw)


def _dump(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    doc = json.loads(DUMP.read_text())
    mutate(doc["items"])
    out = tmp_path / "dump.json"
    out.write_text(json.dumps(doc))
    return out


def _item(items: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(i for i in items if i["kind"] == kind and i["metadata"]["name"] == name)


def test_demo_plan_detaches_one_pod_and_reports_the_additive_residual() -> None:
    plan = respond.plan(SUSPECT, _options())
    assert [s.id for s in plan.steps] == ["evidence", "detach", "deny-all"]
    patch = plan.steps[1].changes[0]
    labels = patch.body["metadata"]["labels"]
    # the ReplicaSet's selector (app, tier, pod-template-hash) and the Service's (app, tier) lose the pod
    assert {k for k, v in labels.items() if v is None} == {"app", "tier", "pod-template-hash"}
    qid = labels[QUARANTINE_LABEL]
    deny = plan.steps[2].changes[0].body
    assert deny["spec"] == {"podSelector": {"matchLabels": {QUARANTINE_LABEL: qid}},
                            "policyTypes": ["Ingress", "Egress"]}
    # policies selecting app=frontend no longer apply; the namespace-wide ones still do
    assert {r.source for r in plan.residual} == {
        "NetworkPolicy shop/allow-same-namespace ingress[0]",
        "NetworkPolicy shop/allow-prometheus ingress[0]",
        "NetworkPolicy shop/allow-dns egress[0]",
    }
    same_ns = next(r for r in plan.residual if "allow-same-namespace" in r.source)
    assert same_ns.peers[0] == "every pod in namespace shop"
    assert "shop/db-0" in same_ns.peers[1] and "additive" in same_ns.why
    assert not plan.isolated
    reachable = {(r["direction"], r["peer"], tuple(r["ports"])) for r in plan.reachable}
    assert reachable == {
        ("ingress", "monitoring/prometheus-0", ("9113/TCP",)),
        ("egress", "kube-system/coredns-7d9f8c6b5-m4xq2", ("53/TCP", "53/UDP")),
        ("egress", "kube-system/coredns-7d9f8c6b5-z8w1c", ("53/TCP", "53/UDP")),
    }
    assert any("2 other ready replica(s)" in line for line in plan.stays_up)
    assert not plan.guards


def test_the_additive_trap_is_reported_and_closing_it_isolates(tmp_path: Path) -> None:
    """deny-all + a namespace-wide `podSelector: {}` allow: the allow still lets the namespace in."""

    def open_egress(items: list[dict[str, Any]]) -> None:
        # ingress policies only: the namespace's pods may send anywhere
        _item(items, "NetworkPolicy", "default-deny")["spec"]["policyTypes"] = ["Ingress"]
        items[:] = [i for i in items if not (i["kind"] == "NetworkPolicy" and i["metadata"]["name"] in
                                             ("allow-dns", "frontend-to-api", "api-to-db"))]

    plan = respond.plan(SUSPECT, respond.Options(sources=[_dump(tmp_path, open_egress)]))
    ingress_from = {r["peer"] for r in plan.reachable if r["direction"] == "ingress"}
    assert {"shop/api-5c4b8d7f6-k2l9s", "shop/db-0", "shop/frontend-6f7d9c8b4-7hw2p"} <= ingress_from
    row = next(r for r in plan.reachable if r["peer"] == "shop/db-0")
    assert row["by"] == ["shop/allow-same-namespace ingress[0]"] and row["ports"] == ["8080/TCP", "9113/TCP"]

    def close_trap(items: list[dict[str, Any]]) -> None:
        items[:] = [i for i in items if not (i["kind"] == "NetworkPolicy" and i["metadata"]["name"] in
                                             ("allow-same-namespace", "allow-prometheus", "allow-dns"))]

    closed = respond.plan(SUSPECT, respond.Options(sources=[_dump(tmp_path, close_trap)]))
    assert closed.residual == [] and closed.reachable == [] and closed.isolated


@pytest.mark.parametrize("cni, kind", [("cilium", "CiliumNetworkPolicy"), ("calico", "GlobalNetworkPolicy"),
                                       ("anp", "AdminNetworkPolicy")])
def test_a_policy_engine_with_precedence_gets_the_overriding_policy(cni: str, kind: str) -> None:
    plan = respond.plan(SUSPECT, _options(cni=cni))
    override = next(s for s in plan.steps if s.id == "override")
    assert override.changes[0].kind == kind
    assert all(r.overridden_by == f"step override: {kind}" for r in plan.residual)
    assert plan.isolated  # every residual allowance is overridden


def test_cilium_is_detected_from_its_daemonset(tmp_path: Path) -> None:
    def add_cilium(items: list[dict[str, Any]]) -> None:
        ds = copy.deepcopy(_item(items, "DaemonSet", "aws-node"))
        ds["metadata"]["name"] = "cilium"
        items.append(ds)

    plan = respond.plan(SUSPECT, respond.Options(sources=[_dump(tmp_path, add_cilium)]))
    body = next(s for s in plan.steps if s.id == "override").changes[0].body
    assert body["kind"] == "CiliumNetworkPolicy"
    assert body["spec"]["ingressDeny"] == [{"fromEntities": ["all"]}]


def test_guards(tmp_path: Path) -> None:
    dns = respond.plan("k8s:kube-system/pod/coredns-7d9f8c6b5-m4xq2", _options())
    assert any("control-plane namespace" in g for g in dns.guards)
    node_agent = respond.plan("k8s:kube-system/pod/aws-node-a9x0k", _options())
    assert any("system add-on (DaemonSet aws-node)" in g for g in node_agent.guards)
    assert any("host's network" in g for g in node_agent.guards)

    def one_ready(items: list[dict[str, Any]]) -> None:
        for name in ("frontend-6f7d9c8b4-7hw2p", "frontend-6f7d9c8b4-q9m4d"):
            pod = _item(items, "Pod", name)
            for cond in pod["status"]["conditions"]:
                cond["status"] = "False" if cond["type"] == "Ready" else cond["status"]

    thin = respond.plan(SUSPECT, respond.Options(sources=[_dump(tmp_path, one_ready)],
                                                 scope=scope.Scope.from_config(None, "t")))
    assert thin.guards == ["only 0 other ready replica(s) of Deployment shop/frontend would remain "
                           "(--min-replicas 1)"]
    proc = run_cli("respond", "isolate", SUSPECT, "--from", str(tmp_path / "dump.json"),
                   env={"SEAWALL_RESPOND_AUDIT": str(tmp_path / "audit.jsonl")})
    assert proc.returncode == 2 and "refused: only 0 other ready replica(s)" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    audit = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["action"] == "isolate" and audit[-1]["applied"] is False and audit[-1]["refused"]


def test_a_whole_deployment_only_when_asked() -> None:
    ref = "k8s:shop/deployment/frontend"
    with pytest.raises(respond.Refused, match="takes its service down"):
        respond.plan(ref, _options())
    plan = respond.plan(ref, _options(whole=True, scale_to=1))
    assert len(plan.targets) == 3
    deny = next(s for s in plan.steps if s.id == "deny-all").changes[0].body
    assert deny["spec"]["podSelector"] == {"matchLabels": {"app": "frontend", "tier": "web"}}
    scale = next(s for s in plan.steps if s.id == "scale").changes[0]
    assert scale.body == {"spec": {"replicas": 1}} and scale.undo["body"] == {"spec": {"replicas": 3}}
    assert any("the service is down" in c for c in plan.costs)


def test_scope_refuses_outside_namespaces_and_labels(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("respond:\n  scope:\n    namespaces: [payments, 'team-*']\n")
    proc = run_cli("respond", "plan", SUSPECT, "--from", str(DUMP), "--config", str(config))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"seawall: error: {SUSPECT}: namespace shop is outside the configured "
                                   f"scope ({config}: respond.scope.namespaces)")
    config.write_text("respond:\n  scope:\n    namespaces: [shop]\n"
                      "    labels: {seawall.io/respond: allowed}\n")
    proc = run_cli("respond", "plan", SUSPECT, "--from", str(DUMP), "--config", str(config))
    assert proc.returncode == 2 and "lacks the label(s) seawall.io/respond=allowed" in proc.stderr
    config.write_text("respond: [not, a, mapping]\n")
    proc = run_cli("respond", "plan", SUSPECT, "--from", str(DUMP), "--config", str(config))
    assert proc.returncode == 2 and "'respond' must be a mapping" in proc.stderr


@pytest.mark.parametrize("workload, message", [
    ("k8s:shop/pod", "expected k8s:NAMESPACE/KIND/NAME"),
    ("k8s:shop/cronjob/x", "kind must be pod or deployment"),
    ("k8s:Shop/pod/x", "not a valid k8s name"),
    ("gke:shop/pod/x", "unknown workload"),
    ("k8s:shop/pod/nope", "pod shop/nope not found in"),
    ("0123456789abcdef", "looks like a finding id"),
])
def test_bad_workloads_are_one_line_errors(workload: str, message: str) -> None:
    proc = run_cli("respond", "plan", workload, "--from", str(DUMP))
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr and proc.stderr.count("\n") == 1 and proc.stdout == ""


def test_a_damaged_dump_is_skipped_and_the_rest_still_planned(tmp_path: Path) -> None:
    bad = tmp_path / "truncated.json"
    bad.write_bytes(DUMP.read_bytes()[:5000])
    proc = run_cli("respond", "plan", SUSPECT, "--from", str(bad), "--from", str(DUMP), "-f", "json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["workload"] == SUSPECT
    assert "truncated.json: neither JSON nor YAML" in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == ("seawall: error: 1 input file(s) could not be read: "
                                                    "the plan may miss objects")


def test_an_invalid_policy_in_the_dump_is_named_and_not_evaluated(tmp_path: Path) -> None:
    def break_policy(items: list[dict[str, Any]]) -> None:
        _item(items, "NetworkPolicy", "allow-dns")["spec"]["egress"][0]["ports"][0]["port"] = 99999

    plan = respond.plan(SUSPECT, respond.Options(sources=[_dump(tmp_path, break_policy)]))
    assert any("NetworkPolicy shop/allow-dns" in w and "not evaluated" in w for w in plan.warnings)


def test_a_finding_id_resolves_to_its_pod(tmp_path: Path) -> None:
    report = tmp_path / "findings.json"
    proc = run_cli("detect", "--source", "container-logs", str(REPO / "devtools/samples/logs/container-logs"),
                   "--format", "json", "--no-state", "-q", "-o", str(report))
    assert proc.returncode in (0, 1), proc.stderr
    finding = next(f for f in json.loads(report.read_text())["findings"] if f["rule"] == "SW-LOG-LOG4SHELL")
    proc = run_cli("respond", "plan", finding["id"][:12], "--findings", str(report), "--from", str(DUMP),
                   "-f", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["workload"] == SUSPECT
    miner = next(f for f in json.loads(report.read_text())["findings"] if f["rule"] == "SW-LOG-MINER")
    proc = run_cli("respond", "plan", miner["id"], "--findings", str(report), "--from", str(DUMP))
    assert proc.returncode == 2 and "not a workload seawall can isolate" in proc.stderr


def test_view_reads_yaml_streams_and_lists(tmp_path: Path) -> None:
    import yaml

    items = json.loads(DUMP.read_text())["items"]
    stream = tmp_path / "objects.yaml"
    stream.write_text(yaml.safe_dump_all(items[:10]))
    view = KubeView.from_files([stream])
    assert view.count() == 10 and not view.damaged
    assert KUBERNETES.name == "k8s"
