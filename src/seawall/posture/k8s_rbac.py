"""Kubernetes RBAC: dangerous rules in Roles/ClusterRoles, and who is bound to them (joined across files)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from seawall.posture.base import Context, load_checks
from seawall.posture.k8s_common import K8sObject, is_k8s, objects
from seawall.posture.loader import Document, LDict, LList

NAME = "kubernetes_rbac"
ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
ANONYMOUS = {"system:anonymous", "system:unauthenticated"}
POD_CREATORS = {"pods", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs",
                "replicationcontrollers"}
# built-in ClusterRoles whose rights are known without their YAML
BUILTIN_POWERFUL = {"cluster-admin", "admin", "edit"}


def accepts(doc: Document) -> bool:
    return is_k8s(doc)


@dataclass(slots=True)
class Binding:
    obj: K8sObject
    role_kind: str
    role_name: str
    subjects: list[tuple[str, str, str | None, int]]  # (kind, name, namespace, line)

    def describe(self) -> str:
        return f"{self.obj.kind} {self.obj.namespace + '/' if self.obj.namespace else ''}{self.obj.name}"


def _bindings(objs: list[K8sObject]) -> list[Binding]:
    out = []
    for obj in objs:
        if obj.kind not in BINDING_KINDS:
            continue
        ref = obj.data.get("roleRef")
        if not isinstance(ref, LDict):
            continue
        subjects = []
        subs = obj.data.get("subjects")
        if isinstance(subs, LList):
            for i, sub in enumerate(subs):
                if isinstance(sub, LDict):
                    ns = sub.get("namespace") or (
                        obj.namespace if sub.get("kind") == "ServiceAccount" else None)
                    subjects.append((str(sub.get("kind", "")), str(sub.get("name", "")), ns,
                                     sub.ln("name") if "name" in sub else subs.ln(i)))
        out.append(Binding(obj, str(ref.get("kind", "")), str(ref.get("name", "")), subjects))
    return out


def _lower(values: object) -> list[str]:
    return [str(v) for v in values] if isinstance(values, list) else []


def run(docs: list[Document], ctx: Context) -> None:
    checks = load_checks(NAME)
    objs = [o for o in objects(docs) if o.kind in ROLE_KINDS + BINDING_KINDS]
    bindings = _bindings(objs)
    bound: dict[tuple[str, str | None, str], list[Binding]] = defaultdict(list)
    for b in bindings:
        ns = None if b.role_kind == "ClusterRole" else b.obj.namespace
        bound[(b.role_kind, ns, b.role_name)].append(b)
    roles: dict[tuple[str, str | None, str], K8sObject] = {}
    for obj in objs:
        if obj.kind in ROLE_KINDS:
            roles[(obj.kind, obj.namespace if obj.kind == "Role" else None, obj.name)] = obj

    def who(key: tuple[str, str | None, str]) -> str:
        subs = [f"{k} {ns + '/' if ns else ''}{n}" for b in bound.get(key, []) for k, n, ns, _ in b.subjects]
        return f"; bound to {', '.join(subs[:5])}{' ...' if len(subs) > 5 else ''}" if subs else ""

    for key, role in roles.items():
        rules = role.data.get("rules")
        if not isinstance(rules, LList):
            continue
        sup = role.suppressions()
        extra = role.extra()
        subj = who(key)
        for rule in rules:
            if not isinstance(rule, LDict):
                continue
            verbs = _lower(rule.get("verbs"))
            resources = _lower(rule.get("resources"))
            groups = _lower(rule.get("apiGroups"))
            names = rule.get("resourceNames")
            vline = rule.ln("verbs")
            rline = rule.ln("resources")
            def rep(cid: str, line: int, ev: str, role: K8sObject = role, subj: str = subj,
                    sup: set[str] = sup, extra: dict[str, Any] = extra) -> None:
                ctx.report(checks[cid], role.resource(), role.path, line, ev + subj, suppress=sup,
                           extra=extra)
            if "*" in verbs or "*" in resources or "*" in groups:
                field = "verbs" if "*" in verbs else "resources" if "*" in resources else "apiGroups"
                rep("SW-K8S-041", rule.ln(field), f"rule {field}: ['*'] "
                    f"(apiGroups={groups}, resources={resources}, verbs={verbs})")
            any_verb = "*" in verbs
            core = not groups or "" in groups or "*" in groups
            if core and ("secrets" in resources or "*" in resources) and not names and (
                    any_verb or {"get", "list", "watch"} & set(verbs)):
                rep("SW-K8S-042", rline, f"secrets: {sorted(set(verbs) & {'get', 'list', 'watch', '*'})}")
            if core and ({"pods/exec", "pods/attach"} & set(resources) or "*" in resources) and (
                    any_verb or {"create", "get"} & set(verbs)):
                rep("SW-K8S-043", rline, f"resources {resources} verbs {verbs}")
            creatable = POD_CREATORS & set(resources) or "*" in resources
            if creatable and (any_verb or "create" in verbs):
                rep("SW-K8S-044", vline, f"create on {sorted(POD_CREATORS & set(resources)) or ['*']}")
            dangerous = {"escalate", "bind", "impersonate"} & set(verbs)
            # "*" verbs include escalate/bind on RBAC roles and impersonate on core identities
            rbac_group = not groups or bool({"*", "rbac.authorization.k8s.io"} & set(groups))
            wild_rbac = rbac_group and bool({"roles", "clusterroles", "*"} & set(resources))
            wild_identity = core and bool({"users", "groups", "serviceaccounts", "*"} & set(resources))
            if dangerous or (any_verb and (wild_rbac or wild_identity)):
                rep("SW-K8S-045", vline, f"verbs {sorted(dangerous) or verbs} on {resources}")

    for b in bindings:
        sup = b.obj.suppressions()
        res = b.obj.resource()
        ref = b.obj.data.get("roleRef")
        ref_line = ref.ln("name") if isinstance(ref, LDict) else b.obj.line
        if b.role_name == "cluster-admin" and b.role_kind == "ClusterRole":
            subs = [f"{k} {n}" for k, n, _, _ in b.subjects if n != "system:masters"]
            if subs:
                ctx.report(checks["SW-K8S-040"], res, b.obj.path, ref_line,
                           f"roleRef cluster-admin -> {', '.join(subs)}", suppress=sup, extra=b.obj.extra())
        role_key = (b.role_kind, None if b.role_kind == "ClusterRole" else b.obj.namespace, b.role_name)
        bound_role = roles.get(role_key)
        has_rights = b.role_name in BUILTIN_POWERFUL or (
            bound_role is not None and isinstance(bound_role.data.get("rules"), list)
            and bool(bound_role.data["rules"]))
        for kind, name, _ns, line in b.subjects:
            if name in ANONYMOUS:
                ctx.report(checks["SW-K8S-046"], res, b.obj.path, line,
                           f"{kind} {name} bound to {b.role_kind} {b.role_name}", suppress=sup,
                           extra=b.obj.extra())
            if kind == "ServiceAccount" and name == "default" and has_rights:
                ctx.report(checks["SW-K8S-047"], res, b.obj.path, line,
                           f"ServiceAccount default bound to {b.role_kind} {b.role_name}", suppress=sup,
                           extra=b.obj.extra())
