"""Kubernetes RBAC: dangerous rules in Roles/ClusterRoles, and who is bound to them.

Every Role and ClusterRole definition is evaluated, even when another file defines one of the same
name (kustomize overlays, several clusters' manifests): nothing hides anything. A binding's roleRef
resolves to the role of that name in the same file, else in the same directory, else anywhere in the
input (`k8s_common.nearest`). Role-level checks are data (`grants:` in checks/kubernetes_rbac.yaml);
this module matches rules the way the API server's RBAC authorizer does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from seawall.core import Severity
from seawall.posture.base import Check, Context, load_checks
from seawall.posture.k8s_common import K8sObject, is_k8s, nearest, objects
from seawall.posture.loader import Document, LDict, LList

NAME = "kubernetes_rbac"
ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
ANONYMOUS = {"system:anonymous", "system:unauthenticated"}
# built-in ClusterRoles whose rights are known without their YAML
BUILTIN_ADMIN = {"cluster-admin"}
BUILTIN_POWERFUL = {"cluster-admin", "admin", "edit"}
NAMESPACE_ADMIN = {"cluster-admin", "admin"}
RBAC_DEFAULTS_LABEL = "kubernetes.io/bootstrapping"


def accepts(doc: Document) -> bool:
    return is_k8s(doc)


@dataclass(frozen=True, slots=True)
class Permission:
    """One resource as RBAC names it: group, resource, optional subresource."""

    group: str
    resource: str
    sub: str | None

    @classmethod
    def parse(cls, text: str) -> Permission:
        """`pods`, `pods/exec`, `deployments.apps`, `certificatesigningrequests/approval.certificates.k8s.io`
        (resource[/subresource][.group]; no group is the core group)."""
        name, _, group = text.partition(".")
        resource, _, sub = name.partition("/")
        return cls(group, resource, sub or None)


def _strings(values: object) -> list[str]:
    return [str(v) for v in values] if isinstance(values, list) else []


@dataclass(frozen=True, slots=True)
class Rule:
    """A PolicyRule's lists, read once."""

    verbs: frozenset[str]
    groups: frozenset[str]
    resources: tuple[str, ...]

    @classmethod
    def of(cls, rule: LDict) -> Rule:
        return cls(frozenset(_strings(rule.get("verbs"))), frozenset(_strings(rule.get("apiGroups"))),
                   tuple(_strings(rule.get("resources"))))


def rule_allows(rule: LDict | Rule, verbs: Iterable[str], perm: Permission) -> bool:
    """Whether one PolicyRule grants one of `verbs` on `perm` (the RBAC authorizer's matching)."""
    r = rule if isinstance(rule, Rule) else Rule.of(rule)
    if "*" not in r.verbs and r.verbs.isdisjoint(verbs):
        return False
    if "*" not in r.groups and perm.group not in r.groups:
        return False
    combined = f"{perm.resource}/{perm.sub}" if perm.sub else perm.resource
    for res in r.resources:
        if res in ("*", combined):
            return True
        if perm.sub is not None and res in (f"{perm.resource}/*", f"*/{perm.sub}"):
            return True
        if perm.sub == "*" and res.startswith(perm.resource + "/"):
            return True
    return False


def all_powerful(rule: LDict) -> bool:
    """Every verb on every resource of every (or the core) API group: cluster-admin's rule."""
    groups = _strings(rule.get("apiGroups"))
    return ("*" in _strings(rule.get("verbs")) and "*" in _strings(rule.get("resources"))
            and bool({"*", ""} & set(groups)))


@dataclass(slots=True)
class Binding:
    obj: K8sObject
    role_kind: str
    role_name: str
    subjects: list[tuple[str, str, str | None, int]]  # (kind, name, namespace, line)
    roles: list[K8sObject]  # the definitions its roleRef resolves to (nearest first), may be empty

    def describe(self) -> str:
        return f"{self.obj.kind} {self.obj.namespace + '/' if self.obj.namespace else ''}{self.obj.name}"


