"""The shape of the Kubernetes fields the checks read: a field of the wrong type (`containers: "x"`,
`privileged: "true"`) would make the checks that read it pass silently, so it is reported as a
skip ("field ... not analyzed: expected a list, found a string"); the API server would refuse the
object anyway.

Paths are written relative to the object (`spec.template.spec`), with `[]` for "every item of
this list"; a null is an absent field. Only the fields some check reads are listed.
"""

from __future__ import annotations

from typing import Any

from seawall.posture.k8s_common import WORKLOAD_KINDS, K8sObject
from seawall.posture.loader import LDict, LList

_CONTAINER = {
    "": "map", "image": "str", "command": "list", "args": "list", "env": "list", "env[]": "map",
    "envFrom": "list", "envFrom[]": "map", "ports": "list", "ports[]": "map", "resources": "map",
    "resources.limits": "map", "resources.requests": "map", "securityContext": "map",
    "securityContext.capabilities": "map", "securityContext.capabilities.add": "list",
    "securityContext.capabilities.drop": "list", "securityContext.privileged": "bool",
    "securityContext.allowPrivilegeEscalation": "bool", "securityContext.readOnlyRootFilesystem": "bool",
    "securityContext.runAsNonRoot": "bool", "securityContext.seccompProfile": "map",
}
POD_SPEC: dict[str, str] = {
    "": "map", "volumes": "list", "volumes[]": "map", "securityContext": "map",
    "securityContext.sysctls": "list", "securityContext.seccompProfile": "map", "hostNetwork": "bool",
    "hostPID": "bool", "hostIPC": "bool", "automountServiceAccountToken": "bool",
}
for _field in ("containers", "initContainers", "ephemeralContainers"):
    POD_SPEC[_field] = "list"
    POD_SPEC.update({f"{_field}[].{k}" if k else f"{_field}[]": v for k, v in _CONTAINER.items()})


def _under(prefix: str, table: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}.{k}" if k else prefix: v for k, v in table.items()}


_TEMPLATE = {"": "map", "metadata": "map", "metadata.labels": "map", "metadata.annotations": "map"}
SHAPES: dict[str, dict[str, str]] = {
    "Pod": {"spec": "map", **_under("spec", POD_SPEC)},
    "PodTemplate": {**_under("template", _TEMPLATE), **_under("template.spec", POD_SPEC)},
    "CronJob": {"spec": "map", "spec.jobTemplate": "map", "spec.jobTemplate.spec": "map",
                **_under("spec.jobTemplate.spec.template", _TEMPLATE),
                **_under("spec.jobTemplate.spec.template.spec", POD_SPEC)},
    "Role": {"rules": "list", "rules[]": "map", "rules[].verbs": "list", "rules[].resources": "list",
             "rules[].apiGroups": "list", "rules[].resourceNames": "list"},
    "RoleBinding": {"subjects": "list", "subjects[]": "map", "roleRef": "map"},
    "Service": {"spec": "map", "spec.selector": "map", "spec.ports": "list"},
    "NetworkPolicy": {"spec": "map", "spec.podSelector": "map", "spec.ingress": "list",
                      "spec.egress": "list", "spec.policyTypes": "list"},
    "Ingress": {"spec": "map", "spec.rules": "list", "spec.tls": "list"},
    "ConfigMap": {"data": "map"},
    "ServiceAccount": {"automountServiceAccountToken": "bool"},
}
SHAPES["ClusterRole"] = SHAPES["Role"]
SHAPES["ClusterRoleBinding"] = SHAPES["RoleBinding"]
for _kind in WORKLOAD_KINDS - {"Pod", "PodTemplate", "CronJob"}:
    SHAPES[_kind] = {"spec": "map", **_under("spec.template", _TEMPLATE),
                     **_under("spec.template.spec", POD_SPEC)}
COMMON = {"metadata": "map", "metadata.labels": "map", "metadata.annotations": "map"}

_NAMES = {"map": "mapping", "list": "list", "str": "string", "bool": "boolean"}


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return "number" if isinstance(value, (int, float)) else type(value).__name__


class _Node:
    """One field of the schema: its expected type, the fields under it, the shape of its items."""

    __slots__ = ("children", "expected", "items")

    def __init__(self) -> None:
        self.expected: str | None = None
        self.children: dict[str, _Node] = {}
        self.items: _Node | None = None


def _compile(table: dict[str, str]) -> _Node:
    root = _Node()
    for path, expected in table.items():
        node = root
        for part in path.split("."):
            each = part.endswith("[]")
            node = node.children.setdefault(part[:-2] if each else part, _Node())
            if each:
                node.items = node.items or _Node()
                node = node.items
        node.expected = expected
    return root


_COMPILED: dict[str, _Node] = {}


def _schema(kind: str) -> _Node:
    node = _COMPILED.get(kind)
    if node is None:
        node = _COMPILED[kind] = _compile({**COMMON, **SHAPES.get(kind, {})})
    return node


_TYPES: dict[str, type] = {"map": dict, "list": list, "bool": bool, "str": str}
Problem = tuple[tuple[str | int, ...], str, Any, Any, str | int]  # path, expected, value, parent, key


def _walk(value: Any, node: _Node, path: tuple[str | int, ...], out: list[Problem]) -> None:
    """Check what is under `value` (whose own type the caller checked) against `node` and descend
    where the schema goes on; a field of the wrong type is noted once and not descended into. This
    runs for every object read: paths and lines are only worked out for the rare problem."""
    children = node.children
    if children and isinstance(value, dict):
        for key, sub in value.items():  # an object holds fewer fields than the schema names
            child = children.get(key)
            if child is None or sub is None:
                continue
            expected = child.expected
            if expected is not None and not isinstance(sub, _TYPES[expected]):
                out.append(((*path, key), expected, sub, value, key))
            elif child.children or child.items is not None:
                _walk(sub, child, (*path, key), out)
    items = node.items
    if items is not None and isinstance(value, list):
        expected = items.expected
        deeper = bool(items.children) or items.items is not None
        for i, item in enumerate(value):
            if item is None:
                continue
            if expected is not None and not isinstance(item, _TYPES[expected]):
                out.append(((*path, i), expected, item, value, i))
            elif deeper:
                _walk(item, items, (*path, i), out)


def _shown(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(path))


def problems(obj: K8sObject) -> list[tuple[str, str, int]]:
    """(field path, what is wrong, line) of every checked field of the wrong type."""
    found: list[Problem] = []
    _walk(obj.data, _schema(obj.kind), (), found)
    out = []
    for path, expected, value, parent, key in found:
        if isinstance(key, int):
            line = parent.ln(key) if isinstance(parent, LList) else obj.line
        else:
            line = parent.ln(key) if isinstance(parent, LDict) else obj.line
        out.append((_shown(path), f"expected a {_NAMES[expected]}, found a {_type_name(value)}", line))
    return out
