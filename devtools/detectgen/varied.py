"""A second, differently shaped Kubernetes audit generator (for the benchmark): keys in varying
order at every level, request and response objects on writes (Deployments, ConfigMaps with
data, pods with specs), long request URIs (label and field selectors, continue tokens), many
users (2,000 people and a few thousand service accounts in 44 namespaces), all verbs and many
resources. About 1.1 KB per event; half a percent are exec and secret reads.

    write(path, n, seed=5) -> path
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

START = datetime(2026, 3, 4, 0, 0, 0, tzinfo=UTC)
NAMESPACES = [f"team-{i:02d}" for i in range(40)] + ["kube-system", "monitoring", "ingress-nginx", "default"]
RESOURCES = [
    ("pods", ""),
    ("deployments", "apps"),
    ("replicasets", "apps"),
    ("configmaps", ""),
    ("services", ""),
    ("events", ""),
    ("endpointslices", "discovery.k8s.io"),
    ("ingresses", "networking.k8s.io"),
    ("jobs", "batch"),
    ("horizontalpodautoscalers", "autoscaling"),
    ("leases", "coordination.k8s.io"),
    ("secrets", ""),
    ("serviceaccounts", ""),
    ("persistentvolumeclaims", ""),
    ("nodes", ""),
]
VERBS = ["get", "get", "list", "list", "watch", "update", "patch", "create", "delete"]


def _shuffled(rng: random.Random, d: dict[str, Any]) -> dict[str, Any]:
    keys = list(d)
    rng.shuffle(keys)
    return {k: d[k] for k in keys}


def _user(rng: random.Random) -> tuple[str, list[str]]:
    r = rng.random()
    if r < 0.35:
        ns = rng.choice(NAMESPACES)
        return (
            f"system:serviceaccount:{ns}:{rng.choice(['default', 'app', 'worker', 'operator'])}-{rng.randint(0, 60)}",  # noqa: E501
            ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
        )
    if r < 0.6:
        return (
            f"system:node:ip-10-{rng.randint(0, 3)}-{rng.randint(0, 255)}-{rng.randint(1, 254)}.ec2.internal",
            ["system:nodes", "system:authenticated"],
        )
    if r < 0.9:  # 2,000 people, each with the role of their team
        person = rng.randint(0, 1999)
        return (
            f"arn:aws:sts::210987654321:assumed-role/AWSReservedSSO_Dev_{person % 10}a1b/user{person:04d}@corp.example",  # noqa: E501
            ["system:authenticated", f"team-{person % 40:02d}"],
        )
    return rng.choice(
        [
            "eks:addon-manager",
            "eks:node-manager",
            "eks:k8s-metrics",
            "system:kube-scheduler",
            "system:kube-controller-manager",
        ]
    ), ["system:authenticated"]


def _selector(rng: random.Random) -> str:
    labels = ",".join(
        f"app.kubernetes.io%2F{k}%3D{rng.choice(['api', 'web', 'db', 'cache'])}-{rng.randint(0, 999)}"
        for k in ("name", "instance", "component", "part-of")[: rng.randint(1, 4)]
    )
    token = base64.urlsafe_b64encode(rng.randbytes(rng.randint(40, 240))).decode()
    return f"?labelSelector={labels}&limit=500&continue={token}&fieldSelector=spec.nodeName%3Dip-10-1-{rng.randint(0, 255)}"  # noqa: E501


def _object(rng: random.Random, resource: str, ns: str, name: str) -> dict[str, Any]:
    meta = _shuffled(
        rng,
        {
            "name": name,
            "namespace": ns,
            "labels": {"app": name[:20], "tier": rng.choice(["a", "b"])},
            "annotations": {"deployment.kubernetes.io/revision": str(rng.randint(1, 90))},
        },
    )
    if resource == "configmaps":
        data = {f"key{i}": "x" * rng.randint(10, 120) for i in range(rng.randint(1, 6))}
        return _shuffled(rng, {"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta, "data": data})
    containers = [
        _shuffled(
            rng,
            {
                "name": f"c{i}",
                "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{name[:12]}:{rng.randint(1, 400)}",
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                "env": [{"name": "MODE", "value": "prod"}],
            },
        )
        for i in range(rng.randint(1, 3))
    ]
    spec: dict[str, Any] = {"containers": containers, "serviceAccountName": "app"}
    if resource in ("deployments", "replicasets", "jobs"):
        spec = {
            "replicas": rng.randint(1, 12),
            "template": {"metadata": {"labels": {"app": name[:20]}}, "spec": spec},
        }
    return _shuffled(
        rng,
        {
            "kind": resource.rstrip("s").capitalize(),
            "apiVersion": "v1",
            "metadata": meta,
            "spec": _shuffled(rng, spec),
        },
    )


def _event(rng: random.Random, t: datetime, attack: bool) -> dict[str, Any]:
    user, groups = _user(rng)
    resource, group = rng.choice(RESOURCES)
    verb = rng.choice(VERBS)
    ns = rng.choice(NAMESPACES)
    name = f"{resource[:6]}-{rng.randint(0, 1999)}"  # (objects are reused: a cluster has so many)
    sub = None
    level = "Metadata"
    code = (
        rng.choice([200, 200, 200, 200, 201, 404, 409]) if verb != "get" else rng.choice([200, 200, 200, 404])
    )
    if attack:
        kind = rng.random()
        if kind < 0.4:
            resource, group, verb, sub, code = "pods", "", rng.choice(["create", "get"]), "exec", 101
        elif kind < 0.7:
            resource, group, verb, code = "secrets", "", "list", 200
        else:
            resource, group, verb, code = "secrets", "", "get", 403
    base = f"/apis/{group}/v1" if group else "/api/v1"
    uri = f"{base}/namespaces/{ns}/{resource}" + (
        f"/{name}" if verb not in ("list", "watch", "create") else ""
    )
    if sub:
        uri += f"/{sub}?command=sh&container=c0&stdin=true&tty=true"
    elif verb in ("list", "watch"):
        uri += _selector(rng)
    ref = _shuffled(
        rng, {"resource": resource, "namespace": ns, "name": name, "apiGroup": group, "apiVersion": "v1"}
    )
    if sub:
        ref["subresource"] = sub
    ev: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "auditID": str(uuid.UUID(int=rng.getrandbits(128))),
        "stage": rng.choice(["ResponseComplete"] * 9 + ["ResponseStarted"]) if not sub else "ResponseStarted",
        "requestURI": uri,
        "verb": verb,
        "user": _shuffled(
            rng, {"username": user, "uid": str(uuid.UUID(int=rng.getrandbits(128))), "groups": groups}
        ),
        "sourceIPs": [f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"],
        "userAgent": rng.choice(
            [
                "kubectl/v1.31.1 (darwin/arm64) kubernetes/948afe5",
                "argocd-application-controller/v2.12.3",
                "kubelet/v1.30.4 (linux/amd64) kubernetes/a737599",
                "Go-http-client/2.0",
                "kube-controller-manager/v1.30.4 (linux/amd64) kubernetes/a737599/shared-informers",
            ]
        ),
        "objectRef": ref,
        "responseStatus": _shuffled(rng, {"metadata": {}, "code": code}),
        "requestReceivedTimestamp": t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "stageTimestamp": (t + timedelta(milliseconds=rng.randint(1, 90))).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "annotations": {
            "authorization.k8s.io/decision": "allow" if code < 400 else "forbid",
            "authorization.k8s.io/reason": f'RBAC: allowed by RoleBinding "edit-{rng.randint(0, 99)}/{ns}"',
        },
    }
    if verb in ("create", "update", "patch") and resource in (
        "pods",
        "deployments",
        "replicasets",
        "configmaps",
        "jobs",
    ):
        level = "RequestResponse"
        ev["requestObject"] = _object(rng, resource, ns, name)
        ev["responseObject"] = _object(rng, resource, ns, name)
    ev["level"] = level
    return _shuffled(rng, ev)


def generate(n: int, seed: int = 5, attack_share: float = 0.005) -> Iterator[bytes]:
    rng = random.Random(seed)
    dumps = orjson.dumps
    for i in range(n):
        t = START + timedelta(milliseconds=7 * i)
        yield dumps(_event(rng, t, rng.random() < attack_share))


def write(path: Path, n: int, seed: int = 5) -> Path:
    with open(path, "wb") as out:
        buf: list[bytes] = []
        for line in generate(n, seed):
            buf.append(line)
            if len(buf) >= 10_000:
                out.write(b"\n".join(buf) + b"\n")
                buf.clear()
        if buf:
            out.write(b"\n".join(buf) + b"\n")
    return path
