"""Realistic Kubernetes audit traffic for tests, the benchmark and the demo.

Events follow what kube-apiserver's log backend writes (audit.k8s.io/v1 `Event`, one JSON
object per line): controllers listing and watching, kubelets renewing leases and patching
status, the scheduler binding pods, people reading with kubectl, anonymous health probes.
`attack_story()` is a known intrusion: an anonymous probe of the API, a stolen service account
listing secrets, a privileged pod with the host's root mounted, then exec into it."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)
NAMESPACES = ["default", "payments", "web", "monitoring", "kube-system", "data"]
NODES = [f"ip-10-0-{i}-{10 + i}.eu-west-1.compute.internal" for i in range(1, 7)]
CONTROLLERS = [
    "replicaset-controller",
    "deployment-controller",
    "endpointslice-controller",
    "namespace-controller",
    "job-controller",
    "daemon-set-controller",
]


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def audit_event(
    t: datetime,
    verb: str,
    user: str,
    *,
    resource: str | None = None,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
    api_group: str = "",
    code: int = 200,
    groups: list[str] | None = None,
    source_ip: str = "10.0.1.10",
    user_agent: str = "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
    uri: str | None = None,
    request_object: dict[str, Any] | None = None,
    level: str = "Metadata",
    stage: str = "ResponseComplete",
    decision: str = "allow",
    reason: str = "",
) -> dict[str, Any]:
    if uri is None:
        base = f"/apis/{api_group}/v1" if api_group else "/api/v1"
        uri = base + (f"/namespaces/{namespace}" if namespace else "") + (f"/{resource}" if resource else "")
        if name:
            uri += f"/{name}"
        if subresource:
            uri += f"/{subresource}"
    ev: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": level,
        "auditID": str(uuid.UUID(int=random.getrandbits(128))),
        "stage": stage,
        "requestURI": uri,
        "verb": verb,
        "user": {"username": user, "groups": groups or ["system:authenticated"]},
        "sourceIPs": [source_ip],
        "userAgent": user_agent,
    }
    if resource:
        ref: dict[str, Any] = {"resource": resource, "apiVersion": "v1"}
        if namespace:
            ref["namespace"] = namespace
        if name:
            ref["name"] = name
        if subresource:
            ref["subresource"] = subresource
        if api_group:
            ref["apiGroup"] = api_group
        ev["objectRef"] = ref
    ev["responseStatus"] = {"metadata": {}, "code": code}
    if request_object is not None:
        ev["requestObject"] = request_object
    ev["requestReceivedTimestamp"] = _stamp(t)
    ev["stageTimestamp"] = _stamp(t + timedelta(milliseconds=3))
    ev["annotations"] = {
        "authorization.k8s.io/decision": decision,
        "authorization.k8s.io/reason": reason or "RBAC: allowed by ClusterRoleBinding",
    }
    return ev


def _benign(t: datetime, rng: random.Random) -> dict[str, Any]:
    r = rng.random()
    ns = rng.choice(NAMESPACES)
    if r < 0.30:
        node = rng.choice(NODES)
        return audit_event(
            t,
            "update",
            f"system:node:{node}",
            resource="leases",
            api_group="coordination.k8s.io",
            namespace="kube-node-lease",
            name=node,
            groups=["system:nodes", "system:authenticated"],
            user_agent="kubelet/v1.29.2 (linux/amd64) kubernetes/4b8e819",
            source_ip=f"10.0.{rng.randint(1, 6)}.{rng.randint(10, 200)}",
        )
    if r < 0.55:
        ctl = rng.choice(CONTROLLERS)
        return audit_event(
            t,
            rng.choice(["list", "watch"]),
            f"system:serviceaccount:kube-system:{ctl}",
            resource=rng.choice(["pods", "replicasets", "endpoints", "services"]),
            namespace=ns,
            groups=["system:serviceaccounts", "system:authenticated"],
            user_agent=f"kube-controller-manager/v1.29.2 (linux/amd64) kubernetes/4b8e819/{ctl}",
            source_ip="10.0.0.5",
        )
    if r < 0.70:
        node = rng.choice(NODES)
        pod = f"web-{rng.randint(1000, 9999)}"
        return audit_event(
            t,
            "patch",
            f"system:node:{node}",
            resource="pods",
            namespace=ns,
            name=pod,
            subresource="status",
            groups=["system:nodes"],
            user_agent="kubelet/v1.29.2 (linux/amd64) kubernetes/4b8e819",
        )
    if r < 0.80:
        return audit_event(
            t,
            "get",
            "system:anonymous",
            uri=rng.choice(["/healthz", "/livez", "/readyz?verbose"]),
            groups=["system:unauthenticated"],
            user_agent="kube-probe/1.29",
            source_ip="10.0.0.2",
            reason='RBAC: allowed by ClusterRoleBinding "system:public-info-viewer"',
        )
    if r < 0.90:
        return audit_event(
            t,
            rng.choice(["get", "list"]),
            "kubernetes-admin",
            resource=rng.choice(["pods", "deployments", "services", "nodes"]),
            namespace=ns,
            groups=["system:masters", "system:authenticated"],
            source_ip="192.168.10.4",
        )
    return audit_event(
        t,
        "get",
        "system:serviceaccount:monitoring:prometheus",
        resource=rng.choice(["pods", "endpoints", "nodes"]),
        namespace=ns,
        user_agent="prometheus/2.50.1",
        source_ip="10.0.3.77",
    )


def _noisy(t: datetime, rng: random.Random) -> dict[str, Any]:
    """Benchmark-only activity that some rules match (a few percent of events)."""
    ns = rng.choice(NAMESPACES[:4])
    r = rng.random()
    if r < 0.4:
        return audit_event(
            t,
            "get",
            f"system:serviceaccount:{ns}:app",
            resource="secrets",
            namespace=ns,
            name=f"db-credentials-{rng.randint(1, 40)}",
        )
    if r < 0.7:
        return audit_event(
            t,
            "create",
            "ci-deployer",
            resource="configmaps",
            namespace=ns,
            name=f"cfg-{rng.randint(1, 9999)}",
            level="RequestResponse",
            request_object={"kind": "ConfigMap", "data": {"mode": "prod"}},
        )
    return audit_event(
        t,
        "create",
        "alice@example.com",
        resource="pods",
        namespace=ns,
        name="debug",
        subresource="exec",
        stage="ResponseStarted",
        code=101,
        uri=f"/api/v1/namespaces/{ns}/pods/debug/exec?command=sh&stdin=true&tty=true",
    )


def privileged_pod(name: str, namespace: str) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "hostPID": True,
            "containers": [
                {
                    "name": "shell",
                    "image": "docker.io/library/alpine:3.19",
                    "command": ["sleep", "infinity"],
                    "securityContext": {"privileged": True},
                    "volumeMounts": [{"name": "host", "mountPath": "/host"}],
                }
            ],
            "volumes": [{"name": "host", "hostPath": {"path": "/", "type": "Directory"}}],
        },
    }


STORY_ACTOR = "system:serviceaccount:data:etl-runner"
STORY_IP = "203.0.113.45"
STORY_POD = ("data", "etl-debug")


def attack_story(t: datetime) -> list[dict[str, Any]]:
    """Anonymous probe -> secrets list -> privileged pod -> exec, minutes apart."""
    ns, pod = STORY_POD
    ua = "kubectl/v1.28.0 (linux/amd64) kubernetes/a1b2c3d"
    return [
        audit_event(
            t,
            "get",
            "system:anonymous",
            uri="/api/v1/namespaces/kube-system/pods",
            resource="pods",
            namespace="kube-system",
            groups=["system:unauthenticated"],
            source_ip=STORY_IP,
            user_agent="curl/8.4.0",
        ),
        audit_event(
            t + timedelta(minutes=4),
            "list",
            STORY_ACTOR,
            resource="secrets",
            namespace=ns,
            source_ip=STORY_IP,
            user_agent=ua,
            groups=["system:serviceaccounts", "system:serviceaccounts:data", "system:authenticated"],
        ),
        audit_event(
            t + timedelta(minutes=9),
            "create",
            STORY_ACTOR,
            resource="pods",
            namespace=ns,
            level="RequestResponse",
            source_ip=STORY_IP,
            user_agent=ua,
            request_object=privileged_pod(pod, ns),
            groups=["system:serviceaccounts", "system:authenticated"],
        ),
        audit_event(
            t + timedelta(minutes=11),
            "create",
            STORY_ACTOR,
            resource="pods",
            namespace=ns,
            name=pod,
            subresource="exec",
            stage="ResponseStarted",
            code=101,
            uri=f"/api/v1/namespaces/{ns}/pods/{pod}/exec?command=%2Fbin%2Fsh&container=shell"
            "&stdin=true&stdout=true&tty=true",
            source_ip=STORY_IP,
            user_agent=ua,
            groups=["system:serviceaccounts", "system:authenticated"],
        ),
    ]


def generate(
    n: int,
    *,
    seed: int = 7,
    story_at: int | None = None,
    noisy: float = 0.0,
    start: datetime = START,
    step_ms: int = 20,
) -> Iterator[bytes]:
    """n benign events (one JSON line each, 20 ms apart); the story's events are inserted
    after event `story_at`; `noisy` is the fraction of benchmark activity that rules match."""
    rng = random.Random(seed)
    random.seed(seed)
    dumps = orjson.dumps
    story: list[dict[str, Any]] = []
    if story_at is not None:
        story = attack_story(start + timedelta(milliseconds=story_at * step_ms + 1))
    for i in range(n):
        t = start + timedelta(milliseconds=i * step_ms)
        while story and story[0]["requestReceivedTimestamp"] <= _stamp(t):
            yield dumps(story.pop(0))
        ev = _noisy(t, rng) if noisy and rng.random() < noisy else _benign(t, rng)
        yield dumps(ev)
    for sev in story:
        yield dumps(sev)


def write(path: Path, n: int, **kwargs: Any) -> Path:
    with open(path, "wb") as out:
        buf: list[bytes] = []
        for line in generate(n, **kwargs):
            buf.append(line)
            if len(buf) >= 10_000:
                out.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            out.write(b"\n".join(buf) + b"\n")
    return path
