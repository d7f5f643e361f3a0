"""A plan as text for a person (what changes, what stays reachable, what it costs) or as JSON."""

from __future__ import annotations

from typing import Any

import orjson

from seawall.core.text import printable
from seawall.respond.base import Plan


def to_json(plan: Plan) -> str:
    return orjson.dumps(plan.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"


def _target(t: dict[str, Any]) -> str:
    if t.get("kind") == "Pod":
        return (
            f"pod {t.get('namespace')}/{t.get('name')} ip {t.get('ip') or '-'} on node {t.get('node') or '-'}"
            f", owner {t.get('owner') or 'none'}, {'ready' if t.get('ready') else 'not ready'}"
        )
    return (
        f"task {t.get('cluster')}/{t.get('id')} "
        f"({t.get('launchType') or '?'}, {t.get('networkMode') or '?'}) "
        f"ip {t.get('ip') or '-'} subnet {t.get('subnet') or '-'}"
        + (f" service {t.get('service')}" if t.get("service") else "")
        + (f" on {t.get('instance')}" if t.get("instance") else "")
    )


def to_text(plan: Plan) -> str:
    out: list[str] = []
    w = out.append
    w(f"Isolation plan for {plan.workload}  (from {plan.source})")
    for t in plan.targets:
        w(f"  target: {_target(t)}")
    if plan.guards:
        w("")
        w("REFUSED unless --force:")
        for g in plan.guards:
            w(f"  - {g}")
    w("")
    w("What will change (in this order):")
    n = 0
    for step in plan.steps:
        if step.optional and not step.enabled:
            continue
        n += 1
        w(f"  {n}. [{step.id}] {step.title}")
        if step.detail:
            w(f"     {step.detail}")
        for c in step.changes:
            w(f"     {c.action} {c.kind} {(c.namespace + '/') if c.namespace else ''}{c.name}")
        for limit in step.limits:
            w(f"     limit: {limit}")
    offered = [s for s in plan.steps if s.optional and not s.enabled]
    if offered:
        w("")
        w("Offered, not done unless asked:")
        for step in offered:
            w(f"  - [{step.id}] {step.title}: {step.detail}")
    w("")
    if plan.residual:
        open_ = [r for r in plan.residual if r.overridden_by is None]
        w(
            "What stays reachable"
            + (
                " (NetworkPolicies are additive: deny-all does not override these)"
                if plan.workload.platform == "k8s" and open_
                else ""
            )
            + ":"
        )
        for r in plan.residual:
            state = f"  [overridden by {r.overridden_by}]" if r.overridden_by else ""
            w(f"  - {r.direction:7} {r.source}{state}")
            w(f"      peers: {'; '.join(r.peers)}")
            w(f"      ports: {', '.join(r.ports)}")
            if r.why:
                w(f"      why:   {r.why}")
    else:
        w("What stays reachable: nothing that seawall can see.")
    if plan.reachable:
        w("  concretely:")
        for row in plan.reachable[:40]:
            arrow = "<-" if row["direction"] == "ingress" else "->"
            note = f"  [overridden by {row['overridden_by']}]" if row.get("overridden_by") else ""
            by = f" by {', '.join(row['by'])}" if row.get("by") else ""
            w(f"    {arrow} {row['peer']} on {', '.join(row['ports'])}{by}{note}")
        if len(plan.reachable) > 40:
            w(f"    ... and {len(plan.reachable) - 40} more (--format json lists all)")
    w(f"  isolated: {'yes' if plan.isolated else 'NO -- see above'}")
    if plan.stays_up:
        w("")
        w("What keeps running:")
        for line in plan.stays_up:
            w(f"  - {line}")
    if plan.costs:
        w("")
        w("What it costs:")
        for line in plan.costs:
            w(f"  - {line}")
    if plan.warnings:
        w("")
        w("Warnings:")
        for line in plan.warnings:
            w(f"  - {line}")
    return "\n".join(printable(line) for line in out) + "\n"
