"""A Kubernetes NetworkPolicy evaluator (networking.k8s.io/v1), pure and without I/O.

    cluster = Cluster(namespaces=[...], pods=[...], policies=[parse_policy(obj), ...])
    verdict = cluster.allowed(src, dst, port=80, protocol="TCP")   # src/dst: Pod or an IP
    verdict.allowed, verdict.egress_by, verdict.ingress_by         # which policies allowed it

The semantics are the API's (and what the upstream `netpol` e2e suite checks, see
tests/respond/netpol_cases.yaml):
- a pod is isolated for a direction when at least one policy of its namespace selects it and
  has that direction in `policyTypes` (unset: Ingress always, Egress when `egress` has rules);
- policies are additive: traffic is allowed when ANY selecting policy's rule allows it; nothing
  in NetworkPolicy can deny what another policy allows (the trap `respond` reports as residual);
- a connection needs the source's egress AND the destination's ingress to allow it;
- a peer is a podSelector (the policy's namespace), a namespaceSelector (all pods there), both
  (pods matching in matching namespaces), or an ipBlock (CIDR minus `except`); a rule without
  peers allows every peer, a rule without ports every port;
- ports: protocol defaults to TCP; a number (with `endPort`, a range), a name resolved against
  the destination pod's container ports (name and protocol), or none (every port of the protocol);
- hostNetwork pods are not subject to NetworkPolicy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
PROTOCOLS = ("TCP", "UDP", "SCTP")


class PolicyError(ValueError):
    """A NetworkPolicy (or selector) that the API server would reject."""


# -- selectors --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.operator == "In":
            return self.key in labels and labels[self.key] in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels  # DoesNotExist

    def describe(self) -> str:
        if self.operator == "In":
            return f"{self.key} in ({','.join(self.values)})"
        if self.operator == "NotIn":
            return f"{self.key} notin ({','.join(self.values)})"
        if self.operator == "Exists":
            return self.key
        return f"!{self.key}"


@dataclass(frozen=True, slots=True)
class Selector:
    """A metav1.LabelSelector. The empty selector matches everything."""

    match_labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[Requirement, ...] = ()

    @classmethod
    def parse(cls, raw: Any, where: str) -> Selector:
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise PolicyError(f"{where}: a label selector must be an object")
        labels = raw.get("matchLabels") or {}
        if not isinstance(labels, Mapping):
            raise PolicyError(f"{where}.matchLabels must be an object")
        exprs: list[Requirement] = []
        for i, expr in enumerate(raw.get("matchExpressions") or []):
            if not isinstance(expr, Mapping) or not isinstance(expr.get("key"), str):
                raise PolicyError(f"{where}.matchExpressions[{i}] needs a key")
            op = expr.get("operator")
            values = expr.get("values") or []
            if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
                raise PolicyError(f"{where}.matchExpressions[{i}]: unknown operator {op!r}")
            if op in ("In", "NotIn") and not values:
                raise PolicyError(f"{where}.matchExpressions[{i}]: {op} needs values")
            if op in ("Exists", "DoesNotExist") and values:
                raise PolicyError(f"{where}.matchExpressions[{i}]: {op} takes no values")
            exprs.append(Requirement(expr["key"], op, tuple(str(v) for v in values)))
        return cls(tuple(sorted((str(k), str(v)) for k, v in labels.items())), tuple(exprs))

    @property
    def empty(self) -> bool:
        return not self.match_labels and not self.expressions

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.match_labels) and all(
            e.matches(labels) for e in self.expressions
        )

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in self.match_labels] + [e.describe() for e in self.expressions]
        return ",".join(parts) if parts else "{}"

    def keys(self) -> set[str]:
        return {k for k, _ in self.match_labels} | {e.key for e in self.expressions}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.match_labels:
            out["matchLabels"] = dict(self.match_labels)
        if self.expressions:
            out["matchExpressions"] = [
                {"key": e.key, "operator": e.operator, **({"values": list(e.values)} if e.values else {})}
                for e in self.expressions
            ]
        return out


# -- the objects policies talk about ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContainerPort:
    port: int
    protocol: str = "TCP"
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str | None = None
    ports: tuple[ContainerPort, ...] = ()
    host_network: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def effective_labels(self) -> Mapping[str, str]:
        """The labels selectors see: the API server always sets kubernetes.io/metadata.name."""
        if self.labels.get(NAMESPACE_NAME_LABEL) == self.name:
            return self.labels
        return {**self.labels, NAMESPACE_NAME_LABEL: self.name}


Endpoint = Pod | str  # a pod, or an IP address outside the pod network


# -- policies ----------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _address(ip: str) -> tuple[int, int] | None:
    """(version, integer) of an address, parsed once however many rules look at it."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return addr.version, int(addr)


