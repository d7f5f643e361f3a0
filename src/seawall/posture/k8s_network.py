"""Kubernetes exposure and isolation: LoadBalancer/NodePort Services (and the workloads they reach),
workloads reachable from outside through an Ingress, Ingress without TLS, workloads and namespaces
that no NetworkPolicy isolates, NetworkPolicies that allow everything.

Which pods a policy covers is decided by its selector, as the network plugin decides it: a
NetworkPolicy's podSelector (`{}` selects every pod of its namespace), a CiliumNetworkPolicy's
endpointSelector, a CiliumClusterwideNetworkPolicy's endpointSelector in every namespace. An object
without a namespace is applied to the namespace of the kubectl context: it joins objects of no
namespace and of `default`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from seawall.core import Resource, Severity
from seawall.posture.base import Context, load_checks
from seawall.posture.k8s_common import (
    WORKLOAD_KINDS,
    K8sObject,
    is_k8s,
    label_selector_matches,
    labels_match,
    nearest,
    objects,
    pod_template,
)
from seawall.posture.loader import Document, LDict, LList

NAME = "kubernetes_network"
SYSTEM_NAMESPACES = {"kube-system", "kube-public", "kube-node-lease"}
POLICY_KINDS = ("NetworkPolicy", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy")
INTERNAL_LB = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": {"true", "0.0.0.0/0"},
    "service.beta.kubernetes.io/aws-load-balancer-scheme": {"internal"},
    "networking.gke.io/load-balancer-type": {"Internal"},
    "cloud.google.com/load-balancer-type": {"Internal"},
    "service.beta.kubernetes.io/azure-load-balancer-internal": {"true"},
}


def accepts(doc: Document) -> bool:
    return is_k8s(doc)


def ns_key(namespace: str | None) -> str:
    """The namespace an object lands in for joins: none given means the context's, `default`."""
    return namespace or "default"


def _internal(svc: K8sObject) -> bool:
    ann = svc.meta.get("annotations")
    if not isinstance(ann, dict):
        return False
    return any(str(ann.get(k)) in v for k, v in INTERNAL_LB.items() if k in ann)


Workload = tuple[K8sObject, dict[str, object]]
# (namespace, label key) -> str(label value or None) -> workloads, in input order
_LabelIndex = dict[tuple[str, str], dict[str, list[Workload]]]


def _reached(selector: object, namespace: str, by_namespace: dict[str, list[Workload]],
             index: _LabelIndex) -> list[K8sObject]:
    """Workloads of the namespace whose pod labels a Service selector matches, in input order.

    Only those whose label for the selector's first key already agrees are tested in full (a
    Service does not scan every workload of its namespace: 150 Services x 1,000 workloads)."""
    if not isinstance(selector, dict) or not selector:
        return []
    key, value = next(iter(selector.items()))
    key = str(key)
    values = index.get((namespace, key))
    if values is None:
        values = index[(namespace, key)] = {}
        for entry in by_namespace.get(namespace, []):
            values.setdefault(str(entry[1].get(key)), []).append(entry)
    return [w for w, labels in values.get(str(value), []) if labels_match(selector, labels)]


def _cilium_specs(policy: K8sObject) -> Iterator[LDict]:
    spec = policy.data.get("spec")
    if isinstance(spec, LDict):
        yield spec
    specs = policy.data.get("specs")
    if isinstance(specs, LList):
        yield from (s for s in specs if isinstance(s, LDict))


def _selects_all(selector: Any) -> bool:
    return isinstance(selector, dict) and not selector.get("matchLabels") and not selector.get(
        "matchExpressions")


def policy_selects(policy: K8sObject, namespace: str, labels: dict[str, object]) -> bool:
    """Whether a NetworkPolicy / Cilium policy applies to pods with these labels in this namespace."""
    if policy.kind == "NetworkPolicy":
        spec = policy.data.get("spec")
        return (ns_key(policy.namespace) == namespace and isinstance(spec, LDict)
                and label_selector_matches(spec.get("podSelector") or {}, labels))
    if policy.kind == "CiliumNetworkPolicy" and ns_key(policy.namespace) != namespace:
        return False
    return any(label_selector_matches(s.get("endpointSelector") or {}, labels) for s in _cilium_specs(policy))


def _covers_cluster(policy: K8sObject) -> bool:
    """A CiliumClusterwideNetworkPolicy that selects every endpoint and enforces a direction."""
    for s in _cilium_specs(policy):
        deny = s.get("enableDefaultDeny")
        disabled = isinstance(deny, dict) and deny.get("ingress") is False and deny.get("egress") is False
        enforced = bool(s.get("ingress") or s.get("egress"))
        if _selects_all(s.get("endpointSelector") or {}) and not disabled and enforced:
            return True
    return False


