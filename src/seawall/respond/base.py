"""The one interface of `seawall respond`: a Platform builds a Plan for a workload, applies it, and
releases it. Plans are data: steps, the objects each step creates or changes (with how to undo
it), and `residual` -- what would still be allowed to reach the workload or be reached by it.

    platform = respond.platform_for(ref)              # kubernetes or ecs, by the ref's prefix
    plan = platform.plan(ref, options)                # never changes anything
    applied = platform.apply(plan, options)           # --apply: carries the steps out, in order
    platform.release(record, options)                 # undoes what `apply` recorded
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from seawall.core.errors import SeawallError


class Refused(SeawallError):
    """A guard or the configured scope refuses the action (exit 2, nothing changed)."""


@dataclass(frozen=True, slots=True)
class WorkloadRef:
    """`k8s:NAMESPACE/pod/NAME`, `k8s:NAMESPACE/deployment/NAME`, `ecs:CLUSTER/task/ID`,
    `ecs:CLUSTER/service/NAME`."""

    platform: str  # k8s | ecs
    scope: str  # the namespace or the cluster
    kind: str  # pod | deployment | task | service
    name: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.scope}/{self.kind}/{self.name}"


@dataclass(slots=True)
class Change:
    """One object that a step creates, changes or deletes, and how `release` undoes it."""

    action: str  # create | patch | delete | call
    kind: str  # NetworkPolicy, Pod, NetworkAclEntry, TargetGroup, TaskProtection, ...
    name: str
    namespace: str | None = None
    body: dict[str, Any] = field(default_factory=dict)  # the object, patch or request
    undo: dict[str, Any] | None = None  # what release does (same shape: action/kind/name/body)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        out["body"] = self.body
        if self.undo is not None:
            out["undo"] = self.undo
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Change:
        return cls(
            raw["action"],
            raw["kind"],
            raw["name"],
            raw.get("namespace"),
            raw.get("body") or {},
            raw.get("undo"),
        )


@dataclass(slots=True)
class Step:
    id: str  # evidence, detach, quarantine-label, deny-all, override, protect, deregister, nacl, ...
    title: str
    detail: str = ""
    changes: list[Change] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # API actions the step needs (for permissions)
    limits: list[str] = field(default_factory=list)
    optional: bool = False  # offered, carried out only when asked (e.g. --stop)
    enabled: bool = True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "title": self.title}
        if self.detail:
            out["detail"] = self.detail
        out["changes"] = [c.to_dict() for c in self.changes]
        if self.calls:
            out["calls"] = self.calls
        if self.limits:
            out["limits"] = self.limits
        if self.optional:
            out["optional"] = True
            out["enabled"] = self.enabled
        return out


@dataclass(slots=True)
class Residual:
    """A policy or rule that would still allow traffic to (ingress) or from (egress) the workload."""

    direction: str  # ingress | egress
    source: str  # "NetworkPolicy shop/allow-same-namespace ingress[0]", "subnet 10.0.1.0/24", ...
    peers: list[str]  # who: described selectors, and the concrete pods/addresses they match now
    ports: list[str]
    why: str = ""
    overridden_by: str | None = None  # a step whose policy takes precedence (Cilium deny, ...)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "direction": self.direction,
            "source": self.source,
            "peers": self.peers,
            "ports": self.ports,
        }
        if self.why:
            out["why"] = self.why
        if self.overridden_by:
            out["overridden_by"] = self.overridden_by
        return out


@dataclass(slots=True)
class Plan:
    workload: WorkloadRef
    targets: list[dict[str, Any]]  # the pods or tasks acted on: name, ip, node/host, owner, ...
    steps: list[Step] = field(default_factory=list)
    residual: list[Residual] = field(default_factory=list)
    reachable: list[dict[str, Any]] = field(default_factory=list)  # concrete peers still allowed
    stays_up: list[str] = field(default_factory=list)  # what keeps serving, and why
    costs: list[str] = field(default_factory=list)  # what the isolation costs
    warnings: list[str] = field(default_factory=list)
    guards: list[str] = field(default_factory=list)  # what a guard refuses (unless --force)
    source: str = "live"  # live | the files an offline plan was computed from

    @property
    def isolated(self) -> bool:
        """True only when nothing in `residual` still allows traffic (overrides counted)."""
        return not any(r.overridden_by is None for r in self.residual)

    def changes(self) -> list[Change]:
        return [c for s in self.steps if s.enabled for c in s.changes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "seawall.respond.plan/v1",
            "workload": str(self.workload),
            "source": self.source,
            "targets": self.targets,
            "isolated": self.isolated,
            "steps": [s.to_dict() for s in self.steps],
            "residual": [r.to_dict() for r in self.residual],
            "reachable": self.reachable,
            "stays_up": self.stays_up,
            "costs": self.costs,
            "warnings": self.warnings,
            "guards": self.guards,
        }


@dataclass(slots=True)
class Options:
    """What the CLI (or the service) asks for; each platform reads the fields it knows."""

    sources: list[Path] = field(default_factory=list)  # --from: offline dumps
    force: bool = False  # past the guards (never past the scope)
    min_replicas: int = 1  # healthy replicas that must remain
    allow_dns: bool = False
    forensics_cidr: list[str] = field(default_factory=list)
    whole: bool = False  # --deployment / --service: act on every replica
    scale_to: int | None = None  # explicit scale-in of the deployment/service
    stop: bool = False  # ECS StopTask after the evidence
    exec_snapshot: bool = False  # ECS Exec: processes and connections, when the task allows it
    cni: str | None = None  # cilium | calico | anp | none (default: detected)
    evidence_dir: Path | None = None
    quarantine_id: str | None = None  # stable id for the quarantine label and policy names
    nacl_rule_limit: int = 20  # rules per direction per network ACL (AWS default quota)
    protection_minutes: int = 2880
    isolate_host: bool = False  # ECS bridge/host: swap the instance's security groups
    # live access
    kubeconfig: str | None = None
    context: str | None = None
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    scope: Any = None  # seawall.respond.scope.Scope


@dataclass(slots=True)
class Applied:
    """What `apply` did: the changes carried out (each with its undo), the evidence bundle."""

    changes: list[Change] = field(default_factory=list)
    evidence: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changes": [c.to_dict() for c in self.changes],
            "evidence": self.evidence,
            "notes": self.notes,
        }


@runtime_checkable
class Platform(Protocol):
    name: str

    def plan(self, ref: WorkloadRef, options: Options) -> Plan:
        """Read the platform (live or from `options.sources`) and plan; never changes anything."""
        ...

    def apply(self, plan: Plan, options: Options) -> Applied:
        """Evidence first, then each enabled step in order; stops at the first failure (what was
        done so far is in the raised error's `applied` and is recorded for release)."""
        ...

    def release(self, changes: list[Change], options: Options) -> list[str]:
        """Undo recorded changes in reverse order; returns one line per undone change."""
        ...


class ApplyFailed(SeawallError):
    """A step failed half-way; `applied` holds what was done (recorded so release can undo it)."""

    def __init__(self, message: str, applied: Applied) -> None:
        super().__init__(message)
        self.applied = applied
