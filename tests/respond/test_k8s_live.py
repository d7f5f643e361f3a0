"""`seawall respond` with the official kubernetes client against a schema-validating API server
over HTTPS (tests/respond/kubeapi.py): plan, isolate --apply, release, RBAC and TLS failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seawall.respond.kubernetes import ORIGINAL_LABELS, QUARANTINE_LABEL
from tests.conftest import REPO, run_cli
from tests.respond.kubeapi import KubeApi, serve, validate

pytestmark = pytest.mark.slow  # starts an HTTPS server

DUMP = REPO / "devtools" / "samples" / "respond" / "k8s-shop.json"
POD = "frontend-6f7d9c8b4-x2kqz"
SUSPECT = f"k8s:shop/pod/{POD}"
CRI_LOG = (
    REPO
    / "devtools/samples/logs/container-logs/var/log/pods"
    / "shop_frontend-6f7d9c8b4-x2kqz_0f6b1c1e-3a7d-4f59-9d0e-6b9c2f4e8a11/nginx/0.log"
)


def _kubelet_log(cri: Path) -> str:
    """What the kubelet serves with timestamps=true: `TIMESTAMP MESSAGE` from the CRI log lines."""
    out = []
    for line in cri.read_text().splitlines():
        stamp, _stream, _tag, message = line.split(" ", 3)
        out.append(f"{stamp} {message}\n")
    return "".join(out)


def _cluster(**kw: Any) -> KubeApi:
    api = KubeApi(**kw)
    api.load(json.loads(DUMP.read_text())["items"])
    api.load(
        [
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": "ip-10-0-1-10.eu-west-1.compute.internal",
                    "labels": {"kubernetes.io/os": "linux"},
                },
                "spec": {"providerID": "aws:///eu-west-1a/i-0a1b2c3d4e5f60718"},
                "status": {
                    "addresses": [{"type": "InternalIP", "address": "10.0.1.10"}],
                    "nodeInfo": {
                        "kubeletVersion": "v1.30.2",
                        "containerRuntimeVersion": "containerd://1.7.11",
                        "architecture": "amd64",
                        "bootID": "b",
                        "kernelVersion": "6.1.0",
                        "kubeProxyVersion": "v1.30.2",
                        "machineID": "m",
                        "operatingSystem": "linux",
                        "osImage": "Amazon Linux 2023",
                        "systemUUID": "s",
                    },
                },
            },
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": f"{POD}.17a9", "namespace": "shop"},
                "involvedObject": {"kind": "Pod", "namespace": "shop", "name": POD, "apiVersion": "v1"},
                "reason": "Started",
                "message": "Started container nginx",
                "type": "Normal",
                "count": 1,
                "source": {"component": "kubelet", "host": "ip-10-0-1-10.eu-west-1.compute.internal"},
            },
        ]
    )
    api.logs[("shop", POD, "nginx")] = _kubelet_log(CRI_LOG)
    return api


@pytest.fixture()
def cluster() -> Iterator[tuple[KubeApi, dict[str, Any]]]:
    api = _cluster()
    with serve(api) as info:
        yield api, info


def _env(tmp: Path) -> dict[str, str]:
    return {"SEAWALL_RESPOND_AUDIT": str(tmp / "audit.jsonl"), "KUBECONFIG": "/nonexistent"}


def test_live_plan_equals_the_offline_plan_and_writes_nothing(
    cluster: tuple[KubeApi, dict[str, Any]], tmp_path: Path
) -> None:
    api, info = cluster
    live = run_cli(
        "respond", "plan", SUSPECT, "--kubeconfig", str(info["kubeconfig"]), "-f", "json", env=_env(tmp_path)
    )
    assert live.returncode == 0, live.stderr
    offline = run_cli("respond", "plan", SUSPECT, "--from", str(DUMP), "-f", "json")
    a, b = json.loads(live.stdout), json.loads(offline.stdout)
    assert a["source"] == "live"
    for key in ("steps", "residual", "reachable", "targets", "stays_up", "costs", "isolated"):
        assert a[key] == b[key], key
    assert {c["method"] for c in api.calls} == {"GET"}


def test_isolate_apply_and_release_through_the_api(
    cluster: tuple[KubeApi, dict[str, Any]], tmp_path: Path
) -> None:
    api, info = cluster
    before = json.loads(json.dumps(api.get("pods", "shop", POD)))
    proc = run_cli(
        "respond",
        "isolate",
        SUSPECT,
        "--apply",
        "--reason",
        "IR-7 log4shell",
        "--actor",
        "bob",
        "--allow-dns",
        "--kubeconfig",
        str(info["kubeconfig"]),
        "--evidence-dir",
        str(tmp_path / "evidence"),
        env=_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    pod = api.get("pods", "shop", POD)
    labels = pod["metadata"]["labels"]
    qid = labels[QUARANTINE_LABEL]
    assert set(labels) == {QUARANTINE_LABEL}  # app, tier and pod-template-hash are gone
    assert json.loads(pod["metadata"]["annotations"][ORIGINAL_LABELS]) == before["metadata"]["labels"]
    policy = api.get("networkpolicies", "shop", f"seawall-quarantine-{qid}", group="networking.k8s.io")
    assert policy is not None and validate("NetworkPolicy", policy) == []
    assert policy["spec"]["podSelector"] == {"matchLabels": {QUARANTINE_LABEL: qid}}
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert policy["spec"]["egress"][0]["ports"] == [
        {"protocol": "UDP", "port": 53},
        {"protocol": "TCP", "port": 53},
    ]
    assert "ingress" not in policy["spec"]
    writes = [(c["method"], c["path"], c["content_type"]) for c in api.calls if c["method"] != "GET"]
    # the client sends creates without a Content-Type; the API server reads them as JSON (its first type)
    assert writes == [
        ("PATCH", f"/api/v1/namespaces/shop/pods/{POD}", "application/merge-patch+json"),
        ("POST", "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies", None),
    ]
    # the other replicas are untouched
    assert api.get("pods", "shop", "frontend-6f7d9c8b4-7hw2p")["metadata"]["labels"]["app"] == "frontend"
    # evidence
    bundle = next((tmp_path / "evidence").iterdir())
    files = {f["path"] for f in json.loads((bundle / "manifest.json").read_text())["files"]}
    assert {f"{POD}/pod.json", f"{POD}/logs/nginx.log", f"{POD}/events.json", f"{POD}/node.json"} <= files
    assert "${jndi:" in (bundle / POD / "logs" / "nginx.log").read_text()
    assert json.loads((bundle / POD / "pod.json").read_text())["metadata"]["labels"]["app"] == "frontend"
    events = json.loads((bundle / POD / "events.json").read_text())
    assert [e["reason"] for e in events["items"]] == ["Started"]
    log_call = next(c for c in api.calls if c["path"].endswith("/log"))
    assert log_call["query"]["timestamps"] == "true" and log_call["query"]["tailLines"] == "10000"
    # release
    proc = run_cli(
        "respond",
        "release",
        SUSPECT,
        "--apply",
        "--reason",
        "rebuilt",
        "--kubeconfig",
        str(info["kubeconfig"]),
        env=_env(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    after = api.get("pods", "shop", POD)
    assert after["metadata"]["labels"] == before["metadata"]["labels"]
    assert ORIGINAL_LABELS not in (after["metadata"].get("annotations") or {})
    assert api.get("networkpolicies", "shop", f"seawall-quarantine-{qid}", group="networking.k8s.io") is None
    trail = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [(e["action"], e["actor"]) for e in trail][-2:] == [
        ("isolate", "bob"),
        ("release", trail[-1]["actor"]),
    ]


def test_forbidden_names_the_permission_and_rolls_back(tmp_path: Path) -> None:
    api = _cluster(forbidden={("create", "networkpolicies")})
    with serve(api) as info:
        before = api.get("pods", "shop", POD)["metadata"]["labels"]
        proc = run_cli(
            "respond",
            "isolate",
            SUSPECT,
            "--apply",
            "--reason",
            "IR-8",
            "--kubeconfig",
            str(info["kubeconfig"]),
            "--evidence-dir",
            str(tmp_path / "ev"),
            env=_env(tmp_path),
        )
        assert proc.returncode == 2
        line = proc.stderr.strip().splitlines()[-1]
        assert line.startswith("seawall: error: forbidden: create NetworkPolicy shop/seawall-quarantine-")
        assert 'cannot create resource "networkpolicies"' in line
        assert line.endswith("nothing left changed (1 change(s) rolled back)")
        assert api.get("pods", "shop", POD)["metadata"]["labels"] == before


def test_tls_and_credentials_are_checked(tmp_path: Path) -> None:
    api = _cluster()
    with serve(api) as info:
        config = json.loads(info["kubeconfig"].read_text())
        other = _cluster()
        with serve(other) as other_info:  # a CA that did not sign this server's certificate
            config["clusters"][0]["cluster"]["certificate-authority-data"] = json.loads(
                other_info["kubeconfig"].read_text()
            )["clusters"][0]["cluster"]["certificate-authority-data"]
        wrong_ca = tmp_path / "wrong-ca"
        wrong_ca.write_text(json.dumps(config))
        proc = run_cli("respond", "plan", SUSPECT, "--kubeconfig", str(wrong_ca), env=_env(tmp_path))
        assert proc.returncode == 2 and "cannot reach the API server" in proc.stderr
        assert "CERTIFICATE_VERIFY_FAILED" in proc.stderr and proc.stderr.count("\n") == 1
        config = json.loads(info["kubeconfig"].read_text())
        config["users"][0]["user"]["token"] = "stolen"
        bad_token = tmp_path / "bad-token"
        bad_token.write_text(json.dumps(config))
        proc = run_cli("respond", "plan", SUSPECT, "--kubeconfig", str(bad_token), env=_env(tmp_path))
        assert proc.returncode == 2 and "unauthorized" in proc.stderr and "stolen" not in proc.stderr
        assert api.calls == []
        missing = run_cli(
            "respond", "plan", SUSPECT, "--kubeconfig", str(tmp_path / "nope"), env=_env(tmp_path)
        )
        assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_cilium_override_and_deployment_scale(tmp_path: Path) -> None:
    api = _cluster(groups={"cilium.io"})
    with serve(api) as info:
        kube = ["--kubeconfig", str(info["kubeconfig"])]
        proc = run_cli(
            "respond",
            "isolate",
            SUSPECT,
            "--apply",
            "--reason",
            "IR-9",
            *kube,
            "--evidence-dir",
            str(tmp_path / "ev"),
            env=_env(tmp_path),
        )
        assert proc.returncode == 0, proc.stderr
        cnp = [o for (g, _, _, _), o in api.objects.items() if g == "cilium.io"]
        assert len(cnp) == 1 and cnp[0]["spec"]["egressDeny"] == [{"toEntities": ["all"]}]
        assert "isolated: yes" in proc.stdout  # every residual allowance is overridden by the deny rules
        proc = run_cli(
            "respond", "release", SUSPECT, "--apply", "--reason", "done", *kube, env=_env(tmp_path)
        )
        assert proc.returncode == 0, proc.stderr
        assert not [o for (g, _, _, _), o in api.objects.items() if g == "cilium.io"]
        proc = run_cli(
            "respond",
            "isolate",
            "k8s:shop/deployment/frontend",
            "--scale-to",
            "1",
            "--apply",
            "--reason",
            "IR-9 scale in",
            *kube,
            "--evidence-dir",
            str(tmp_path / "ev2"),
            env=_env(tmp_path),
        )
        assert proc.returncode == 0, proc.stderr
        assert api.get("deployments", "shop", "frontend", group="apps")["spec"]["replicas"] == 1
        proc = run_cli(
            "respond", "release", "k8s:shop/deployment/frontend", "--apply", *kube, env=_env(tmp_path)
        )
        assert proc.returncode == 0, proc.stderr
        assert api.get("deployments", "shop", "frontend", group="apps")["spec"]["replicas"] == 3


def test_the_server_refuses_what_the_api_would() -> None:
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "shop", "labels": {"seawall.io/quarantine": "a b"}},
        "spec": {"podSelectr": {}},
    }
    problems = validate("NetworkPolicy", policy)
    assert any("podSelectr" in p for p in problems) and any("valid label" in p for p in problems)


def test_evidence_that_cannot_be_read_stops_before_any_change(tmp_path: Path) -> None:
    api = _cluster(forbidden={("get", "pods")})
    with serve(api) as info:
        proc = run_cli("respond", "isolate", SUSPECT, "--apply", "--reason", "IR-10", "--kubeconfig",
                       str(info["kubeconfig"]), "--evidence-dir", str(tmp_path / "ev"), env=_env(tmp_path))
        assert proc.returncode == 2
        line = proc.stderr.strip().splitlines()[-1]
        assert line.startswith(f"seawall: error: forbidden: get pod shop/{POD}")
        assert [c for c in api.calls if c["method"] != "GET"] == []
        record = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()][-1]
        assert record["applied"] is False
        assert record["result"].startswith("failed before any change: forbidden")