def _backends(ingress: K8sObject) -> list[tuple[str, int]]:
    """(service name, line) of every backend of an Ingress (networking.k8s.io/v1 and v1beta1)."""
    spec = ingress.data.get("spec")
    if not isinstance(spec, LDict):
        return []
    found: list[tuple[str, int]] = []

    def add(backend: Any) -> None:
        if not isinstance(backend, LDict):
            return
        svc = backend.get("service")
        if isinstance(svc, LDict) and isinstance(svc.get("name"), str):
            found.append((svc["name"], svc.ln("name")))
        elif isinstance(backend.get("serviceName"), str):
            found.append((backend["serviceName"], backend.ln("serviceName")))

    add(spec.get("defaultBackend") or spec.get("backend"))
    rules = spec.get("rules")
    for rule in rules if isinstance(rules, LList) else []:
        http = rule.get("http") if isinstance(rule, LDict) else None
        paths = http.get("paths") if isinstance(http, LDict) else None
        for path in paths if isinstance(paths, LList) else []:
            if isinstance(path, LDict):
                add(path.get("backend"))
    return found


KEPT_KINDS = frozenset({"Service", "Ingress", "Namespace", *POLICY_KINDS})


def _workload(obj: K8sObject) -> Workload | None:
    found = pod_template(obj.data)
    if not found:
        return None
    meta = found[0].get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return obj, dict(labels) if isinstance(labels, dict) else {}


class Stream:
    """Keeps, small, what the joins need: Services, Ingresses, policies and Namespaces whole, and of
    each workload only its names, place and pod labels (a 20 MB dump is mostly workloads)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.objs: list[K8sObject] = []
        self.workloads: list[Workload] = []

    def feed(self, doc: Document) -> None:
        for obj in objects([doc]):
            if obj.kind in KEPT_KINDS:
                self.objs.append(obj.detached())
            elif obj.kind in WORKLOAD_KINDS and (entry := _workload(obj)) is not None:
                self.workloads.append((obj.detached(slim=True), entry[1]))

    def finish(self) -> None:
        judge(self.objs, self.workloads, self.ctx)
        self.objs, self.workloads = [], []


def open_stream(ctx: Context) -> Stream:
    return Stream(ctx)


def run(docs: list[Document], ctx: Context) -> None:
    objs = list(objects(docs))
    workloads = [w for o in objs if o.kind in WORKLOAD_KINDS and (w := _workload(o)) is not None]
    judge([o for o in objs if o.kind in KEPT_KINDS], workloads, ctx)


def judge(objs: list[K8sObject], workloads: list[Workload], ctx: Context) -> None:
    """The exposure and isolation checks over the kept objects and the workloads' pod labels."""
    checks = load_checks(NAME)
    by_namespace: dict[str, list[Workload]] = {}
    for entry in workloads:
        by_namespace.setdefault(ns_key(entry[0].namespace), []).append(entry)

    by_label: _LabelIndex = {}
    services: list[K8sObject] = []
    exposed: dict[int, tuple[K8sObject, str]] = {}  # id(workload) -> (workload, how)
    for obj in objs:
        spec = obj.data.get("spec")
        if not isinstance(spec, LDict):
            continue
        sup = obj.suppressions()
        if obj.kind == "Service":
            services.append(obj)
            stype = spec.get("type")
            if stype not in ("LoadBalancer", "NodePort"):
                continue
            selector = spec.get("selector")
            reached = _reached(selector, ns_key(obj.namespace), by_namespace, by_label)
            names = [f"{w.kind}/{w.name}" for w in reached]
            ports = spec.get("ports")
            port_list = [str(p.get("port")) for p in ports if isinstance(p, dict)] \
                if isinstance(ports, LList) else []
            ev = f"type {stype}, ports {','.join(port_list) or '?'}; reaches " + (
                ", ".join(names) if names else "no workload in this input")
            extra = {"workloads": names, **obj.extra()}
            res = obj.resource()
            if names:
                res = Resource(type=res.type, name=res.name, namespace=res.namespace, workload=names[0])
            if stype == "LoadBalancer":
                if _internal(obj):
                    continue
                ranges = spec.get("loadBalancerSourceRanges")
                ranges = ranges if isinstance(ranges, list) else []
                open_world = not ranges or any(str(r) in ("0.0.0.0/0", "::/0") for r in ranges)
                sev = None if open_world else Severity.LOW
                if not open_world:
                    ev += f"; source ranges {', '.join(str(r) for r in ranges or [])}"
                ctx.report(checks["SW-K8S-050"], res, obj.path, spec.ln("type"), ev, suppress=sup,
                           extra=extra, severity=sev)
            else:
                ctx.report(checks["SW-K8S-051"], res, obj.path, spec.ln("type"), ev, suppress=sup,
                           extra=extra)
            for w in reached:
                exposed.setdefault(id(w), (w, f"{stype} Service {obj.name}"))
        elif obj.kind == "Ingress":
            tls = spec.get("tls")
            if not tls:
                rules = spec.get("rules")
                hosts = [str(r.get("host")) for r in rules if isinstance(r, dict) and r.get("host")] \
                    if isinstance(rules, LList) else []
                line = spec.ln("rules") if "rules" in spec else obj.line
                ctx.report(checks["SW-K8S-052"], obj.resource(), obj.path, line,
                           f"no spec.tls; hosts {', '.join(hosts) or '*'}", suppress=sup, extra=obj.extra())
        elif obj.kind == "NetworkPolicy":
            for direction in ("ingress", "egress"):
                rules = spec.get(direction)
                if not isinstance(rules, LList):
                    continue
                for i, rule in enumerate(rules):
                    peers = rule.get("from" if direction == "ingress" else "to") \
                        if isinstance(rule, dict) else None
                    if rule is None or (isinstance(rule, dict) and not peers and not rule.get("ports")):
                        ctx.report(checks["SW-K8S-054"], obj.resource(), obj.path, rules.ln(i),
                                   f"{direction} rule {i} is empty: allows all peers on all ports",
                                   suppress=sup, extra=obj.extra())

    _through_ingress(objs, services, by_namespace, by_label, exposed)
    for w, how in exposed.values():
        ctx.report(checks["SW-K8S-056"], w.resource(), w.path, w.line,
                   f"{w.kind} {w.name} reachable through {how}", suppress=w.suppressions(), extra=w.extra())
    _isolation(objs, workloads, ctx)


