"""Kubernetes: isolate one pod without taking its service down, and say what still gets through.

The plan for `k8s:NS/pod/NAME`:
1. evidence: the pod's spec and status, recent logs of each container, its events and its node,
   saved to a bundle before anything changes;
2. detach: remove the labels its controller's selector and its Services' selectors use (the
   ReplicaSet releases it and starts a replacement; the Services drop it from their endpoints),
   keep them in an annotation, and add the quarantine label -- the pod keeps running;
3. deny-all: a NetworkPolicy selecting only the quarantine label, Ingress and Egress, no rules
   (optionally DNS to kube-dns and a forensics CIDR);
4. override: where the cluster's policy engine has precedence (Cilium deny rules, Calico
   GlobalNetworkPolicy order, AdminNetworkPolicy), the policy that wins over every allow;
5. residual: every NetworkPolicy of the namespace that still selects the pod after the change
   allows what its rules say -- NetworkPolicies are additive, deny-all cannot take it away -- so the
   plan lists those rules, their peers and ports, and the concrete pods they let through.
`k8s:NS/deployment/NAME` isolates every replica (the service goes down): only with --deployment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from seawall.core.errors import InputError
from seawall.respond import netpol
from seawall.respond.base import Applied, Change, Options, Plan, Refused, Residual, Step, WorkloadRef
from seawall.respond.kube_view import CNI_NOTES, KubeView

QUARANTINE_LABEL = "seawall.io/quarantine"
ORIGINAL_LABELS = "seawall.io/original-labels"
MANAGED_BY = {"app.kubernetes.io/managed-by": "seawall"}
OUTSIDE = "203.0.113.1"  # a documentation address: "somewhere outside the cluster"
MAX_LISTED = 12


def quarantine_id(ref: WorkloadRef, options: Options) -> str:
    if options.quarantine_id:
        return options.quarantine_id
    return hashlib.sha256(str(ref).encode()).hexdigest()[:10]


def _ready(pod: Mapping[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in ((obj.get("metadata") or {}).get("labels") or {}).items()}


def _selector(obj: Mapping[str, Any]) -> netpol.Selector:
    return netpol.Selector.parse((obj.get("spec") or {}).get("selector"), "selector")


def _service_selects(svc: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    selector = (svc.get("spec") or {}).get("selector") or {}
    return bool(selector) and all(labels.get(k) == str(v) for k, v in selector.items())


def _listing(names: list[str]) -> str:
    if len(names) <= MAX_LISTED:
        return ", ".join(names)
    return ", ".join(names[:MAX_LISTED]) + f" and {len(names) - MAX_LISTED} more"


class KubernetesPlatform:
    name = "k8s"

    # -- reading ------------------------------------------------------------------------------

    def view(self, ref: WorkloadRef, options: Options) -> KubeView:
        if options.sources:
            return KubeView.from_files(options.sources)
        return KubeView.from_api(self.api_client(options), ref.scope)

    def api_client(self, options: Options) -> Any:
        from seawall.respond.kube_client import api_client

        return api_client(options.kubeconfig, options.context)

    # -- planning -----------------------------------------------------------------------------

    def plan(self, ref: WorkloadRef, options: Options) -> Plan:
        view = self.view(ref, options)
        return self.plan_from(view, ref, options)

    def plan_from(self, view: KubeView, ref: WorkloadRef, options: Options) -> Plan:
        if ref.kind == "deployment":
            return self._plan_deployment(view, ref, options)
        pod = view.pod(ref.scope, ref.name)
        where = "the cluster" if view.source == "live" else view.source
        if pod is None:
            raise InputError(f"pod {ref.scope}/{ref.name} not found in {where}" + _damage(view))
        labels = _labels(pod)
        if options.scope is not None:
            options.scope.check_k8s(ref.scope, labels, str(ref))
        qid = quarantine_id(ref, options)
        plan = Plan(workload=ref, targets=[self._describe(view, pod)], source=view.source)
        plan.warnings.extend(view.warnings + view.damaged)
        self._guards(view, pod, plan, options)
        plan.steps.append(self._evidence_step(pod))

        # 2. detach from the controller and the Services
        owner_sel, owner_desc = self._owner_selector(view, pod)
        services = [
            s
            for s in view.services.values()
            if (s.get("metadata") or {}).get("namespace") == ref.scope and _service_selects(s, labels)
        ]
        drop = set(owner_sel.keys()) if owner_sel is not None else set()
        for svc in services:
            drop |= set(((svc.get("spec") or {}).get("selector") or {}).keys())
        drop &= set(labels)
        new_labels = {k: v for k, v in labels.items() if k not in drop}
        new_labels[QUARANTINE_LABEL] = qid
        patch = {
            "metadata": {
                "labels": {**{k: None for k in sorted(drop)}, QUARANTINE_LABEL: qid},
                "annotations": {ORIGINAL_LABELS: json.dumps(labels, sort_keys=True)},
            }
        }
        undo = {
            "action": "patch",
            "kind": "Pod",
            "name": ref.name,
            "namespace": ref.scope,
            "body": {
                "metadata": {
                    "labels": {**{k: labels[k] for k in sorted(drop)}, QUARANTINE_LABEL: None},
                    "annotations": {ORIGINAL_LABELS: None},
                }
            },
        }
        svc_names = [f"{ref.scope}/{(s.get('metadata') or {}).get('name')}" for s in services]
        detail = (
            f"remove label(s) {', '.join(sorted(drop)) or '(none)'} used by "
            f"{owner_desc or 'no controller'}"
            f"{' and Service(s) ' + ', '.join(svc_names) if svc_names else ''}; "
            f"add {QUARANTINE_LABEL}={qid}; the original labels are kept in the annotation {ORIGINAL_LABELS}"
        )
        plan.steps.append(
            Step(
                "detach",
                "Detach the pod from its controller and Services (it keeps running)",
                detail,
                [Change("patch", "Pod", ref.name, ref.scope, patch, undo)],
                ["pods/patch"],
                [
                    "the pod's processes keep running: isolation is of its network, not its execution",
                    "on release a controller adopts the pod again if its labels match; it then scales to "
                    "its replica count and may delete either pod",
                ],
            )
        )
        still = [
            n
            for n in svc_names
            if _service_selects(view.services[(ref.scope, n.split("/", 1)[1])], new_labels)
        ]
        if owner_sel is not None and owner_sel.matches(new_labels):
            plan.warnings.append(
                f"{owner_desc}'s selector still matches the relabelled pod; it is not detached"
            )
        if still:
            plan.warnings.append(f"Service(s) {', '.join(still)} still select the relabelled pod")

        # 3. deny-all NetworkPolicy on the quarantine label
        policy = self._deny_policy(ref.scope, qid, options, {QUARANTINE_LABEL: qid})
        plan.steps.append(self._policy_step(policy, options))

        # 4. an override where the policy engine has precedence
        override = self._override_step(view, ref.scope, qid, options, {QUARANTINE_LABEL: qid})
        if override is not None:
            plan.steps.append(override)
        else:
            plan.warnings.extend(CNI_NOTES[c] for c in view.cni() if c in CNI_NOTES)
            plan.warnings.append(
                "NetworkPolicies only take effect with a CNI that enforces them; "
                + (
                    f"this cluster runs {', '.join(view.cni())}"
                    if view.cni()
                    else "none was recognised in the input (no Cilium, Calico, AWS VPC CNI ... DaemonSet)"
                )
            )

        # 5. residual: what other policies still allow to and from the relabelled pod
        isolated_pod = netpol.relabel(netpol.parse_pod(pod), new_labels)
        self._residual(view, plan, isolated_pod, policy, override)
        self._availability(view, pod, plan, owner_desc, services, options)
        if options.scale_to is not None:
            plan.warnings.append("--scale-to applies to a whole deployment (k8s:NS/deployment/NAME); ignored")
        return plan

    def _describe(self, view: KubeView, pod: Mapping[str, Any]) -> dict[str, Any]:
        meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
        owner = view.owner(pod)
        return {
            "kind": "Pod",
            "namespace": meta.get("namespace"),
            "name": meta.get("name"),
            "ip": status.get("podIP"),
            "node": spec.get("nodeName"),
            "phase": status.get("phase"),
            "ready": _ready(pod),
            "owner": f"{owner[0]}/{owner[1]}" if owner else None,
            "labels": _labels(pod),
            "containers": [c.get("name") for c in spec.get("containers") or []],
        }

    def _owner_chain(self, view: KubeView, pod: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        ns = (pod.get("metadata") or {}).get("namespace") or ""
        chain: list[tuple[str, dict[str, Any]]] = []
        current: Mapping[str, Any] = pod
        for _ in range(3):
            owner = view.owner(current)
            if owner is None:
                break
            kind, name = owner
            table = {
                "ReplicaSet": view.replicasets,
                "Deployment": view.deployments,
                "StatefulSet": view.statefulsets,
                "DaemonSet": view.daemonsets,
                "Job": view.jobs,
            }.get(kind)
            obj = table.get((ns, name)) if table is not None else None
            chain.append(
                (f"{kind} {ns}/{name}", obj or {"kind": kind, "metadata": {"name": name, "namespace": ns}})
            )
            if obj is None:
                break
            current = obj
        return chain

    def _owner_selector(self, view: KubeView, pod: Mapping[str, Any]) -> tuple[netpol.Selector | None, str]:
        chain = self._owner_chain(view, pod)
        if not chain:
            return None, ""
        desc, obj = chain[0]
        if not (obj.get("spec") or {}).get("selector"):
            # the controller is not in the input: its selector is unknown, assume its template labels
            # are every label but the quarantine one
            labels = {k: v for k, v in _labels(pod).items() if k != QUARANTINE_LABEL}
            return netpol.Selector(tuple(sorted(labels.items()))), desc + " (not in the input: every label)"
        return _selector(obj), desc

    def _guards(self, view: KubeView, pod: Mapping[str, Any], plan: Plan, options: Options) -> None:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        ns, name = str(meta.get("namespace")), str(meta.get("name"))
        guards = options.scope.guards if options.scope is not None else None
        if guards is not None and guards.control_plane(ns):
            plan.guards.append(f"namespace {ns} is a control-plane namespace")
        owner = view.owner(pod)
        if owner and owner[0] == "DaemonSet" and guards is not None and guards.system_daemonset(owner[1]):
            plan.guards.append(f"pod {ns}/{name} is the node's system add-on (DaemonSet {owner[1]})")
        if (meta.get("annotations") or {}).get("kubernetes.io/config.mirror"):
            plan.guards.append(
                f"pod {ns}/{name} is a static (mirror) pod: the kubelet owns it, the API cannot "
                "relabel it for real"
            )
        if spec.get("hostNetwork"):
            plan.guards.append(
                f"pod {ns}/{name} uses the host's network: NetworkPolicy does not apply to it, "
                "so it cannot be isolated this way (cordon and drain the node, or delete the pod)"
            )
        chain = self._owner_chain(view, pod)
        if chain and chain[0][0].startswith(("ReplicaSet", "StatefulSet")):
            owner_ref = view.owner(pod)
            siblings = [
                p
                for p in view.pods.values()
                if view.owner(p) == owner_ref
                and (p.get("metadata") or {}).get("namespace") == ns
                and (p.get("metadata") or {}).get("name") != name
            ]
            healthy = sum(1 for p in siblings if _ready(p))
            if healthy < options.min_replicas:
                plan.guards.append(
                    f"only {healthy} other ready replica(s) of {chain[-1][0]} would remain "
                    f"(--min-replicas {options.min_replicas})"
                )

    def _evidence_step(self, pod: Mapping[str, Any]) -> Step:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        ns, name = meta.get("namespace"), meta.get("name")
        containers = [
            c.get("name") for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
        ]
        return Step(
            "evidence",
            "Save the evidence before anything changes",
            f"pod {ns}/{name} spec and status, the last logs of container(s) "
            f"{', '.join(map(str, containers))} "
            f"(and of their previous run), the pod's events, node {spec.get('nodeName') or '(unscheduled)'}",
            [],
            ["pods/get", "pods/log", "events/list", "nodes/get"],
            ["logs are what the kubelet still has (rotation); nothing of the container's files or memory"],
        )

    def _deny_policy(
        self, namespace: str, qid: str, options: Options, match: dict[str, str]
    ) -> dict[str, Any]:
        ingress: list[dict[str, Any]] = []
        egress: list[dict[str, Any]] = []
        if options.allow_dns:
            egress.append(
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {netpol.NAMESPACE_NAME_LABEL: "kube-system"}
                            },
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            )
        for cidr in options.forensics_cidr:
            ingress.append({"from": [{"ipBlock": {"cidr": cidr}}]})
            egress.append({"to": [{"ipBlock": {"cidr": cidr}}]})
        spec: dict[str, Any] = {"podSelector": {"matchLabels": match}, "policyTypes": ["Ingress", "Egress"]}
        if ingress:
            spec["ingress"] = ingress
        if egress:
            spec["egress"] = egress
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": f"seawall-quarantine-{qid}",
                "namespace": namespace,
                "labels": {**MANAGED_BY, QUARANTINE_LABEL: qid},
            },
            "spec": spec,
        }

    def _policy_step(self, policy: dict[str, Any], options: Options) -> Step:
        meta = policy["metadata"]
        extras = []
        if options.allow_dns:
            extras.append("DNS to kube-dns (53/UDP, 53/TCP)")
        if options.forensics_cidr:
            extras.append(f"the forensics network {', '.join(options.forensics_cidr)}")
        try:
            netpol.parse_policy(policy)
        except netpol.PolicyError as err:
            raise InputError(f"the quarantine policy would be invalid: {err}") from None
        return Step(
            "deny-all",
            "Deny all ingress and egress of the quarantined pod",
            f"NetworkPolicy {meta['namespace']}/{meta['name']} selects "
            f"{QUARANTINE_LABEL}={meta['labels'][QUARANTINE_LABEL]} "
            "with policyTypes Ingress and Egress and "
            + ("only " + " and ".join(extras) if extras else "no rules"),
            [
                Change(
                    "create",
                    "NetworkPolicy",
                    meta["name"],
                    meta["namespace"],
                    policy,
                    {
                        "action": "delete",
                        "kind": "NetworkPolicy",
                        "name": meta["name"],
                        "namespace": meta["namespace"],
                    },
                )
            ],
            ["networkpolicies/create"],
            [
                "NetworkPolicies are additive: any other policy selecting the pod still allows its traffic "
                "(see residual)",
                "established connections may survive, depending on the CNI's conntrack handling",
            ],
        )

    def _override_step(
        self, view: KubeView, namespace: str, qid: str, options: Options, match: dict[str, str]
    ) -> Step | None:
        detected = view.cni()
        cni = options.cni or next((c for c in ("cilium", "calico", "anp") if c in detected), None)
        if cni in (None, "none"):
            return None
        name = f"seawall-quarantine-{qid}"
        labels = {**MANAGED_BY, QUARANTINE_LABEL: qid}
        limits: list[str] = []
        if cni == "cilium":
            obj: dict[str, Any] = {
                "apiVersion": "cilium.io/v2",
                "kind": "CiliumNetworkPolicy",
                "metadata": {"name": name, "namespace": namespace, "labels": labels},
                "spec": {
                    "endpointSelector": {"matchLabels": match},
                    "ingressDeny": [{"fromEntities": ["all"]}],
                    "egressDeny": [{"toEntities": ["all"]}],
                },
            }
            why = "Cilium evaluates deny rules before allow rules, so this wins over every allowing policy"
            if options.allow_dns or options.forensics_cidr:
                limits.append(
                    "Cilium deny rules cannot carve out DNS or a forensics network: they are denied too"
                )
            undo = {"action": "delete", "kind": "CiliumNetworkPolicy", "name": name, "namespace": namespace}
        elif cni == "calico":
            egress: list[dict[str, Any]] = []
            if options.allow_dns:
                egress.append(
                    {
                        "action": "Allow",
                        "protocol": "UDP",
                        "destination": {
                            "selector": "k8s-app == 'kube-dns'",
                            "namespaceSelector": "projectcalico.org/name == 'kube-system'",
                            "ports": [53],
                        },
                    }
                )
            ingress = [{"action": "Allow", "source": {"nets": [c]}} for c in options.forensics_cidr]
            egress += [{"action": "Allow", "destination": {"nets": [c]}} for c in options.forensics_cidr]
            obj = {
                "apiVersion": "crd.projectcalico.org/v1",
                "kind": "GlobalNetworkPolicy",
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "order": 0,
                    "selector": f"{QUARANTINE_LABEL} == '{qid}'",
                    "types": ["Ingress", "Egress"],
                    "ingress": [*ingress, {"action": "Deny"}],
                    "egress": [*egress, {"action": "Deny"}],
                },
            }
            why = (
                "Calico applies policies by order; order 0 with a final Deny runs before Kubernetes policies"
            )
            limits.append(
                "a Calico policy with a lower order value than 0 cannot exist; one of equal order is "
                "applied by name"
            )
            undo = {"action": "delete", "kind": "GlobalNetworkPolicy", "name": name}
        else:
            egress = []
            if options.allow_dns:
                egress.append(
                    {
                        "name": "dns",
                        "action": "Allow",
                        "to": [
                            {
                                "pods": {
                                    "namespaceSelector": {
                                        "matchLabels": {netpol.NAMESPACE_NAME_LABEL: "kube-system"}
                                    },
                                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                                }
                            }
                        ],
                        "ports": [{"portNumber": {"protocol": "UDP", "port": 53}}],
                    }
                )
            egress.append(
                {
                    "name": "deny-all",
                    "action": "Deny",
                    "to": [{"namespaces": {}}, {"networks": ["0.0.0.0/0", "::/0"]}],
                }
            )
            obj = {
                "apiVersion": "policy.networking.k8s.io/v1alpha1",
                "kind": "AdminNetworkPolicy",
                "metadata": {"name": name, "labels": labels},
                "spec": {
                    "priority": 0,
                    "subject": {
                        "pods": {
                            "namespaceSelector": {"matchLabels": {netpol.NAMESPACE_NAME_LABEL: namespace}},
                            "podSelector": {"matchLabels": match},
                        }
                    },
                    "ingress": [{"name": "deny-all", "action": "Deny", "from": [{"namespaces": {}}]}],
                    "egress": egress,
                },
            }
            why = "AdminNetworkPolicy is evaluated before NetworkPolicy; priority 0 comes first"
            limits.append(
                "AdminNetworkPolicy ingress peers are pods and namespaces: traffic from outside the "
                "cluster is left to the NetworkPolicy"
            )
            undo = {"action": "delete", "kind": "AdminNetworkPolicy", "name": name}
        step = Step(
            "override",
            f"Deny with precedence ({obj['kind']})",
            why,
            [Change("create", obj["kind"], name, obj["metadata"].get("namespace"), obj, undo)],
            [f"{obj['kind'].lower()}s/create"],
            limits,
        )
        step.detail += f" (policy engine: {cni}{'' if options.cni else ', detected'})"
        return step

    def _residual(
        self, view: KubeView, plan: Plan, target: netpol.Pod, deny: dict[str, Any], override: Step | None
    ) -> None:
        policies = []
        for _, obj in sorted(view.netpols.items()):
            try:
                policies.append(netpol.parse_policy(obj))
            except netpol.PolicyError as err:
                plan.warnings.append(f"{err}; not evaluated (the API server would have refused it)")
        ours = netpol.parse_policy(deny)
        pods = [netpol.parse_pod(p) for p in view.pods.values()]
        pods = [target if p.key == target.key else p for p in pods]
        cluster = netpol.Cluster(
            [netpol.parse_namespace(n) for n in view.namespaces.values()], pods, [*policies, ours]
        )
        overridden = f"step {override.id}: {override.changes[0].kind}" if override is not None else None
        if target.host_network:
            plan.residual.append(
                Residual(
                    "ingress",
                    f"pod {target.key} (hostNetwork)",
                    ["everything the node accepts"],
                    ["all"],
                    "NetworkPolicy does not apply to pods on the host's network",
                )
            )
            plan.residual.append(
                Residual(
                    "egress",
                    f"pod {target.key} (hostNetwork)",
                    ["everything the node reaches"],
                    ["all"],
                    "NetworkPolicy does not apply to pods on the host's network",
                )
            )
            return
        others = [p for p in pods if p.key != target.key and not p.host_network]
        for direction in ("ingress", "egress"):
            for pol in cluster.selecting(target, direction):
                if pol.key == ours.key:
                    continue
                for i, rule in enumerate(pol.rules(direction)):
                    plan.residual.append(
                        Residual(
                            direction,
                            f"NetworkPolicy {pol.key} {direction}[{i}]",
                            self._peers(cluster, pol, rule, others, direction, target),
                            [s.describe() for s in rule.ports] if rule.ports else ["all ports"],
                            self._why(pol, target),
                            overridden,
                        )
                    )
        self._reachable(cluster, plan, target, others, ours.key, overridden)

    @staticmethod
    def _why(pol: netpol.Policy, target: netpol.Pod) -> str:
        if pol.pod_selector.empty:
            return (
                f"its podSelector {{}} selects every pod of namespace {pol.namespace}, the quarantined one "
                "included; NetworkPolicies are additive, so the deny-all policy cannot take this away"
            )
        return (
            f"its podSelector {pol.pod_selector.describe()} still matches the pod's remaining labels; "
            "NetworkPolicies are additive, so the deny-all policy cannot take this away"
        )

    @staticmethod
    def _peers(
        cluster: netpol.Cluster,
        pol: netpol.Policy,
        rule: netpol.Rule,
        others: list[netpol.Pod],
        direction: str,
        target: netpol.Pod,
    ) -> list[str]:
        if rule.peers is None:
            described = ["every pod in every namespace and every address outside the cluster"]
            matched = [p.key for p in others]
        else:
            described = [p.describe(pol.namespace) for p in rule.peers]
            matched = [
                p.key
                for p in others
                if any(cluster.peer_matches(peer, pol.namespace, p) for peer in rule.peers)
            ]
        out = list(described)
        if matched:
            out.append(f"now: {_listing(sorted(matched))}")
        return out

    def _reachable(
        self,
        cluster: netpol.Cluster,
        plan: Plan,
        target: netpol.Pod,
        others: list[netpol.Pod],
        ours: str,
        overridden: str | None,
    ) -> None:
        """Concrete peers still allowed, both sides' policies evaluated (the target's ports inbound,
        each peer's ports outbound, and an address outside the cluster)."""
        target_ports = sorted({(cp.port, cp.protocol) for cp in target.ports}) or [(0, "TCP")]
        rows: list[dict[str, Any]] = []
        peers: list[netpol.Endpoint] = [*others, OUTSIDE]
        for peer in peers:
            for direction in ("ingress", "egress"):
                if direction == "ingress":
                    ports = target_ports
                else:
                    ports = (
                        sorted({(cp.port, cp.protocol) for cp in peer.ports})
                        if isinstance(peer, netpol.Pod)
                        else [(443, "TCP"), (53, "UDP")]
                    )
                    ports = ports or [(0, "TCP")]
                allowed: list[str] = []
                by: set[str] = set()
                for port, proto in ports:
                    # the target's side first: it denies almost everyone, and then the peer's
                    # policies need no evaluation
                    own = cluster.side(target, direction, peer, port, proto)
                    if not (own.allowed and own.isolated):
                        continue
                    other = cluster.side(
                        peer, "egress" if direction == "ingress" else "ingress", target, port, proto
                    )
                    if other.allowed:
                        allowed.append("any port" if port == 0 else f"{port}/{proto}")
                        by.update(str(r) for r in own.by if not str(r).startswith(ours + " "))
                if allowed:
                    name = peer.key if isinstance(peer, netpol.Pod) else f"outside the cluster (e.g. {peer})"
                    row: dict[str, Any] = {
                        "direction": direction,
                        "peer": name,
                        "ports": allowed,
                        "by": sorted(by),
                    }
                    if overridden:
                        row["overridden_by"] = overridden
                    rows.append(row)
        plan.reachable = rows

    def _availability(
        self,
        view: KubeView,
        pod: Mapping[str, Any],
        plan: Plan,
        owner_desc: str,
        services: list[dict[str, Any]],
        options: Options,
    ) -> None:
        chain = self._owner_chain(view, pod)
        meta = pod.get("metadata") or {}
        ns, name = meta.get("namespace"), meta.get("name")
        svc_names = ", ".join(f"{ns}/{(s.get('metadata') or {}).get('name')}" for s in services)
        if not chain:
            plan.costs.append(
                f"pod {ns}/{name} has no controller: nothing replaces it"
                + (f"; Service(s) {svc_names} lose this endpoint" if services else "")
            )
            return
        top, _ = chain[-1]
        first = chain[0][0]
        owner_ref = view.owner(pod)
        siblings = [
            p
            for p in view.pods.values()
            if view.owner(p) == owner_ref and (p.get("metadata") or {}).get("name") != name
        ]
        ready = sum(1 for p in siblings if _ready(p))
        if first.startswith("ReplicaSet") or first.startswith("DaemonSet"):
            plan.stays_up.append(
                f"{first}{' of ' + top if top != first else ''} no longer counts the pod and starts "
                f"a replacement; {ready} other ready replica(s) keep serving"
                + (f" Service(s) {svc_names}" if svc_names else "")
            )
        elif first.startswith("StatefulSet"):
            plan.stays_up.append(f"{ready} other ready replica(s) of {first} keep serving")
            plan.costs.append(
                f"{first} cannot start a replacement named {name} while the quarantined pod holds "
                "the name: one replica fewer until release or deletion"
            )
        elif first.startswith("Job"):
            plan.costs.append(f"{first} may start a new pod for the detached one")
        plan.costs.append(
            f"the quarantined pod keeps running on node {(pod.get('spec') or {}).get('nodeName')} "
            "(its CPU and memory stay reserved) until released or deleted"
        )
        if services:
            plan.costs.append(
                f"Service(s) {svc_names} lose this endpoint at once; clients on it see their "
                "connections fail or reset"
            )

    # -- a whole deployment -------------------------------------------------------------------------

    def _plan_deployment(self, view: KubeView, ref: WorkloadRef, options: Options) -> Plan:
        dep = view.deployments.get((ref.scope, ref.name))
        where = "the cluster" if view.source == "live" else view.source
        if dep is None:
            raise InputError(f"deployment {ref.scope}/{ref.name} not found in {where}" + _damage(view))
        template_labels = _labels((dep.get("spec") or {}).get("template") or {})
        if options.scope is not None:
            options.scope.check_k8s(ref.scope, template_labels, str(ref))
        if not options.whole and options.scale_to is None:
            raise Refused(
                f"{ref}: isolating a whole Deployment takes its service down; name one pod "
                f"(k8s:{ref.scope}/pod/NAME) or pass --deployment (isolate every replica) or "
                "--scale-to N"
            )
        qid = quarantine_id(ref, options)
        selector = _selector(dep)
        pods = [
            p
            for p in view.pods.values()
            if (p.get("metadata") or {}).get("namespace") == ref.scope and selector.matches(_labels(p))
        ]
        plan = Plan(workload=ref, targets=[self._describe(view, p) for p in pods], source=view.source)
        plan.warnings.extend(view.warnings + view.damaged)
        guards = options.scope.guards if options.scope is not None else None
        if guards is not None and guards.control_plane(ref.scope):
            plan.guards.append(f"namespace {ref.scope} is a control-plane namespace")
        for pod in pods:
            plan.steps.append(self._evidence_step(pod))
        override: Step | None = None
        policy: dict[str, Any] | None = None
        if options.whole:
            match = dict(selector.match_labels)
            if not match or selector.expressions:
                raise Refused(f"{ref}: its selector is not plain matchLabels; name its pods one by one")
            policy = self._deny_policy(ref.scope, qid, options, match)
            plan.steps.append(self._policy_step(policy, options))
            override = self._override_step(view, ref.scope, qid, options, match)
            if override is not None:
                plan.steps.append(override)
            plan.costs.append(
                f"every replica of Deployment {ref.scope}/{ref.name} (and every replacement) is cut off: "
                "the service is down until release"
            )
            if pods:
                self._residual(view, plan, netpol.parse_pod(pods[0]), policy, override)
        if options.scale_to is not None:
            replicas = int((dep.get("spec") or {}).get("replicas") or 1)
            plan.steps.append(
                Step(
                    "scale",
                    f"Scale Deployment {ref.scope}/{ref.name} from {replicas} to {options.scale_to} "
                    "replica(s)",
                    "an explicit scale-in: the Deployment's ReplicaSet deletes pods to match",
                    [
                        Change(
                            "patch",
                            "DeploymentScale",
                            ref.name,
                            ref.scope,
                            {"spec": {"replicas": options.scale_to}},
                            {
                                "action": "patch",
                                "kind": "DeploymentScale",
                                "name": ref.name,
                                "namespace": ref.scope,
                                "body": {"spec": {"replicas": replicas}},
                            },
                        )
                    ],
                    ["deployments/scale/patch"],
                    ["pods deleted by the scale-in lose their evidence: it is saved first (evidence steps)"],
                )
            )
            plan.costs.append(f"{max(replicas - options.scale_to, 0)} replica(s) fewer serving")
        return plan

    # -- applying -----------------------------------------------------------------------------------

    def apply(self, plan: Plan, options: Options) -> Applied:
        from seawall.respond import kube_client

        if options.sources:
            raise InputError(
                "an offline plan (--from) cannot be applied: run without --from against the cluster"
            )
        return kube_client.Executor(self.api_client(options)).apply(plan, options)

    def release(self, changes: list[Change], options: Options) -> list[str]:
        from seawall.respond import kube_client

        return kube_client.Executor(self.api_client(options)).release(changes)


KUBERNETES = KubernetesPlatform()


def _damage(view: Any) -> str:
    """Why the input may lack the workload: the files that could not be read at all."""
    if not view.damaged:
        return ""
    return f" ({view.damaged[0]}{f' and {len(view.damaged) - 1} more' if len(view.damaged) > 1 else ''})"
