"""`seawall respond plan` (offline, from a kubectl dump) on large clusters, as a ratio against a floor
measured in the same run: reading and parsing the dump (orjson) -- what any tool that plans from
the dump must do. Two shapes: many pods and few policies, and many policies on few pods.

    .venv/bin/python -m benchmarks.respond [--pods N] [--policies M]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from seawall import respond
from seawall.respond import scope

SUSPECT = "k8s:app-0/pod/web-0-0"


def _pod(ns: str, name: str, labels: dict[str, str], ip: str, owner: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": owner,
                    "uid": f"uid-{ns}-{owner}",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "nodeName": f"node-{hash(name) % 50}",
            "containers": [
                {
                    "name": "app",
                    "image": "app:1",
                    "ports": [
                        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": 9100, "protocol": "TCP"},
                    ],
                }
            ],
        },
        "status": {"phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]},
    }


def make_dump(path: Path, namespaces: int, pods_per_ns: int, policies_per_ns: int) -> int:
    items: list[dict[str, Any]] = []
    for n in range(namespaces):
        ns = f"app-{n}"
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"team": f"t{n % 7}"}},
            }
        )
        for d in range(max(1, pods_per_ns // 10)):
            owner = f"web-{d}-rs"
            sel = {"app": f"web-{d}", "tier": "web" if d % 2 else "api"}
            items.append(
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {"name": owner, "namespace": ns},
                    "spec": {"selector": {"matchLabels": sel}},
                }
            )
            items.append(
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": f"web-{d}", "namespace": ns},
                    "spec": {"selector": {"app": f"web-{d}"}},
                }
            )
            for r in range(10):
                i = len(items)
                items.append(
                    _pod(ns, f"web-{d}-{r}", sel, f"10.{n % 250}.{(i // 250) % 250}.{i % 250}", owner)
                )
        items.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny", "namespace": ns},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            }
        )
        for p in range(policies_per_ns):
            items.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": f"allow-{p}", "namespace": ns},
                    "spec": {
                        "podSelector": {"matchLabels": {"tier": "web"}} if p % 3 else {},
                        "ingress": [
                            {
                                "from": [
                                    {
                                        "namespaceSelector": {"matchLabels": {"team": f"t{p % 7}"}},
                                        "podSelector": {"matchLabels": {"app": f"web-{p % 5}"}},
                                    },
                                    {"ipBlock": {"cidr": "10.0.0.0/8", "except": [f"10.{p % 250}.0.0/16"]}},
                                ],
                                "ports": [{"port": "http"}, {"port": 9100 + p % 3, "endPort": 9110}],
                            }
                        ],
                        "egress": [
                            {
                                "to": [{"podSelector": {"matchLabels": {"app": f"web-{(p + 1) % 5}"}}}],
                                "ports": [{"port": 8080}],
                            }
                        ],
                    },
                }
            )
    path.write_bytes(orjson.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    return sum(1 for i in items if i["kind"] == "Pod")


def run(namespaces: int, pods_per_ns: int, policies_per_ns: int, label: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "cluster.json"
        pods = make_dump(dump, namespaces, pods_per_ns, policies_per_ns)
        size = dump.stat().st_size
        start = time.process_time()
        for _ in range(3):
            orjson.loads(dump.read_bytes())
        floor = (time.process_time() - start) / 3
        options = respond.Options(sources=[dump], scope=scope.Scope.from_config(None, "bench"))
        start = time.process_time()
        plan = respond.plan(SUSPECT, options)
        took = time.process_time() - start
        print(
            f"{label}: {pods:,} pods, {namespaces * (policies_per_ns + 1):,} policies, {size / 1e6:.1f} MB "
            "dump -> "
            f"plan {took:.2f} s CPU ({len(plan.residual)} residual rules, {len(plan.reachable)} reachable "
            "peers); "
            f"floor (orjson parse) {floor:.3f} s; ratio {took / floor:.1f}"
        )
        return took / floor


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    s = args.scale
    run(40 * s, 250, 5, "many pods")
    run(5 * s, 40, 400, "many policies")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
