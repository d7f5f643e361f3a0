"""Respond part of `make demo`: isolate the demo's compromised workload without pulling the cluster
down, and say what stays reachable.

1. Kubernetes: the finding that `seawall detect` raised on pod shop/frontend-6f7d9c8b4-x2kqz (Log4Shell
   in its access log) is resolved to its pod, and the isolation plan is computed offline from the
   bundled `kubectl get ... -A -o json` dump: detach one replica, deny-all, and the namespace-wide
   policies that NetworkPolicy's additive model leaves open. Then the same plan where Cilium runs:
   its deny rules override them.
2. ECS on moto (server mode, 127.0.0.1): the frontend service's compromised Fargate task -- plan,
   isolate --apply (evidence, task protection, target deregistration, network ACL entries), checked
   through the AWS APIs, then release.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DUMP = REPO / "devtools" / "samples" / "respond" / "k8s-shop.json"
LOGS = REPO / "devtools" / "samples" / "logs" / "container-logs"
OUT = REPO / ".cache" / "demo" / "respond"


def _seawall(
    *args: str, env: dict[str, str] | None = None, capture: bool = False
) -> subprocess.CompletedProcess[str]:
    shown = " ".join(a.replace(str(REPO) + "/", "") for a in args)
    print(f"$ seawall {shown}", flush=True)
    return subprocess.run(
        [sys.executable, "-m", "seawall", *args],
        cwd=REPO,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        capture_output=capture,
    )


def _kubernetes() -> int:
    print("\n== Kubernetes: the pod the detection demo flagged")
    report = OUT / "container-log-findings.json"
    proc = _seawall(
        "detect",
        "--source",
        "container-logs",
        str(LOGS),
        "--format",
        "json",
        "--no-state",
        "-q",
        "-o",
        str(report),
    )
    if proc.returncode not in (0, 1):
        return 1
    finding = next(f for f in json.loads(report.read_text())["findings"] if f["rule"] == "SW-LOG-LOG4SHELL")
    print(
        f"   finding {finding['id'][:12]} {finding['rule']} on {finding['resource']['type']} "
        f"{finding['resource']['namespace']}/{finding['resource']['name']}"
    )
    proc = _seawall("respond", "plan", finding["id"][:12], "--findings", str(report), "--from", str(DUMP))
    if proc.returncode != 0:
        return proc.returncode
    print("\n== the same pod where Cilium enforces policy: its deny rules override every allow")
    proc = _seawall(
        "respond",
        "plan",
        "k8s:shop/pod/frontend-6f7d9c8b4-x2kqz",
        "--from",
        str(DUMP),
        "--cni",
        "cilium",
        "-f",
        "json",
        capture=True,
    )
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return proc.returncode
    plan = json.loads(proc.stdout)
    override = next(s for s in plan["steps"] if s["id"] == "override")
    print(f"   {override['title']}: {override['changes'][0]['kind']} {override['changes'][0]['name']}")
    print(
        f"   residual allowances overridden: {sum(1 for r in plan['residual'] if r.get('overridden_by'))} "
        f"of {len(plan['residual'])}; isolated: {'yes' if plan['isolated'] else 'no'}"
    )
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ecs() -> int:
    import logging

    from moto.server import ThreadedMotoServer

    from devtools.samples.respond import ecs_env

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the moto server's request log

    print("\n== ECS (moto in server mode on 127.0.0.1): the frontend service's compromised task")
    ecs_env.install()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        ids = ecs_env.build(url)
        suspect = ids["tasks"][0]
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "SEAWALL_AWS_ENDPOINT_URL": url,
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "SEAWALL_RESPOND_AUDIT": str(OUT / "audit.jsonl"),
        }
        ref = f"ecs:prod/task/{suspect['id']}"
        proc = _seawall("respond", "plan", ref, env=env)
        if proc.returncode != 0:
            return proc.returncode
        proc = _seawall(
            "respond",
            "isolate",
            ref,
            "--apply",
            "--reason",
            "demo: Log4Shell in the access log",
            "--actor",
            "demo",
            "--evidence-dir",
            str(OUT / "evidence"),
            "-f",
            "json",
            env=env,
            capture=True,
        )
        print(proc.stderr.strip())
        if proc.returncode != 0:
            return proc.returncode
        ec2, elb, ecs = (ecs_env.client(url, s) for s in ("ec2", "elbv2", "ecs"))

        def state() -> str:
            entries = sum(
                1
                for acl in ec2.describe_network_acls()["NetworkAcls"]
                for e in acl["Entries"]
                if e.get("CidrBlock") == f"{suspect['ip']}/32"
            )
            targets = sorted(
                d["Target"]["Id"]
                for d in elb.describe_target_health(TargetGroupArn=ids["target_group"])[
                    "TargetHealthDescriptions"
                ]
            )
            protected = ecs.get_task_protection(cluster="prod", tasks=[suspect["arn"]])["protectedTasks"][0]
            return (
                f"ACL deny entries for {suspect['ip']}: {entries}; targets behind the ALB: "
                f"{', '.join(targets)}; "
                f"task protection: {protected['protectionEnabled']}"
            )

        print(f"   after isolate: {state()}")
        proc = _seawall(
            "respond", "release", ref, "--apply", "--reason", "demo over", "--actor", "demo", env=env
        )
        if proc.returncode != 0:
            return proc.returncode
        print(f"   after release: {state()}")
        return 0
    finally:
        server.stop()


def respond_demo() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "audit.jsonl").unlink(missing_ok=True)
    return _kubernetes() or _ecs()


if __name__ == "__main__":
    raise SystemExit(respond_demo())
