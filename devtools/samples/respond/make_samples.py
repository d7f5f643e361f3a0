"""Regenerate devtools/samples/respond/ (deterministic): the demo cluster as
`kubectl get pods,services,networkpolicies,replicasets,deployments,daemonsets,statefulsets,namespaces
-A -o json` would print it. The compromised workload of the demo (see devtools/samples/logs:
Log4Shell, SQL injection and path traversal in its access log) is pod
shop/frontend-6f7d9c8b4-x2kqz. Run: .venv/bin/python -m devtools.samples.respond.make_samples"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent
T0 = "2026-03-02T08:00:00Z"


def uid(*parts: str) -> str:
    h = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def meta(
    kind: str,
    ns: str | None,
    name: str,
    labels: dict[str, str] | None = None,
    owner: tuple[str, str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    m: dict[str, Any] = {
        "name": name,
        "uid": uid(kind, ns or "", name),
        "resourceVersion": str(1000 + len(name)),
        "creationTimestamp": T0,
    }
    if ns:
        m["namespace"] = ns
    if labels:
        m["labels"] = labels
    if owner:
        okind, oapi, oname = owner
        m["ownerReferences"] = [
            {
                "apiVersion": oapi,
                "kind": okind,
                "name": oname,
                "uid": uid(okind, ns or "", oname),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    m.update(extra)
    return m


def namespace(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta("Namespace", None, name, {"kubernetes.io/metadata.name": name, **(labels or {})}),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def container(name: str, image: str, ports: list[tuple[str, int, str]]) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": n, "containerPort": p, "protocol": proto} for n, p, proto in ports],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def pod(
    ns: str,
    name: str,
    labels: dict[str, str],
    ip: str,
    node: str,
    containers: list[dict[str, Any]],
    owner: tuple[str, str, str] | None,
    ready: bool = True,
    host_network: bool = False,
) -> dict[str, Any]:
    status_containers = [
        {
            "name": c["name"],
            "image": c["image"],
            "imageID": "",
            "ready": ready,
            "restartCount": 0,
            "started": True,
            "containerID": "containerd://" + hashlib.sha256((ns + name + c["name"]).encode()).hexdigest(),
            "state": {"running": {"startedAt": T0}},
        }
        for c in containers
    ]
    spec: dict[str, Any] = {
        "containers": containers,
        "nodeName": node,
        "restartPolicy": "Always",
        "serviceAccountName": "default",
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
    }
    if host_network:
        spec["hostNetwork"] = True
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta("Pod", ns, name, labels, owner),
        "spec": spec,
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": NODES[node],
            "startTime": T0,
            "qosClass": "Burstable",
            "conditions": [
                {
                    "type": t,
                    "status": "True" if (ready or t == "PodScheduled") else "False",
                    "lastTransitionTime": T0,
                }
                for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "containerStatuses": status_containers,
        },
    }


NODES = {
    "ip-10-0-1-10.eu-west-1.compute.internal": "10.0.1.10",
    "ip-10-0-2-10.eu-west-1.compute.internal": "10.0.2.10",
    "ip-10-0-3-10.eu-west-1.compute.internal": "10.0.3.10",
}
N1, N2, N3 = NODES


def deployment(
    ns: str,
    name: str,
    labels: dict[str, str],
    replicas: int,
    ready: int,
    template: dict[str, Any],
    hash_: str,
) -> list[dict[str, Any]]:
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta("Deployment", ns, name, labels),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": template},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "updatedReplicas": replicas,
            "observedGeneration": 1,
        },
    }
    rs_labels = {**labels, "pod-template-hash": hash_}
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta("ReplicaSet", ns, f"{name}-{hash_}", rs_labels, ("Deployment", "apps/v1", name)),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": rs_labels},
            "template": {"metadata": {"labels": rs_labels}, "spec": template},
        },
        "status": {
            "replicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "fullyLabeledReplicas": replicas,
            "observedGeneration": 1,
        },
    }
    return [dep, rs]


def service(
    ns: str, name: str, selector: dict[str, str], ports: list[tuple[str, int, int]], ip: str
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("Service", ns, name, {"app": name}),
        "spec": {
            "type": "ClusterIP",
            "clusterIP": ip,
            "clusterIPs": [ip],
            "selector": selector,
            "ports": [{"name": n, "port": p, "targetPort": t, "protocol": "TCP"} for n, p, t in ports],
            "sessionAffinity": "None",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
        },
        "status": {"loadBalancer": {}},
    }


def netpol(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta("NetworkPolicy", ns, name),
        "spec": spec,
    }


def daemonset(ns: str, name: str, labels: dict[str, str], image: str) -> dict[str, Any]:
    template = {
        "containers": [container(name, image, [])],
        "hostNetwork": True,
        "priorityClassName": "system-node-critical",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": meta("DaemonSet", ns, name, labels),
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": template},
            "updateStrategy": {"type": "RollingUpdate"},
        },
        "status": {
            "currentNumberScheduled": 3,
            "desiredNumberScheduled": 3,
            "numberMisscheduled": 0,
            "numberReady": 3,
            "numberAvailable": 3,
            "updatedNumberScheduled": 3,
            "observedGeneration": 1,
        },
    }


def cluster() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = [
        namespace("default"),
        namespace("kube-system"),
        namespace("shop", {"team": "shop"}),
        namespace("monitoring", {"team": "platform"}),
    ]
    # shop/frontend: nginx in front of a Java app (the one hit by Log4Shell in the demo's logs)
    fe_labels = {"app": "frontend", "tier": "web"}
    fe_tmpl = {
        "containers": [
            container(
                "nginx",
                "111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/frontend:v44",
                [("http", 8080, "TCP"), ("metrics", 9113, "TCP")],
            )
        ]
    }
    items += deployment("shop", "frontend", fe_labels, 3, 3, fe_tmpl, "6f7d9c8b4")
    rs = ("ReplicaSet", "apps/v1", "frontend-6f7d9c8b4")
    fe_pod_labels = {**fe_labels, "pod-template-hash": "6f7d9c8b4"}
    items.append(
        pod("shop", "frontend-6f7d9c8b4-x2kqz", fe_pod_labels, "10.0.1.21", N1, fe_tmpl["containers"], rs)
    )
    items.append(
        pod("shop", "frontend-6f7d9c8b4-7hw2p", fe_pod_labels, "10.0.2.22", N2, fe_tmpl["containers"], rs)
    )
    items.append(
        pod("shop", "frontend-6f7d9c8b4-q9m4d", fe_pod_labels, "10.0.3.23", N3, fe_tmpl["containers"], rs)
    )
    items.append(service("shop", "frontend", fe_labels, [("http", 80, 8080)], "172.20.14.7"))
    # shop/api and shop/db
    api_labels = {"app": "api", "tier": "backend"}
    api_tmpl = {
        "containers": [
            container(
                "api", "111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/api:v19", [("http", 9000, "TCP")]
            )
        ]
    }
    items += deployment("shop", "api", api_labels, 2, 2, api_tmpl, "5c4b8d7f6")
    api_rs = ("ReplicaSet", "apps/v1", "api-5c4b8d7f6")
    for name, ip, node in (
        ("api-5c4b8d7f6-k2l9s", "10.0.1.31", N1),
        ("api-5c4b8d7f6-p8r3t", "10.0.2.32", N2),
    ):
        items.append(
            pod(
                "shop",
                name,
                {**api_labels, "pod-template-hash": "5c4b8d7f6"},
                ip,
                node,
                api_tmpl["containers"],
                api_rs,
            )
        )
    items.append(service("shop", "api", api_labels, [("http", 9000, 9000)], "172.20.31.9"))
    db_labels = {"app": "db"}
    db_tmpl = {"containers": [container("postgres", "postgres:16.2", [("pg", 5432, "TCP")])]}
    items.append(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta("StatefulSet", "shop", "db", db_labels),
            "spec": {
                "replicas": 1,
                "serviceName": "db",
                "selector": {"matchLabels": db_labels},
                "template": {"metadata": {"labels": db_labels}, "spec": db_tmpl},
            },
            "status": {"replicas": 1, "readyReplicas": 1, "currentReplicas": 1, "availableReplicas": 1},
        }
    )
    items.append(
        pod(
            "shop",
            "db-0",
            {**db_labels, "statefulset.kubernetes.io/pod-name": "db-0"},
            "10.0.3.41",
            N3,
            db_tmpl["containers"],
            ("StatefulSet", "apps/v1", "db"),
        )
    )
    items.append(service("shop", "db", db_labels, [("pg", 5432, 5432)], "172.20.41.3"))
    # the namespace's policies: a default deny, then the usual allowances -- one of them the
    # namespace-wide allow that no deny-all can take away
    items.append(netpol("shop", "default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    items.append(
        netpol(
            "shop",
            "allow-same-namespace",
            {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"podSelector": {}}]}]},
        )
    )
    items.append(
        netpol(
            "shop",
            "frontend-from-internet",
            {
                "podSelector": {"matchLabels": {"app": "frontend"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}],
                        "ports": [{"port": "http", "protocol": "TCP"}],
                    }
                ],
            },
        )
    )
    items.append(
        netpol(
            "shop",
            "frontend-to-api",
            {
                "podSelector": {"matchLabels": {"app": "frontend"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": 9000}]}
                ],
            },
        )
    )
    items.append(
        netpol(
            "shop",
            "api-to-db",
            {
                "podSelector": {"matchLabels": {"app": "api"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [{"podSelector": {"matchLabels": {"app": "db"}}}], "ports": [{"port": 5432}]}
                ],
            },
        )
    )
    items.append(
        netpol(
            "shop",
            "allow-dns",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                },
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                    }
                ],
            },
        )
    )
    items.append(
        netpol(
            "shop",
            "allow-prometheus",
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                                },
                                "podSelector": {"matchLabels": {"app": "prometheus"}},
                            }
                        ],
                        "ports": [{"port": 9113, "endPort": 9115}],
                    }
                ],
            },
        )
    )
    # kube-system: CoreDNS, the VPC CNI and kube-proxy (no policy engine with precedence)
    dns_labels = {"k8s-app": "kube-dns"}
    dns_tmpl = {
        "containers": [
            container("coredns", "coredns/coredns:1.11.1", [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")])
        ]
    }
    items += deployment("kube-system", "coredns", dns_labels, 2, 2, dns_tmpl, "7d9f8c6b5")
    for name, ip, node in (
        ("coredns-7d9f8c6b5-m4xq2", "10.0.1.61", N1),
        ("coredns-7d9f8c6b5-z8w1c", "10.0.2.61", N2),
    ):
        items.append(
            pod(
                "kube-system",
                name,
                {**dns_labels, "pod-template-hash": "7d9f8c6b5"},
                ip,
                node,
                dns_tmpl["containers"],
                ("ReplicaSet", "apps/v1", "coredns-7d9f8c6b5"),
            )
        )
    items.append(
        daemonset(
            "kube-system",
            "aws-node",
            {"k8s-app": "aws-node"},
            "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.18.2",
        )
    )
    items.append(
        daemonset(
            "kube-system",
            "kube-proxy",
            {"k8s-app": "kube-proxy"},
            "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy:v1.30.0",
        )
    )
    for i, node in enumerate(NODES):
        items.append(
            pod(
                "kube-system",
                f"aws-node-{'abc'[i]}9x{i}k",
                {"k8s-app": "aws-node"},
                NODES[node],
                node,
                [
                    container(
                        "aws-node", "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon-k8s-cni:v1.18.2", []
                    )
                ],
                ("DaemonSet", "apps/v1", "aws-node"),
                host_network=True,
            )
        )
    # monitoring: Prometheus scrapes the shop's metrics ports
    prom_labels = {"app": "prometheus"}
    prom_tmpl = {"containers": [container("prometheus", "prom/prometheus:v2.51.0", [("web", 9090, "TCP")])]}
    items.append(
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta("StatefulSet", "monitoring", "prometheus", prom_labels),
            "spec": {
                "replicas": 1,
                "serviceName": "prometheus",
                "selector": {"matchLabels": prom_labels},
                "template": {"metadata": {"labels": prom_labels}, "spec": prom_tmpl},
            },
            "status": {"replicas": 1, "readyReplicas": 1, "currentReplicas": 1, "availableReplicas": 1},
        }
    )
    items.append(
        pod(
            "monitoring",
            "prometheus-0",
            prom_labels,
            "10.0.2.71",
            N2,
            prom_tmpl["containers"],
            ("StatefulSet", "apps/v1", "prometheus"),
        )
    )
    return items


def main() -> None:
    doc = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": cluster()}
    (OUT / "k8s-shop.json").write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