def _through_ingress(objs: list[K8sObject], services: list[K8sObject],
                     by_namespace: dict[str, list[Workload]], index: _LabelIndex,
                     exposed: dict[int, tuple[K8sObject, str]]) -> None:
    """Workloads behind the Services an Ingress routes to (the Service named in the same file, else
    the same directory, else anywhere in the namespace)."""
    by_name: dict[tuple[str, str], list[K8sObject]] = {}
    for svc in services:
        by_name.setdefault((ns_key(svc.namespace), svc.name), []).append(svc)
    for ing in objs:
        if ing.kind != "Ingress":
            continue
        for name, _line in _backends(ing):
            for svc in nearest(by_name.get((ns_key(ing.namespace), name), []), ing):
                spec = svc.data.get("spec")
                selector = spec.get("selector") if isinstance(spec, LDict) else None
                for w in _reached(selector, ns_key(svc.namespace), by_namespace, index):
                    exposed.setdefault(id(w), (w, f"Ingress {ing.name} (Service {svc.name})"))


def _isolation(objs: list[K8sObject], workloads: list[Workload], ctx: Context) -> None:
    """Workloads that no policy selects; namespaces with workloads (or a Namespace object) and no policy."""
    checks = load_checks(NAME)
    policies = [o for o in objs if o.kind in POLICY_KINDS]
    cluster_wide = any(p.kind == "CiliumClusterwideNetworkPolicy" and _covers_cluster(p) for p in policies)
    for w, labels in workloads:
        ns = ns_key(w.namespace)
        if ns in SYSTEM_NAMESPACES or any(policy_selects(p, ns, labels) for p in policies):
            continue
        shown = ", ".join(f"{k}={v}" for k, v in labels.items()) or "none"
        ctx.report(checks["SW-K8S-055"], w.resource(), w.path, w.line,
                   f"no NetworkPolicy of namespace {ns} selects the pods of {w.kind} {w.name} "
                   f"(labels {shown})",
                   suppress=w.suppressions(), extra=w.extra())

    # namespaces that run workloads (or are declared) but have no policy at all
    with_policy = {ns_key(p.namespace) for p in policies if p.kind != "CiliumClusterwideNetworkPolicy"}
    if cluster_wide:
        return
    ns_objects = {o.name: o for o in objs if o.kind == "Namespace"}
    first_workload: dict[str, K8sObject] = {}
    for w, _ in workloads:
        if w.namespace and w.namespace not in first_workload:
            first_workload[w.namespace] = w
    for ns in sorted(set(first_workload) | set(ns_objects)):
        if ns in with_policy or ns in SYSTEM_NAMESPACES:
            continue
        anchor = ns_objects.get(ns) or first_workload[ns]
        resource = anchor.resource() if anchor.kind == "Namespace" else Resource(type="Namespace", name=ns)
        where = "" if anchor.kind == "Namespace" else f" (first workload {anchor.kind}/{anchor.name})"
        ctx.report(checks["SW-K8S-053"], resource, anchor.path, anchor.line,
                   f"namespace {ns} has no NetworkPolicy in this input{where}",
                   suppress=anchor.suppressions() if anchor.kind == "Namespace" else None)
