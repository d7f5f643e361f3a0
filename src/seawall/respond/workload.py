"""WORKLOAD on the command line -> a WorkloadRef.

`k8s:NAMESPACE/pod/NAME`, `k8s:NAMESPACE/deployment/NAME`, `ecs:CLUSTER/task/ID`,
`ecs:CLUSTER/service/NAME`, or a finding/incident id whose workload is taken. Ids are resolved
by a `FindingResolver`: today from findings report files (`--findings report.json`); the service
plugs its store in with `set_resolver` (incident ids included) without touching the CLI.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from seawall.bounded import read_file_capped
from seawall.core.errors import InputError
from seawall.respond.base import WorkloadRef

KINDS = {"k8s": ("pod", "deployment"), "ecs": ("task", "service")}
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_ECS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,254}$")
_ID = re.compile(r"^[0-9a-f]{8,64}$")
REPORT_CAP = 256 << 20

FindingResolver = Callable[[str], WorkloadRef | None]
_resolver: FindingResolver | None = None


def set_resolver(resolver: FindingResolver | None) -> None:
    """The service registers its store lookup here (finding and incident ids)."""
    global _resolver
    _resolver = resolver


def parse(text: str, findings: Sequence[Path] = ()) -> WorkloadRef:
    """A workload reference, or a finding/incident id looked up in `findings` (or the service)."""
    text = text.strip()
    platform, sep, rest = text.partition(":")
    if sep and platform in KINDS:
        parts = rest.split("/")
        if len(parts) != 3 or not all(parts):
            raise InputError(
                f"workload {text!r}: expected {platform}:"
                f"{'NAMESPACE' if platform == 'k8s' else 'CLUSTER'}/KIND/NAME"
            )
        scope, kind, name = parts
        kind = kind.lower()
        if kind not in KINDS[platform]:
            raise InputError(f"workload {text!r}: kind must be {' or '.join(KINDS[platform])}")
        pattern = _K8S_NAME if platform == "k8s" else _ECS_NAME
        for part in (scope, name):
            if not pattern.match(part):
                raise InputError(f"workload {text!r}: {part!r} is not a valid {platform} name")
        return WorkloadRef(platform, scope, kind, name)
    if _ID.match(text.lower()):
        return resolve_id(text.lower(), findings)
    raise InputError(
        f"unknown workload {text!r}: use k8s:NAMESPACE/pod/NAME, k8s:NAMESPACE/deployment/NAME, "
        "ecs:CLUSTER/task/ID, ecs:CLUSTER/service/NAME or a finding id with --findings"
    )


def resolve_id(finding_id: str, findings: Sequence[Path]) -> WorkloadRef:
    if _resolver is not None:
        ref = _resolver(finding_id)
        if ref is not None:
            return ref
    if not findings:
        raise InputError(
            f"{finding_id} looks like a finding id: give the report that holds it with "
            "--findings report.json (or run `seawall serve`)"
        )
    matches: list[dict[str, Any]] = []
    for path in findings:
        for finding in _load_findings(path):
            fid = str(finding.get("id") or "")
            if fid == finding_id or (len(finding_id) >= 8 and fid.startswith(finding_id)):
                matches.append(finding)
    if not matches:
        raise InputError(f"finding {finding_id} is not in {', '.join(str(p) for p in findings)}")
    ids = {str(m.get("id")) for m in matches}
    if len(ids) > 1:
        raise InputError(
            f"finding id prefix {finding_id} is ambiguous ({len(ids)} findings); give more of it"
        )
    return workload_of(matches[0])


def _load_findings(path: Path) -> list[dict[str, Any]]:
    data = read_file_capped(path, REPORT_CAP)
    try:
        if path.suffix == ".jsonl":
            docs = [orjson.loads(line) for line in data.splitlines() if line.strip()]
            return [d for d in docs if isinstance(d, dict)]
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as err:
        raise InputError(f"{path}: not a JSON findings report ({err})") from None
    if isinstance(doc, dict) and isinstance(doc.get("findings"), list):
        return [f for f in doc["findings"] if isinstance(f, dict)]
    if isinstance(doc, list):
        return [f for f in doc if isinstance(f, dict)]
    raise InputError(f"{path}: not a seawall findings report (no 'findings' list)")


def workload_of(finding: dict[str, Any]) -> WorkloadRef:
    """The workload a finding concerns (its `resource`), as a WorkloadRef."""
    res = finding.get("resource") or {}
    rtype = str(res.get("type") or "")
    name, ns = res.get("name"), res.get("namespace")
    fid = finding.get("id", "?")
    platform, _, kind = rtype.partition(":")
    kind = kind.lower()
    if platform == "k8s" and kind in ("pod", "deployment") and name and ns:
        return parse(f"k8s:{ns}/{kind}/{name}")
    if platform == "k8s" and kind in ("replicaset", "statefulset", "daemonset", "job") and name and ns:
        raise InputError(
            f"finding {fid} concerns {kind} {ns}/{name}: name one of its pods (k8s:{ns}/pod/NAME)"
        )
    if platform == "ecs" and kind in ("task", "service") and name and ns:
        return parse(f"ecs:{ns}/{kind}/{name}")
    raise InputError(
        f"finding {fid} concerns {rtype or 'no resource'} {name or ''}: not a workload "
        "seawall can isolate (a Kubernetes pod/deployment or an ECS task/service)"
    )
