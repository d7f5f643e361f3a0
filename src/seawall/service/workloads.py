"""The workload a finding concerns, as one key: what incidents group by.

    k8s:Pod frontend-6f7d9c8b4-x2kqz in shop   -> k8s/shop/Deployment/frontend   (ReplicaSet pod names)
    k8s:Deployment frontend in shop            -> k8s/shop/Deployment/frontend
    k8s:Secret * in data                       -> k8s/data                       (the namespace)
    ecs:service frontend in cluster prod       -> ecs/prod/frontend
    container 9c4d3b2a1f0e...                  -> container/9c4d3b2a1f0e
    Deployment frontend in shop (posture)      -> k8s/shop/Deployment/frontend   (manifest kinds)
    AWS::ECS::Service api in cluster prod      -> ecs/prod/api
    anything else                              -> TYPE/NAMESPACE/NAME

A pod whose name ends in a ReplicaSet's pod-template hash and a 5-character suffix is taken to
belong to the Deployment of the name before them (how Kubernetes names them); an inventory that
knows better is a later refinement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from seawall.core import Resource

_REPLICASET_POD = re.compile(
    r"^(?P<deploy>[a-z0-9][a-z0-9-]*?)-[bcdfghjklmnpqrstvwxz2456789]{6,10}"
    r"-[bcdfghjklmnpqrstvwxz2456789]{5}$"
)


@dataclass(frozen=True, slots=True)
class WorkloadRef:
    key: str
    type: str
    namespace: str | None
    name: str


# Kubernetes kinds as posture findings name them (the manifest's `kind`, no "k8s:" prefix)
K8S_KINDS = frozenset(
    {
        *("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"),
        *("Job", "CronJob", "Service", "Namespace", "ServiceAccount", "Role", "ClusterRole"),
        *("RoleBinding", "ClusterRoleBinding", "ConfigMap", "Secret", "Ingress", "NetworkPolicy"),
        "PersistentVolumeClaim",
    }
)


def workload_of(resource: Resource) -> WorkloadRef:
    rtype, ns, name = resource.type, resource.namespace, resource.name
    if rtype in K8S_KINDS:  # a posture finding: the same key as the detections of that workload
        rtype = "k8s:" + rtype
    if rtype == "k8s:Namespace" and not ns:
        return WorkloadRef(f"k8s/{name}", "k8s:Namespace", name, name)
    if rtype == "AWS::ECS::Service":
        return WorkloadRef(f"ecs/{ns or '-'}/{name}", "ecs:service", ns, name)
    if rtype.startswith("k8s:"):
        kind = rtype[4:]
        if kind in ("Pod", "pods"):
            m = _REPLICASET_POD.match(name)
            if m:
                kind, name = "Deployment", m.group("deploy")
        if name in ("*", "") or kind in ("cluster", "object"):
            key = f"k8s/{ns}" if ns else "k8s/cluster"
            return WorkloadRef(key, "k8s:Namespace" if ns else "k8s:cluster", ns, ns or "cluster")
        return WorkloadRef(f"k8s/{ns or '-'}/{kind}/{name}", f"k8s:{kind}", ns, name)
    if rtype.startswith("ecs:"):
        return WorkloadRef(f"ecs/{ns or '-'}/{name}", rtype, ns, name)
    if rtype == "container":
        if resource.workload:
            return WorkloadRef(resource.workload, rtype, ns, name)
        return WorkloadRef(f"container/{name[:12]}", rtype, ns, name)
    return WorkloadRef(f"{rtype}/{ns or '-'}/{name}", rtype, ns, name)
