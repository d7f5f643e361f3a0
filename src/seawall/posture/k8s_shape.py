"""The shape of the Kubernetes fields the checks read: a field of the wrong type (`containers: "x"`,
`privileged: "true"`) would make the checks that read it pass silently, so it is reported as a
skip ("field ... not analyzed: expected a list, found a string"); the API server would refuse the
object anyway.

Paths are written relative to the object (`spec.template.spec`), with `[]` for "every item of
this list"; a null is an absent field. Only the fields some check reads are listed.
"""

from __future__ import annotations

from collections.abc import Iterator
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


def _fits(value: Any, expected: str) -> bool:
    if expected == "map":
        return isinstance(value, dict)
    if expected == "list":
        return isinstance(value, list)
    if expected == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


def _values(data: Any, path: str) -> Iterator[tuple[str, Any, int]]:
    """(concrete path, value, line) of every value at `path` (items of `[]` lists expanded)."""
    nodes: list[tuple[str, Any, int]] = [("", data, getattr(data, "line", 0))]
    for part in path.split("."):
        each = part.endswith("[]")
        key = part[:-2] if each else part
        nxt: list[tuple[str, Any, int]] = []
        for where, node, line in nodes:
            if not isinstance(node, dict) or node.get(key) is None:
                continue
            value = node[key]
            at = f"{where}.{key}" if where else key
            vline = node.ln(key) if isinstance(node, LDict) else line
            if each:
                if isinstance(value, list):
                    nxt.extend((f"{at}[{i}]", item, value.ln(i) if isinstance(value, LList) else vline)
                               for i, item in enumerate(value) if item is not None)
            else:
                nxt.append((at, value, vline))
        nodes = nxt
    return iter(nodes)


def problems(obj: K8sObject) -> list[tuple[str, str, int]]:
    """(field path, what is wrong, line) of every checked field of the wrong type."""
    out: list[tuple[str, str, int]] = []
    table = {**COMMON, **SHAPES.get(obj.kind, {})}
    bad_parents: list[str] = []
    for path, expected in table.items():
        for at, value, line in _values(obj.data, path):
            if any(at.startswith(p + ".") or at.startswith(p + "[") for p in bad_parents):
                continue
            if not _fits(value, expected):
                bad_parents.append(at)
                out.append((at, f"expected a {_NAMES[expected]}, found a {_type_name(value)}", line))
    return out
