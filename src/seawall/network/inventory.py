"""Workload inventory: which workload owns an IP (or IP:port), from the dumps users already have.

Understood inputs (JSON, auto-detected, several files merge):
- `kubectl get pods,services,nodes,endpoints -o json` (a v1 List, or single objects): pods -> their
  controller (Deployment from the ReplicaSet, StatefulSet, DaemonSet, CronJob from the Job),
  services' cluster/external IPs -> the one workload they select, nodes' addresses -> the node,
  the `kubernetes` endpoints -> the API server (`KubeAPIServer`);
- `aws ecs describe-tasks` output: ENI private IPs -> task, service (group `service:NAME`), cluster;
- `docker inspect` output: container IPs (and published host IP:port) -> compose service/container.

Workloads are keys `TYPE:NAMESPACE/NAME` (namespace may be empty); see `split_key`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from seawall.core.errors import InputError
from seawall.network.sources._io import read_bounded

IMDS_ADDRS = {"169.254.169.254", "fd00:ec2::254"}
# internal = where workloads live: RFC 1918, CGNAT (EKS custom networking), loopback, link-local,
# IPv6 ULA / link-local. Documentation ranges (TEST-NET) are *not* internal: they stand for the internet.
INTERNAL_NETS = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    )
]


def make_key(kind: str, ns: str | None, name: str) -> str:
    return f"{kind}:{ns or ''}/{name}"


def split_key(key: str) -> tuple[str, str | None, str]:
    """`TYPE:NS/NAME` -> (type, namespace or None, name)."""
    kind, _, rest = key.partition(":")
    ns, _, name = rest.partition("/")
    return kind, (ns or None), name


def classify(
    addr: str, known: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = ()
) -> tuple[str, bool]:
    """Fallback key for an address nobody claimed, and whether it is internal (the private
    ranges, and the organisation's own `known` ranges)."""
    if addr in IMDS_ADDRS:
        return make_key("InstanceMetadata", None, addr), True
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return make_key("IPAddress", None, addr), True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in net for net in (*INTERNAL_NETS, *known) if net.version == ip.version):
        return make_key("IPAddress", None, addr), True
    return make_key("External", None, addr), False