class Rbac:
    """Roles and bindings of one input, joined."""

    def __init__(self, objs: list[K8sObject]) -> None:
        self.roles = [o for o in objs if o.kind in ROLE_KINDS]
        by_key: dict[tuple[str, str | None, str], list[K8sObject]] = {}
        for role in self.roles:
            by_key.setdefault(self.role_key(role.kind, role.namespace, role.name), []).append(role)
        self.bindings: list[Binding] = []
        for obj in objs:
            if obj.kind not in BINDING_KINDS:
                continue
            ref = obj.data.get("roleRef")
            if not isinstance(ref, LDict):
                continue
            kind, name = str(ref.get("kind", "")), str(ref.get("name", ""))
            candidates = by_key.get(self.role_key(kind, obj.namespace, name), [])
            self.bindings.append(Binding(obj, kind, name, _subjects(obj), nearest(candidates, obj)))
        self.bound_by: dict[int, list[Binding]] = {}
        for b in self.bindings:
            for role in b.roles:
                self.bound_by.setdefault(id(role), []).append(b)

    @staticmethod
    def role_key(kind: str, namespace: str | None, name: str) -> tuple[str, str | None, str]:
        return kind, namespace if kind == "Role" else None, name

    def who(self, role: K8sObject) -> str:
        subs = [f"{k} {ns + '/' if ns else ''}{n}" for b in self.bound_by.get(id(role), [])
                for k, n, ns, _ in b.subjects]
        return f"; bound to {', '.join(subs[:5])}{' ...' if len(subs) > 5 else ''}" if subs else ""


def _subjects(obj: K8sObject) -> list[tuple[str, str, str | None, int]]:
    out = []
    subs = obj.data.get("subjects")
    if isinstance(subs, LList):
        for i, sub in enumerate(subs):
            if isinstance(sub, LDict):
                ns = sub.get("namespace") or (obj.namespace if sub.get("kind") == "ServiceAccount" else None)
                out.append((str(sub.get("kind", "")), str(sub.get("name", "")), ns,
                            sub.ln("name") if "name" in sub else subs.ln(i)))
    return out


@cache
def _permissions(resources: tuple[str, ...]) -> tuple[Permission, ...]:
    return tuple(Permission.parse(r) for r in resources)


def _rule_matches(rule: LDict, spec: dict[str, Any], role: K8sObject, parsed: Rule | None = None) -> bool:
    names = rule.get("resourceNames")
    if names:
        if spec.get("unless_names"):
            return False
        if spec.get("names_include") and spec["names_include"] not in _strings(names):
            return False
    if role.kind == "Role" and spec.get("role_namespaces") and role.namespace not in spec["role_namespaces"]:
        return False
    r = parsed or Rule.of(rule)
    verbs = frozenset(str(v) for v in spec["verbs"])
    if "*" not in r.verbs and r.verbs.isdisjoint(verbs):
        return False
    return any(rule_allows(r, verbs, p) for p in _permissions(tuple(str(x) for x in spec["resources"])))


def granting_rules(role: K8sObject, check: Check) -> list[LDict]:
    rules = role.data.get("rules")
    if not isinstance(rules, LList):
        return []
    return [r for r in rules if isinstance(r, LDict)
            and any(_rule_matches(r, spec, role) for spec in check.params["grants"])]


def _describe(rule: LDict) -> str:
    return (f"apiGroups={_strings(rule.get('apiGroups'))}, resources={_strings(rule.get('resources'))}, "
            f"verbs={_strings(rule.get('verbs'))}")