def _span(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int, int]:
    return net.version, int(net.network_address), int(net.broadcast_address)


@dataclass(frozen=True, slots=True)
class IPBlock:
    cidr: ipaddress.IPv4Network | ipaddress.IPv6Network
    excepts: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def contains(self, ip: str) -> bool:
        parsed = _address(ip)
        if parsed is None:
            return False
        version, value = parsed
        inside = _spans(self)
        if version != inside[0][0] or not inside[0][1] <= value <= inside[0][2]:
            return False
        return not any(v == version and low <= value <= high for v, low, high in inside[1:])

    def describe(self) -> str:
        if self.excepts:
            return f"{self.cidr} except {', '.join(str(e) for e in self.excepts)}"
        return str(self.cidr)


@lru_cache(maxsize=4096)
def _spans(block: IPBlock) -> tuple[tuple[int, int, int], ...]:
    return (_span(block.cidr), *(_span(e) for e in block.excepts))


@dataclass(frozen=True, slots=True)
class Peer:
    pod_selector: Selector | None = None
    namespace_selector: Selector | None = None
    ip_block: IPBlock | None = None

    def describe(self, policy_namespace: str) -> str:
        if self.ip_block is not None:
            return f"ipBlock {self.ip_block.describe()}"
        if self.namespace_selector is None:
            pods = self.pod_selector or Selector()
            return (
                f"every pod in namespace {policy_namespace}"
                if pods.empty
                else f"pods {pods.describe()} in namespace {policy_namespace}"
            )
        nss = (
            "every namespace"
            if self.namespace_selector.empty
            else f"namespaces {self.namespace_selector.describe()}"
        )
        if self.pod_selector is None or self.pod_selector.empty:
            return f"every pod in {nss}"
        return f"pods {self.pod_selector.describe()} in {nss}"