@dataclass
class Inventory:
    by_ip: dict[str, tuple[str, str]] = field(default_factory=dict)  # ip -> (key, instance)
    by_ip_port: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)
    exposed: dict[str, set[int]] = field(default_factory=dict)  # key -> ports served
    sources: list[str] = field(default_factory=list)

    def expose(self, key: str, port: Any) -> None:
        if isinstance(port, int) and 0 < port < 65536:
            self.exposed.setdefault(key, set()).add(port)

    def ip_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "addr": list(self.by_ip),
                "key": [v[0] for v in self.by_ip.values()],
                "inst": [v[1] for v in self.by_ip.values()],
            },
            schema={"addr": pl.String, "key": pl.String, "inst": pl.String},
        )

    def port_frame(self) -> pl.DataFrame:
        items = list(self.by_ip_port.items())
        return pl.DataFrame(
            {
                "addr": [k[0] for k, _ in items],
                "port": [k[1] for k, _ in items],
                "key": [v[0] for _, v in items],
                "inst": [v[1] for _, v in items],
            },
            schema={"addr": pl.String, "port": pl.Int32, "key": pl.String, "inst": pl.String},
        )

    # -- loading ----------------------------------------------------------------------------
    @classmethod
    def load(cls, paths: list[Path], max_bytes: int = 1 << 30) -> Inventory:
        inv = cls()
        for path in paths:
            if not Path(path).is_file():
                raise InputError(f"no such inventory file: {path}")
            try:
                doc = orjson.loads(read_bounded(Path(path), max_bytes))
            except orjson.JSONDecodeError as exc:
                raise InputError(f"{path}: inventory is not JSON ({exc})") from exc
            before = len(inv.by_ip) + len(inv.by_ip_port)
            inv._add_document(doc, str(path))
            if len(inv.by_ip) + len(inv.by_ip_port) == before:
                raise InputError(
                    f"{path}: no workload addresses found (expected kubectl get -o json, "
                    "aws ecs describe-tasks or docker inspect output)"
                )
            inv.sources.append(str(path))
        return inv

    def _add_document(self, doc: Any, origin: str) -> None:
        if isinstance(doc, dict) and isinstance(doc.get("tasks"), list):
            for task in doc["tasks"]:
                if isinstance(task, dict):
                    self._add_ecs_task(task)
            return
        items: list[Any]
        if isinstance(doc, dict) and isinstance(doc.get("items"), list):
            items = doc["items"]
        elif isinstance(doc, list):
            items = doc
        else:
            items = [doc]
        k8s = [i for i in items if isinstance(i, dict)
               and i.get("kind") in ("Pod", "Service", "Node", "Endpoints")]
        if k8s:
            self._add_kubernetes(k8s)
        for item in items:
            if isinstance(item, dict) and "NetworkSettings" in item:
                self._add_docker(item)
            elif isinstance(item, dict) and "taskArn" in item:
                self._add_ecs_task(item)

    def _add_kubernetes(self, items: list[dict[str, Any]]) -> None:
        pods: list[tuple[str, dict[str, str], str]] = []  # (ns, labels, key)
        for item in items:
            meta = _dict(item.get("metadata"))
            # `kubectl get endpoints kubernetes`: the API server's addresses (on EKS, the control
            # plane's ENIs in the cluster's subnets)
            if item.get("kind") == "Endpoints" and meta.get("name") == "kubernetes" \
                    and (meta.get("namespace") or "default") == "default":
                key = make_key("KubeAPIServer", None, "kube-apiserver")
                for subset in _list(item.get("subsets")):
                    for address in _list(_dict(subset).get("addresses")):
                        ip = _dict(address).get("ip")
                        if ip:
                            self.by_ip.setdefault(str(ip), (key, str(ip)))
        for item in items:
            if item.get("kind") != "Pod":
                continue
            meta = _dict(item.get("metadata"))
            spec, status = _dict(item.get("spec")), _dict(item.get("status"))
            ns = str(meta.get("namespace") or "default")
            name = str(meta.get("name") or "")
            labels = {str(k): str(v) for k, v in _dict(meta.get("labels")).items()}
            key = make_key(*_pod_workload(meta, labels, ns, name))
            pods.append((ns, labels, key))
            host_ip = str(status.get("hostIP") or "")
            for container in _list(spec.get("containers")):
                for port in _list(_dict(container).get("ports")):
                    p = _dict(port)
                    self.expose(key, p.get("containerPort"))
                    # hostPort, or any port of a host-network pod: node IP:port -> this workload
                    bound = p.get("hostPort") or (p.get("containerPort") if spec.get("hostNetwork") else None)
                    if host_ip and isinstance(bound, int):
                        self.by_ip_port[(host_ip, bound)] = (key, name)
            if spec.get("hostNetwork"):
                continue  # shares the node's address: other flows of that address belong to the node
            ips = [str(_dict(p).get("ip")) for p in _list(status.get("podIPs")) if _dict(p).get("ip")]
            if status.get("podIP"):
                ips.append(str(status["podIP"]))
            for ip in ips:
                self.by_ip[ip] = (key, name)
        node_ips = [
            str(_dict(a).get("address"))
            for item in items
            if item.get("kind") == "Node"
            for a in _list(_dict(item.get("status")).get("addresses"))
            if _dict(a).get("type") == "InternalIP" and _dict(a).get("address")
        ]
        for item in items:
            meta = _dict(item.get("metadata"))
            if item.get("kind") == "Node":
                name = str(meta.get("name") or "")
                key = make_key("Node", None, name)
                for addr in _list(_dict(item.get("status")).get("addresses")):
                    a = _dict(addr)
                    if a.get("type") in ("InternalIP", "ExternalIP") and a.get("address"):
                        self.by_ip.setdefault(str(a["address"]), (key, name))
            elif item.get("kind") == "Service":
                spec = _dict(item.get("spec"))
                ns = str(meta.get("namespace") or "default")
                name = str(meta.get("name") or "")
                selector = {str(k): str(v) for k, v in _dict(spec.get("selector")).items()}
                selected = {
                    key
                    for pns, labels, key in pods
                    if selector and pns == ns and all(labels.get(k) == v for k, v in selector.items())
                }
                key = selected.pop() if len(selected) == 1 else make_key("Service", ns, name)
                for port in _list(spec.get("ports")):
                    p = _dict(port)
                    self.expose(key, p.get("port"))
                    self.expose(key, p.get("targetPort"))
                    if isinstance(p.get("nodePort"), int):  # NodePort / LoadBalancer services
                        for node_ip in node_ips:
                            self.by_ip_port[(node_ip, p["nodePort"])] = (key, f"service/{name}")
                ips = [str(ip) for ip in _list(spec.get("clusterIPs")) if ip and ip != "None"]
                if spec.get("clusterIP") and spec["clusterIP"] != "None":
                    ips.append(str(spec["clusterIP"]))
                ips += [str(ip) for ip in _list(spec.get("externalIPs"))]
                lb = _dict(_dict(item.get("status")).get("loadBalancer"))
                ips += [str(_dict(i)["ip"]) for i in _list(lb.get("ingress")) if _dict(i).get("ip")]
                for ip in ips:
                    self.by_ip.setdefault(ip, (key, f"service/{name}"))

    def _add_ecs_task(self, task: dict[str, Any]) -> None:
        cluster = str(task.get("clusterArn") or "").rsplit("/", 1)[-1] or None
        task_id = str(task.get("taskArn") or "").rsplit("/", 1)[-1]
        group = str(task.get("group") or "")
        family = str(task.get("taskDefinitionArn") or "").rsplit("/", 1)[-1].split(":")[0]
        if group.startswith("service:"):
            key = make_key("ECSService", cluster, group.removeprefix("service:"))
        else:
            key = make_key("ECSTask", cluster, group.removeprefix("family:") or family or task_id)
        ips: list[str] = []
        for att in _list(task.get("attachments")):
            for detail in _list(_dict(att).get("details")):
                d = _dict(detail)
                if d.get("name") in ("privateIPv4Address", "privateIPv6Address") and d.get("value"):
                    ips.append(str(d["value"]))
        for container in _list(task.get("containers")):
            c = _dict(container)
            for eni in _list(c.get("networkInterfaces")):
                e = _dict(eni)
                ips += [str(e[k]) for k in ("privateIpv4Address", "ipv6Address") if e.get(k)]
            for binding in _list(c.get("networkBindings")):
                self.expose(key, _dict(binding).get("containerPort"))
        for ip in ips:
            self.by_ip[ip] = (key, task_id)

    def _add_docker(self, item: dict[str, Any]) -> None:
        config = _dict(item.get("Config"))
        labels = {str(k): str(v) for k, v in _dict(config.get("Labels")).items()}
        name = str(item.get("Name") or "").lstrip("/") or str(item.get("Id", ""))[:12]
        if "com.docker.compose.service" in labels:
            key = make_key(
                "ComposeService",
                labels.get("com.docker.compose.project"),
                labels["com.docker.compose.service"],
            )
        elif "io.kubernetes.pod.name" in labels:
            ns = labels.get("io.kubernetes.pod.namespace", "default")
            key = make_key(*_pod_workload({}, labels, ns, labels["io.kubernetes.pod.name"]))
        elif "com.amazonaws.ecs.task-definition-family" in labels:
            cluster = labels.get("com.amazonaws.ecs.cluster", "").rsplit("/", 1)[-1] or None
            key = make_key("ECSTask", cluster, labels["com.amazonaws.ecs.task-definition-family"])
        else:
            key = make_key("Container", None, name)
        inst = str(item.get("Id", ""))[:12] or name
        net = _dict(item.get("NetworkSettings"))
        ips = [str(net["IPAddress"])] if net.get("IPAddress") else []
        for network in _dict(net.get("Networks")).values():
            n = _dict(network)
            ips += [str(n[k]) for k in ("IPAddress", "GlobalIPv6Address") if n.get(k)]
        for ip in ips:
            self.by_ip[ip] = (key, inst)
        for spec in _dict(config.get("ExposedPorts")):
            port = str(spec).split("/")[0]
            if port.isdigit():
                self.expose(key, int(port))
        for spec, bindings in _dict(net.get("Ports")).items():
            for b in _list(bindings):
                host_ip, host_port = _dict(b).get("HostIp"), str(_dict(b).get("HostPort") or "")
                if host_port.isdigit():
                    self.expose(
                        key, int(str(spec).split("/")[0]) if str(spec).split("/")[0].isdigit() else None
                    )
                    if host_ip and host_ip not in ("0.0.0.0", "::"):  # noqa: S104
                        self.by_ip_port[(str(host_ip), int(host_port))] = (key, inst)


