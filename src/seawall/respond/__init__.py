"""`seawall respond`: isolate one workload (a pod or an ECS task) without pulling the cluster down.

    from seawall import respond

    plan = respond.plan("k8s:shop/pod/frontend-6f7d9c8b4-x2kqz", respond.Options(sources=[dump]))
    outcome = respond.isolate("ecs:prod/task/7e0c1f0a...", options, apply=True, actor="me", reason="IR-7")
    outcome = respond.release("ecs:prod/task/7e0c1f0a...", options, apply=True, actor="me", reason="done")

Platforms (one module each behind `base.Platform`) are registered in PLATFORMS by the prefix of
the workload reference. Dry run is the default; every action goes to the audit trail.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall.core.errors import InputError, SeawallError
from seawall.respond import audit, workload
from seawall.respond.base import (
    Applied,
    ApplyFailed,
    Change,
    Options,
    Plan,
    Platform,
    Refused,
    Residual,
    Step,
    WorkloadRef,
)

# workload prefix -> "module:attribute"
PLATFORMS: dict[str, str] = {
    "k8s": "seawall.respond.kubernetes:KUBERNETES",
    "ecs": "seawall.respond.ecs:ECS",
}


def platform_for(ref: WorkloadRef) -> Platform:
    if ref.platform not in PLATFORMS:
        raise InputError(f"{ref}: no {ref.platform} platform in this build")
    module_name, attribute = PLATFORMS[ref.platform].split(":")
    platform = getattr(importlib.import_module(module_name), attribute)
    assert isinstance(platform, Platform)
    return platform


def resolve(text: str, findings: Sequence[Path] = ()) -> WorkloadRef:
    return workload.parse(text, findings)


def plan(text: str | WorkloadRef, options: Options, findings: Sequence[Path] = ()) -> Plan:
    ref = text if isinstance(text, WorkloadRef) else resolve(text, findings)
    return platform_for(ref).plan(ref, options)


@dataclass(slots=True)
class Outcome:
    plan: Plan | None
    applied: Applied | None = None
    released: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)


def _summary(p: Plan) -> dict[str, Any]:
    return {
        "steps": [s.id for s in p.steps if s.enabled],
        "residual": len(p.residual),
        "isolated": p.isolated,
        "guards": p.guards,
        "source": p.source,
    }


def isolate(
    text: str | WorkloadRef,
    options: Options,
    apply: bool,
    actor: str | None = None,
    reason: str | None = None,
    findings: Sequence[Path] = (),
) -> Outcome:
    """Plan, and with `apply` carry it out; refused by the guards unless `options.force`."""
    ref = text if isinstance(text, WorkloadRef) else resolve(text, findings)
    platform = platform_for(ref)
    who = audit.actor(actor)
    the_plan = platform.plan(ref, options)
    trail = audit.trail()
    if the_plan.guards and not options.force:
        trail.record(
            audit.new_entry(
                "isolate",
                str(ref),
                who,
                reason,
                applied=False,
                refused=the_plan.guards,
                plan=_summary(the_plan),
            )
        )
        raise Refused(f"{ref}: refused: {'; '.join(the_plan.guards)} (--force to act anyway)")
    if not apply:
        trail.record(audit.new_entry("plan", str(ref), who, reason, applied=False, plan=_summary(the_plan)))
        return Outcome(the_plan)
    if not reason:
        raise Refused("--apply needs --reason (the audit trail records who asked and why)")
    if trail.open_isolation(str(ref)) is not None:
        raise Refused(f"{ref} is already isolated (release it first: seawall respond release {ref} --apply)")
    entry = audit.new_entry(
        "isolate",
        str(ref),
        who,
        reason,
        applied=True,
        plan=_summary(the_plan),
        plan_detail=the_plan.to_dict(),
        changes=[],
    )
    try:
        applied = platform.apply(the_plan, options)
    except ApplyFailed as err:
        # a step failed (AccessDenied, a conflict ...): undo what was done, so that nothing is left
        # half-isolated; if even that fails, the record stays open for `release`
        entry.update(changes=[c.to_dict() for c in err.applied.changes], evidence=err.applied.evidence)
        try:
            rolled = platform.release(err.applied.changes, options)
        except SeawallError as undo_err:
            entry.update(result=f"failed: {err.message}; rollback failed: {undo_err.message}")
            trail.record(entry)
            raise ApplyFailed(
                f"{err.message}; rolling back failed too ({undo_err.message}): "
                f"run `seawall respond release {ref} --apply`",
                err.applied,
            ) from None
        entry.update(applied=False, rolled_back=rolled, result=f"failed: {err.message}")
        trail.record(entry)
        raise ApplyFailed(
            f"{err.message}; nothing left changed"
            + (f" ({len(rolled)} change(s) rolled back)" if rolled else ""),
            err.applied,
        ) from None
    except SeawallError as err:  # before any change (the evidence could not be read, no credentials)
        entry.update(applied=False, result=f"failed before any change: {err.message}")
        trail.record(entry)
        raise
    entry.update(
        changes=[c.to_dict() for c in applied.changes],
        evidence=applied.evidence,
        notes=applied.notes,
        result="ok",
    )
    trail.record(entry)
    return Outcome(the_plan, applied, record=entry)


def release(
    text: str | WorkloadRef,
    options: Options,
    apply: bool,
    actor: str | None = None,
    reason: str | None = None,
    findings: Sequence[Path] = (),
) -> Outcome:
    """Undo the open isolation of the workload (recorded in the audit trail)."""
    ref = text if isinstance(text, WorkloadRef) else resolve(text, findings)
    trail = audit.trail()
    who = audit.actor(actor)
    record = trail.open_isolation(str(ref))
    if record is None:
        raise Refused(f"{ref}: no open isolation in the audit trail to release")
    changes = [Change.from_dict(c) for c in record.get("changes") or []]
    if not apply:
        lines = [
            f"would {(c.undo.get('body') or {}).get('operation') or c.undo.get('action')} "
            f"{c.undo.get('kind')} {c.undo.get('name')}"
            for c in reversed(changes)
            if c.undo
        ]
        return Outcome(None, released=lines, record=record)
    done = platform_for(ref).release(changes, options)
    entry = audit.new_entry(
        "release", str(ref), who, reason, applied=True, releases=record.get("id"), undone=done, result="ok"
    )
    trail.record(entry)
    return Outcome(None, released=done, record=entry)


__all__ = [
    "PLATFORMS",
    "Applied",
    "ApplyFailed",
    "Change",
    "Options",
    "Outcome",
    "Plan",
    "Platform",
    "Refused",
    "Residual",
    "Step",
    "WorkloadRef",
    "isolate",
    "plan",
    "platform_for",
    "release",
    "resolve",
]
