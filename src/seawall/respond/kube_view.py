"""What a Kubernetes plan is computed from: pods, Services, NetworkPolicies, controllers,
namespaces and the CNI's policy CRDs -- read from `kubectl get ... -A -o json` dumps (offline) or
from the API server (official `kubernetes` client, kubeconfig or in-cluster).

    view = KubeView.from_files([Path("cluster.json")])
    view = KubeView.from_api(api_client, namespace="shop")
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from seawall.bounded import read_file_capped
from seawall.core.errors import InputError, SeawallError

DUMP_CAP = 512 << 20
MAX_OBJECTS = 200_000
KINDS = {
    "Pod": "pods",
    "Service": "services",
    "NetworkPolicy": "netpols",
    "ReplicaSet": "replicasets",
    "Deployment": "deployments",
    "DaemonSet": "daemonsets",
    "StatefulSet": "statefulsets",
    "Namespace": "namespaces",
    "Node": "nodes",
    "Job": "jobs",
}
# policy engines with precedence, recognised from their CRDs or their agents' DaemonSets
CNI_GROUPS = {
    "cilium.io": "cilium",
    "crd.projectcalico.org": "calico",
    "projectcalico.org": "calico",
    "policy.networking.k8s.io": "anp",
}
CNI_DAEMONSETS = {
    "cilium": "cilium",
    "calico-node": "calico",
    "aws-node": "aws-vpc-cni",
    "kube-router": "kube-router",
    "antrea-agent": "antrea",
    "weave-net": "weave",
}


# what a plan says about the policy engines that enforce NetworkPolicy without precedence
CNI_NOTES = {
    "aws-vpc-cni": "the AWS VPC CNI enforces NetworkPolicy only with its network policy agent enabled "
    "(enableNetworkPolicy / ENABLE_NETWORK_POLICY on aws-node)",
    "weave": "Weave Net enforces NetworkPolicy through weave-npc",
}


def _labels_ok(value: Any) -> bool:
    return value is None or (
        isinstance(value, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    )


def _dicts(value: Any) -> bool:
    return value is None or (isinstance(value, list) and all(isinstance(v, Mapping) for v in value))


def _selector_ok(value: Any) -> bool:
    from seawall.respond.netpol import PolicyError, Selector

    if value is None:
        return True
    if not isinstance(value, Mapping) or not _labels_ok(value.get("matchLabels")):
        return False
    try:
        Selector.parse(value, "selector")
    except (PolicyError, TypeError, AttributeError):
        return False
    return True


def _containers_ok(spec: Mapping[str, Any]) -> bool:
    for key in ("containers", "initContainers"):
        if not _dicts(spec.get(key)):
            return False
        for c in spec.get(key) or []:
            if not isinstance(c.get("name", ""), str) or not _dicts(c.get("ports")):
                return False
            for port in c.get("ports") or []:
                if (
                    not isinstance(port.get("containerPort"), int)
                    or not isinstance(port.get("name", ""), str | None)
                    or not isinstance(port.get("protocol", "TCP"), str | None)
                ):
                    return False
    return True


def shape_problem(kind: str, obj: Mapping[str, Any]) -> str | None:
    """What makes an object unusable for planning (types the API would never return), or None.
    Checked once on input, so that the planner can rely on the shapes it reads."""
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping):
        return "metadata is not an object"
    if not isinstance(meta.get("name"), str) or not isinstance(meta.get("namespace", ""), str | None):
        return "metadata.name/namespace are not strings"
    if not _labels_ok(meta.get("labels")) or not _labels_ok(meta.get("annotations")):
        return "labels or annotations are not string maps"
    if not _dicts(meta.get("ownerReferences")) or not all(
        isinstance(r.get("kind", ""), str) and isinstance(r.get("name", ""), str)
        for r in meta.get("ownerReferences") or []
    ):
        return "ownerReferences are malformed"
    spec = obj.get("spec", {})
    status = obj.get("status", {})
    if not isinstance(spec, Mapping | None) or not isinstance(status, Mapping | None):
        return "spec or status is not an object"
    spec, status = spec or {}, status or {}
    if kind == "Pod":
        if not _containers_ok(spec) or not isinstance(spec.get("nodeName", ""), str | None):
            return "spec.containers are malformed"
        if not isinstance(status.get("podIP", ""), str | None) or not isinstance(
            status.get("phase", ""), str | None
        ):
            return "status.podIP/phase are not strings"
        if not _dicts(status.get("conditions")) or not _dicts(status.get("containerStatuses")):
            return "status.conditions are malformed"
    elif kind == "Service":
        if not _labels_ok(spec.get("selector")):
            return "spec.selector is not a string map"
    elif kind in ("ReplicaSet", "Deployment", "DaemonSet", "StatefulSet", "Job"):
        template = spec.get("template", {})
        if not _selector_ok(spec.get("selector")) or not isinstance(template, Mapping | None):
            return "spec.selector or spec.template is malformed"
        tmeta = (template or {}).get("metadata", {})
        if not isinstance(tmeta, Mapping | None) or not _labels_ok((tmeta or {}).get("labels")):
            return "spec.template.metadata.labels is not a string map"
        if not isinstance(spec.get("replicas", 0), int | None):
            return "spec.replicas is not a number"
    elif kind == "NetworkPolicy" and not isinstance(obj.get("spec"), Mapping):
        return "spec is not an object"
    return None


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


@dataclass(slots=True)
class KubeView:
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    services: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    netpols: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    replicasets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    daemonsets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    statefulsets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    namespaces: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    nodes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    jobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    api_groups: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)  # inputs that could not be read at all
    source: str = "live"

    def add(self, obj: Any, where: str) -> None:
        if not isinstance(obj, Mapping):
            self.warnings.append(f"{where}: an item that is not an object was skipped")
            return
        kind = obj.get("kind")
        if kind == "CustomResourceDefinition":
            group = ((obj.get("spec") or {}).get("group")) or ""
            if group:
                self.api_groups.add(str(group))
            return
        if kind in (
            "CiliumNetworkPolicy",
            "CiliumClusterwideNetworkPolicy",
            "GlobalNetworkPolicy",
            "AdminNetworkPolicy",
            "BaselineAdminNetworkPolicy",
        ):
            api = str(obj.get("apiVersion") or "").split("/")[0]
            if api:
                self.api_groups.add(api)
            return
        table = KINDS.get(str(kind))
        if table is None:
            return
        problem = shape_problem(str(kind), obj)
        if problem is not None:
            meta = obj.get("metadata")
            name = meta.get("name") if isinstance(meta, Mapping) else None
            self.warnings.append(
                f"{where}: {kind} {name if isinstance(name, str) else '?'} skipped: {problem}"
            )
            return
        ns, name = _key(obj)
        if not name:
            self.warnings.append(f"{where}: a {kind} without metadata.name was skipped")
            return
        if kind not in ("Namespace", "Node") and not ns:
            ns = "default"
            obj = {**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": ns}}
        getattr(self, table)[(ns, name)] = dict(obj)

    def add_all(self, items: Iterable[Any], where: str) -> None:
        for count, item in enumerate(items, 1):
            if count > MAX_OBJECTS:
                raise InputError(f"{where}: more than {MAX_OBJECTS} objects")
            if isinstance(item, Mapping) and item.get("kind") == "List":
                self.add_all(item.get("items") or [], where)
            else:
                self.add(item, where)

    @classmethod
    def from_files(cls, paths: Sequence[Path]) -> KubeView:
        view = cls(source=", ".join(str(p) for p in paths))
        for path in paths:
            data = read_file_capped(path, DUMP_CAP)
            try:
                doc = orjson.loads(data)
                docs: list[Any] = [doc]
            except orjson.JSONDecodeError:
                try:
                    docs = [
                        d
                        for d in yaml.load_all(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
                        if d is not None
                    ]
                except yaml.YAMLError:
                    view.damaged.append(
                        f"{path}: neither JSON nor YAML (expected `kubectl get ... -o json`); skipped"
                    )
                    continue
            before = view.count()
            view.add_all(docs, str(path))
            if view.count() == before:
                view.warnings.append(
                    f"{path}: no Kubernetes objects found (expected `kubectl get pods,services,"
                    "networkpolicies,... -A -o json`)"
                )
        return view

    def count(self) -> int:
        return sum(len(getattr(self, t)) for t in set(KINDS.values()))

    # -- lookups ------------------------------------------------------------------------------

    def pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.pods.get((namespace, name))

    def owner(self, obj: Mapping[str, Any]) -> tuple[str, str] | None:
        for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
            if isinstance(ref, Mapping) and ref.get("controller"):
                return (str(ref.get("kind")), str(ref.get("name")))
        return None

    def cni(self) -> list[str]:
        """Policy engines seen: from CRD groups (live discovery or dumped CRDs) and agent DaemonSets."""
        found = {CNI_GROUPS[g] for g in self.api_groups if g in CNI_GROUPS}
        for _, name in self.daemonsets:
            for prefix, cni in CNI_DAEMONSETS.items():
                if name == prefix or name.startswith(prefix + "-"):
                    found.add(cni)
        return sorted(found)

    # -- live -----------------------------------------------------------------------------------

    @classmethod
    def from_api(cls, api_client: Any, namespace: str) -> KubeView:
        """Read what a plan for a workload in `namespace` needs from the API server."""
        from kubernetes import client

        from seawall.respond.kube_client import call

        core = client.CoreV1Api(api_client)
        apps = client.AppsV1Api(api_client)
        net = client.NetworkingV1Api(api_client)
        sanitize = api_client.sanitize_for_serialization
        view = cls(source="live")

        def listed(kind: str, result: Any) -> list[dict[str, Any]]:
            raw = sanitize(result)
            items = raw.get("items") or []
            for item in items:
                item.setdefault("kind", kind)
            return list(items)

        view.add_all(listed("Namespace", call("list namespaces", core.list_namespace, limit=5000)), "api")
        view.add_all(listed("Pod", call("list pods", core.list_pod_for_all_namespaces, limit=20000)), "api")
        view.add_all(
            listed("Service", call(f"list services in {namespace}", core.list_namespaced_service, namespace)),
            "api",
        )
        view.add_all(
            listed(
                "NetworkPolicy",
                call(f"list networkpolicies in {namespace}", net.list_namespaced_network_policy, namespace),
            ),
            "api",
        )
        view.add_all(
            listed(
                "ReplicaSet",
                call(f"list replicasets in {namespace}", apps.list_namespaced_replica_set, namespace),
            ),
            "api",
        )
        view.add_all(
            listed(
                "Deployment",
                call(f"list deployments in {namespace}", apps.list_namespaced_deployment, namespace),
            ),
            "api",
        )
        view.add_all(
            listed(
                "StatefulSet",
                call(f"list statefulsets in {namespace}", apps.list_namespaced_stateful_set, namespace),
            ),
            "api",
        )
        view.add_all(
            listed("DaemonSet", call("list daemonsets", apps.list_daemon_set_for_all_namespaces, limit=5000)),
            "api",
        )
        try:
            groups = sanitize(call("discover API groups", client.ApisApi(api_client).get_api_versions))
            view.api_groups = {str(g.get("name")) for g in groups.get("groups") or []}
        except SeawallError as err:
            view.warnings.append(
                f"API discovery failed ({err.message}): policy engines with precedence "
                "(Cilium, Calico, AdminNetworkPolicy) not detected"
            )
        return view