_RS_SUFFIX = re.compile(r"^(.*)-[a-z0-9]{6,10}$")
_CRON_JOB = re.compile(r"^(.*)-\d{8,}$")
_POD_OF_RS = re.compile(r"^(.*)-[a-z0-9]{6,10}-[a-z0-9]{5}$")


def _pod_workload(meta: dict[str, Any], labels: dict[str, str], ns: str, pod: str) -> tuple[str, str, str]:
    owners = [_dict(o) for o in _list(meta.get("ownerReferences"))]
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    if owner is None:
        m = _POD_OF_RS.match(pod) if "pod-template-hash" in labels else None
        return ("Deployment", ns, m.group(1)) if m else ("Pod", ns, pod)
    kind, name = str(owner.get("kind") or "Pod"), str(owner.get("name") or pod)
    if kind == "ReplicaSet":
        pth = labels.get("pod-template-hash")
        if pth and name.endswith("-" + pth):
            return "Deployment", ns, name[: -len(pth) - 1]
        m = _RS_SUFFIX.match(name)
        return "Deployment", ns, (m.group(1) if m else name)
    if kind == "Job":
        m = _CRON_JOB.match(name)
        return ("CronJob", ns, m.group(1)) if m else ("Job", ns, name)
    return kind, ns, name


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