class Stream:
    """Keeps the Roles and bindings of the input (detached from their documents) for the join."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.objs: list[K8sObject] = []

    def feed(self, doc: Document) -> None:
        self.objs.extend(o.detached() for o in objects([doc]) if o.kind in ROLE_KINDS + BINDING_KINDS)

    def finish(self) -> None:
        judge(self.objs, self.ctx)
        self.objs = []


def open_stream(ctx: Context) -> Stream:
    return Stream(ctx)


def run(docs: list[Document], ctx: Context) -> None:
    judge([o for o in objects(docs) if o.kind in ROLE_KINDS + BINDING_KINDS], ctx)


def judge(objs: list[K8sObject], ctx: Context) -> None:
    checks = load_checks(NAME)
    rbac = Rbac(objs)
    role_checks = [c for c in checks.values() if "grants" in c.params and "subject" not in c.params]
    for role in rbac.roles:
        rules = role.data.get("rules")
        if not isinstance(rules, LList):
            continue
        subj = rbac.who(role)
        for rule in rules:
            if not isinstance(rule, LDict):
                continue
            verbs, resources = _strings(rule.get("verbs")), _strings(rule.get("resources"))
            groups = _strings(rule.get("apiGroups"))
            if "*" in verbs or "*" in resources or "*" in groups:
                field = "verbs" if "*" in verbs else "resources" if "*" in resources else "apiGroups"
                ctx.report(checks["SW-K8S-041"], role.resource(), role.path, rule.ln(field),
                           f"rule {field}: ['*'] ({_describe(rule)}){subj}", suppress=role.suppressions(),
                           extra=role.extra())
            parsed = Rule.of(rule)
            for check in role_checks:
                if any(_rule_matches(rule, spec, role, parsed) for spec in check.params["grants"]):
                    line = rule.ln("verbs" if check.id in ("SW-K8S-044", "SW-K8S-045") else "resources")
                    ctx.report(check, role.resource(), role.path, line, _describe(rule) + subj,
                               suppress=role.suppressions(), extra=role.extra())
    for b in rbac.bindings:
        _binding(b, checks, ctx)


def _binding(b: Binding, checks: dict[str, Check], ctx: Context) -> None:
    sup = b.obj.suppressions()
    res = b.obj.resource()
    extra = b.obj.extra()
    ref = b.obj.data.get("roleRef")
    ref_line = ref.ln("name") if isinstance(ref, LDict) else b.obj.line
    role_rules = [r for role in b.roles for r in (role.data.get("rules") or []) if isinstance(r, LDict)]
    admin = (b.role_name in BUILTIN_ADMIN and b.role_kind == "ClusterRole" and not b.roles) or any(
        all_powerful(r) for r in role_rules)
    subs = [f"{k} {n}" for k, n, _, _ in b.subjects if n != "system:masters"]
    if subs and b.obj.kind == "ClusterRoleBinding" and admin:
        ctx.report(checks["SW-K8S-040"], res, b.obj.path, ref_line,
                   f"roleRef {b.role_kind} {b.role_name} (every verb on every resource) -> {', '.join(subs)}",
                   suppress=sup, extra=extra)
    elif subs and b.obj.kind == "RoleBinding" and (admin or (
            b.role_name in NAMESPACE_ADMIN and b.role_kind == "ClusterRole" and not b.roles)):
        ctx.report(checks["SW-K8S-048"], res, b.obj.path, ref_line,
                   f"roleRef {b.role_kind} {b.role_name} in namespace {b.obj.namespace or '?'} -> "
                   f"{', '.join(subs)}", suppress=sup, extra=extra)
    # a role that is not in the input may hold anything; one that is, with no rules, grants nothing
    has_rights = b.role_name in BUILTIN_POWERFUL or not b.roles or bool(role_rules)
    defaults = b.obj.meta.get("labels")
    rbac_default = isinstance(defaults, dict) and defaults.get(RBAC_DEFAULTS_LABEL) == "rbac-defaults"
    authenticated = checks["SW-K8S-070"]
    for kind, name, _ns, line in b.subjects:
        if name in ANONYMOUS:
            ctx.report(checks["SW-K8S-046"], res, b.obj.path, line,
                       f"{kind} {name} bound to {b.role_kind} {b.role_name}", suppress=sup, extra=extra)
        if kind == "ServiceAccount" and name == "default" and has_rights and not rbac_default:
            ctx.report(checks["SW-K8S-047"], res, b.obj.path, line,
                       f"ServiceAccount default bound to {b.role_kind} {b.role_name}", suppress=sup,
                       extra=extra)
        if kind == "Group" and name == authenticated.params["subject"]:
            granted = [r for role in b.roles for r in granting_rules(role, authenticated)]
            if granted or (b.role_name in BUILTIN_POWERFUL and not b.roles):
                ctx.report(authenticated, res, b.obj.path, line,
                           f"Group {name} bound to {b.role_kind} {b.role_name}"
                           + (f" ({_describe(granted[0])})" if granted else ""),
                           suppress=sup, extra=extra,
                           severity=Severity.CRITICAL if admin else None)