@dataclass(frozen=True, slots=True)
class PortSpec:
    protocol: str = "TCP"
    port: int | str | None = None
    end_port: int | None = None

    def describe(self) -> str:
        if self.port is None:
            return f"all {self.protocol} ports"
        if self.end_port is not None:
            return f"{self.port}-{self.end_port}/{self.protocol}"
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One ingress or egress rule. `peers` None: every peer; `ports` None: every port."""

    peers: tuple[Peer, ...] | None = None
    ports: tuple[PortSpec, ...] | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    namespace: str
    name: str
    pod_selector: Selector
    ingress_isolates: bool
    egress_isolates: bool
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: str) -> tuple[Rule, ...]:
        return self.ingress if direction == "ingress" else self.egress

    def isolates(self, direction: str) -> bool:
        return self.ingress_isolates if direction == "ingress" else self.egress_isolates


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PolicyError(f"{where} must be an integer in {low}..{high}")
    return value


def _parse_port(raw: Any, where: str) -> PortSpec:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where} must be an object")
    protocol = raw.get("protocol") or "TCP"
    if protocol not in PROTOCOLS:
        raise PolicyError(f"{where}.protocol: {protocol!r} is not TCP, UDP or SCTP")
    port = raw.get("port")
    end_port = raw.get("endPort")
    if port is not None:
        if isinstance(port, str) and not port.isdigit():
            if not port or len(port) > 15:
                raise PolicyError(f"{where}.port: {port!r} is not a valid port name")
            if end_port is not None:
                raise PolicyError(f"{where}.endPort needs a numeric port")
        else:
            port = _int(int(port) if isinstance(port, str) else port, f"{where}.port", 1, 65535)
    if end_port is not None:
        if port is None:
            raise PolicyError(f"{where}.endPort needs a port")
        end_port = _int(end_port, f"{where}.endPort", 1, 65535)
        if isinstance(port, int) and end_port < port:
            raise PolicyError(f"{where}.endPort is below port")
    return PortSpec(protocol, port, end_port)


def _parse_peer(raw: Any, where: str) -> Peer:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where} must be an object")
    block = raw.get("ipBlock")
    if block is not None:
        if raw.get("podSelector") is not None or raw.get("namespaceSelector") is not None:
            raise PolicyError(f"{where}: ipBlock cannot be combined with selectors")
        if not isinstance(block, Mapping) or not isinstance(block.get("cidr"), str):
            raise PolicyError(f"{where}.ipBlock needs a cidr")
        try:
            cidr = ipaddress.ip_network(block["cidr"], strict=False)
            excepts = tuple(ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])
        except (ValueError, TypeError) as err:
            raise PolicyError(f"{where}.ipBlock: {err}") from None
        for ex in excepts:
            if ex.version != cidr.version or not ex.subnet_of(cidr):  # type: ignore[arg-type]
                raise PolicyError(f"{where}.ipBlock.except {ex} is not inside {cidr}")
        return Peer(ip_block=IPBlock(cidr, excepts))
    pods, nss = raw.get("podSelector"), raw.get("namespaceSelector")
    if pods is None and nss is None:
        raise PolicyError(f"{where}: a peer needs podSelector, namespaceSelector or ipBlock")
    return Peer(
        Selector.parse(pods, f"{where}.podSelector") if pods is not None else None,
        Selector.parse(nss, f"{where}.namespaceSelector") if nss is not None else None,
    )


def _parse_rule(raw: Any, where: str, peer_key: str) -> Rule:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where} must be an object")
    peers_raw = raw.get(peer_key)
    ports_raw = raw.get("ports")
    peers = (
        tuple(_parse_peer(p, f"{where}.{peer_key}[{i}]") for i, p in enumerate(peers_raw))
        if peers_raw
        else None
    )
    ports = (
        tuple(_parse_port(p, f"{where}.ports[{i}]") for i, p in enumerate(ports_raw)) if ports_raw else None
    )
    return Rule(peers, ports)


def parse_policy(obj: Mapping[str, Any]) -> Policy:
    """A NetworkPolicy object (as `kubectl get -o json` prints it) -> Policy; PolicyError if invalid."""
    try:
        return _parse_policy(obj)
    except PolicyError:
        raise
    except (TypeError, AttributeError, ValueError, KeyError) as err:  # shapes the API never returns
        meta = obj.get("metadata") if isinstance(obj, Mapping) else None
        name = meta.get("name") if isinstance(meta, Mapping) else None
        raise PolicyError(
            f"NetworkPolicy {name if isinstance(name, str) else '?'}: malformed ({type(err).__name__})"
        ) from None


def _parse_policy(obj: Mapping[str, Any]) -> Policy:
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    namespace = meta.get("namespace") or "default"
    where = f"NetworkPolicy {namespace}/{name}"
    if not isinstance(name, str) or not name:
        raise PolicyError("a NetworkPolicy without metadata.name")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise PolicyError(f"{where}: no spec")
    if "podSelector" not in spec:
        raise PolicyError(f"{where}: spec.podSelector is required")
    selector = Selector.parse(spec.get("podSelector"), f"{where}.spec.podSelector")
    ingress_raw = spec.get("ingress") or []
    egress_raw = spec.get("egress") or []
    if not isinstance(ingress_raw, list) or not isinstance(egress_raw, list):
        raise PolicyError(f"{where}: ingress and egress must be lists")
    types = spec.get("policyTypes")
    if types is None or types == []:
        ingress_iso, egress_iso = True, bool(egress_raw)
    else:
        if not isinstance(types, list) or any(t not in ("Ingress", "Egress") for t in types):
            raise PolicyError(f"{where}: policyTypes must be Ingress and/or Egress")
        ingress_iso, egress_iso = "Ingress" in types, "Egress" in types
    return Policy(
        namespace=namespace,
        name=name,
        pod_selector=selector,
        ingress_isolates=ingress_iso,
        egress_isolates=egress_iso,
        ingress=tuple(
            _parse_rule(r, f"{where}.spec.ingress[{i}]", "from") for i, r in enumerate(ingress_raw)
        ),
        egress=tuple(_parse_rule(r, f"{where}.spec.egress[{i}]", "to") for i, r in enumerate(egress_raw)),
    )


def parse_pod(obj: Mapping[str, Any]) -> Pod:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    ports: list[ContainerPort] = []
    for container in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        for p in (container or {}).get("ports") or []:
            if isinstance(p, Mapping) and isinstance(p.get("containerPort"), int):
                ports.append(ContainerPort(p["containerPort"], p.get("protocol") or "TCP", p.get("name")))
    labels = meta.get("labels") or {}
    return Pod(
        namespace=meta.get("namespace") or "default",
        name=str(meta.get("name") or ""),
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {},
        ip=status.get("podIP") or None,
        ports=tuple(ports),
        host_network=bool(spec.get("hostNetwork")),
    )


def parse_namespace(obj: Mapping[str, Any]) -> Namespace:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    return Namespace(str(meta.get("name") or ""), {str(k): str(v) for k, v in labels.items()})


# -- evaluation --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleRef:
    """A rule of a policy that allowed something: `ns/name ingress[0]`."""

    policy: str
    direction: str
    index: int

    def __str__(self) -> str:
        return f"{self.policy} {self.direction}[{self.index}]"


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a connection: isolated or not, and the rules that allowed it (if isolated)."""

    isolated: bool
    allowed: bool
    by: tuple[RuleRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    egress: Side
    ingress: Side


_OPEN = Side(isolated=False, allowed=True)


class Cluster:
    """Namespaces, pods and policies; answers whether a connection is allowed and why."""

    def __init__(self, namespaces: Iterable[Namespace], pods: Iterable[Pod], policies: Iterable[Policy]):
        self.namespaces = {ns.name: ns for ns in namespaces}
        self.pods = list(pods)
        self.policies = list(policies)
        self._by_ns: dict[str, list[Policy]] = {}
        self._selecting: dict[tuple[str, tuple[tuple[str, str], ...], str | None], list[Policy]] = {}
        self._ns_labels: dict[str, Mapping[str, str]] = {}
        for pol in self.policies:
            self._by_ns.setdefault(pol.namespace, []).append(pol)
            self.namespaces.setdefault(pol.namespace, Namespace(pol.namespace))
        for pod in self.pods:
            self.namespaces.setdefault(pod.namespace, Namespace(pod.namespace))

    def ns_labels(self, name: str) -> Mapping[str, str]:
        labels = self._ns_labels.get(name)
        if labels is None:
            labels = self._ns_labels[name] = self.namespaces.get(name, Namespace(name)).effective_labels()
        return labels

    def selecting(self, pod: Pod, direction: str | None = None) -> list[Policy]:
        """Policies of the pod's namespace whose podSelector selects it (for one direction)."""
        if pod.host_network:
            return []
        key = (pod.namespace, tuple(sorted(pod.labels.items())), direction)
        found = self._selecting.get(key)
        if found is None:
            found = [
                p
                for p in self._by_ns.get(pod.namespace, [])
                if p.pod_selector.matches(pod.labels) and (direction is None or p.isolates(direction))
            ]
            self._selecting[key] = found
        return found

    def peer_matches(self, peer: Peer, policy_ns: str, other: Endpoint) -> bool:
        if peer.ip_block is not None:
            ip = other.ip if isinstance(other, Pod) else other
            return ip is not None and peer.ip_block.contains(ip)
        if not isinstance(other, Pod):
            return False  # selectors select pods, never addresses outside the cluster
        if peer.namespace_selector is None:
            in_ns = other.namespace == policy_ns
        else:
            in_ns = peer.namespace_selector.matches(self.ns_labels(other.namespace))
        if not in_ns:
            return False
        return peer.pod_selector is None or peer.pod_selector.matches(other.labels)

    @staticmethod
    def port_matches(spec: PortSpec, port: int, protocol: str, dst: Endpoint) -> bool:
        if spec.protocol != protocol:
            return False
        if spec.port is None:
            return True
        if isinstance(spec.port, int):
            high = spec.end_port if spec.end_port is not None else spec.port
            return spec.port <= port <= high
        # a named port: the destination pod's container port of that name and protocol
        if not isinstance(dst, Pod):
            return False
        return any(cp.name == spec.port and cp.protocol == protocol and cp.port == port for cp in dst.ports)

    def rule_allows(
        self, rule: Rule, policy_ns: str, peer: Endpoint, port: int, protocol: str, dst: Endpoint
    ) -> bool:
        if rule.ports is not None and not any(self.port_matches(s, port, protocol, dst) for s in rule.ports):
            return False
        return rule.peers is None or any(self.peer_matches(p, policy_ns, peer) for p in rule.peers)

    def side(
        self,
        pod: Endpoint,
        direction: str,
        peer: Endpoint,
        port: int,
        protocol: str,
        exclude: Sequence[str] = (),
    ) -> Side:
        """Whether `pod`'s policies allow `direction` traffic with `peer` on port/protocol."""
        if not isinstance(pod, Pod):
            return _OPEN
        policies = [p for p in self.selecting(pod, direction) if p.key not in exclude]
        if not policies:
            return _OPEN
        dst = pod if direction == "ingress" else peer
        by = tuple(
            RuleRef(pol.key, direction, i)
            for pol in policies
            for i, rule in enumerate(pol.rules(direction))
            if self.rule_allows(rule, pol.namespace, peer, port, protocol, dst)
        )
        return Side(isolated=True, allowed=bool(by), by=by)

    def allowed(
        self, src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP", exclude: Sequence[str] = ()
    ) -> Verdict:
        egress = self.side(src, "egress", dst, port, protocol, exclude)
        ingress = self.side(dst, "ingress", src, port, protocol, exclude)
        return Verdict(egress.allowed and ingress.allowed, egress, ingress)

    def pod(self, key: str) -> Pod:
        for pod in self.pods:
            if pod.key == key:
                return pod
        raise KeyError(key)


def relabel(pod: Pod, labels: Mapping[str, str]) -> Pod:
    return Pod(pod.namespace, pod.name, dict(labels), pod.ip, pod.ports, pod.host_network)
