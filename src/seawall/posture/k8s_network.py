"""Kubernetes exposure: LoadBalancer/NodePort Services (and the workloads they reach), Ingress without
TLS, namespaces without NetworkPolicy, NetworkPolicies that allow everything."""

from __future__ import annotations

from seawall.core import Severity
from seawall.posture.base import Context, load_checks
from seawall.posture.k8s_common import (
    WORKLOAD_KINDS,
    K8sObject,
    is_k8s,
    labels_match,
    objects,
    pod_template,
)
from seawall.posture.loader import Document, LDict, LList

NAME = "kubernetes_network"
SYSTEM_NAMESPACES = {"kube-system", "kube-public", "kube-node-lease"}
INTERNAL_LB = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": {"true", "0.0.0.0/0"},
    "service.beta.kubernetes.io/aws-load-balancer-scheme": {"internal"},
    "networking.gke.io/load-balancer-type": {"Internal"},
    "cloud.google.com/load-balancer-type": {"Internal"},
    "service.beta.kubernetes.io/azure-load-balancer-internal": {"true"},
}


def accepts(doc: Document) -> bool:
    return is_k8s(doc)


def _internal(svc: K8sObject) -> bool:
    ann = svc.meta.get("annotations")
    if not isinstance(ann, dict):
        return False
    return any(str(ann.get(k)) in v for k, v in INTERNAL_LB.items() if k in ann)


Workload = tuple[K8sObject, dict[str, object]]
# (namespace, label key) -> str(label value or None) -> workloads, in input order
_LabelIndex = dict[tuple[str | None, str], dict[str, list[Workload]]]


def _reached(selector: object, namespace: str | None, by_namespace: dict[str | None, list[Workload]],
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


def run(docs: list[Document], ctx: Context) -> None:
    checks = load_checks(NAME)
    objs = list(objects(docs))
    workloads: list[tuple[K8sObject, dict[str, object]]] = []
    by_namespace: dict[str | None, list[tuple[K8sObject, dict[str, object]]]] = {}
    for obj in objs:
        if obj.kind in WORKLOAD_KINDS:
            found = pod_template(obj.data)
            if found:
                meta = found[0].get("metadata")
                labels = meta.get("labels") if isinstance(meta, dict) else None
                entry = (obj, labels if isinstance(labels, dict) else {})
                workloads.append(entry)
                by_namespace.setdefault(obj.namespace, []).append(entry)

    by_label: _LabelIndex = {}
    for obj in objs:
        spec = obj.data.get("spec")
        if not isinstance(spec, LDict):
            continue
        sup = obj.suppressions()
        if obj.kind == "Service":
            stype = spec.get("type")
            if stype not in ("LoadBalancer", "NodePort"):
                continue
            selector = spec.get("selector")
            reached = _reached(selector, obj.namespace, by_namespace, by_label)
            names = [f"{w.kind}/{w.name}" for w in reached]
            ports = spec.get("ports")
            port_list = [str(p.get("port")) for p in ports if isinstance(p, dict)] \
                if isinstance(ports, LList) else []
            ev = f"type {stype}, ports {','.join(port_list) or '?'}; reaches " + (
                ", ".join(names) if names else "no workload in this input")
            extra = {"workloads": names, **obj.extra()}
            if stype == "LoadBalancer":
                if _internal(obj):
                    continue
                ranges = spec.get("loadBalancerSourceRanges")
                ranges = ranges if isinstance(ranges, list) else []
                open_world = not ranges or any(str(r) in ("0.0.0.0/0", "::/0") for r in ranges)
                sev = None if open_world else Severity.LOW
                if not open_world:
                    ev += f"; source ranges {', '.join(str(r) for r in ranges or [])}"
                res = obj.resource()
                if names:
                    res = type(res)(type=res.type, name=res.name, namespace=res.namespace,
                                    workload=names[0])
                ctx.report(checks["SW-K8S-050"], res, obj.path, spec.ln("type"), ev, suppress=sup,
                           extra=extra, severity=sev)
            else:
                res = obj.resource()
                if names:
                    res = type(res)(type=res.type, name=res.name, namespace=res.namespace,
                                    workload=names[0])
                ctx.report(checks["SW-K8S-051"], res, obj.path, spec.ln("type"), ev, suppress=sup,
                           extra=extra)
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

    # namespaces that run workloads but have no NetworkPolicy at all
    with_policy = {o.namespace for o in objs if o.kind == "NetworkPolicy"}
    ns_objects = {o.name: o for o in objs if o.kind == "Namespace"}
    first_workload: dict[str, K8sObject] = {}
    for w, _ in workloads:
        if w.namespace and w.namespace not in first_workload:
            first_workload[w.namespace] = w
    for ns in sorted(set(first_workload) | set(ns_objects)):
        if ns in with_policy or ns in SYSTEM_NAMESPACES:
            continue
        anchor = ns_objects.get(ns) or first_workload[ns]
        resource = anchor.resource() if anchor.kind == "Namespace" else type(anchor.resource())(
            type="Namespace", name=ns)
        where = "" if anchor.kind == "Namespace" else f" (first workload {anchor.kind}/{anchor.name})"
        ctx.report(checks["SW-K8S-053"], resource, anchor.path, anchor.line,
                   f"namespace {ns} has no NetworkPolicy in this input{where}",
                   suppress=anchor.suppressions() if anchor.kind == "Namespace" else None)
