"""The console's "isolate" action, through `seawall respond`, and the hooks the service plugs in.

install(service)     seawall.respond.workload.set_resolver: finding ids -> their workload, from
                     the store; seawall.respond.audit.set_trail: respond's records go to the
                     service's audit trail (action respond.<action>, target respond:<workload>)
workload_for(...)    the respond WorkloadRef of an incident: the newest finding of it whose
                     resource is a pod, deployment, ECS task or service
options(service)     respond.Options from the config's `respond:` section

respond:
  from: [cluster.json, tasks.json, ...]   # offline plans from kubectl/AWS CLI dumps
  kubeconfig: ~/.kube/config               # or live (context, region, profile, endpoint_url)
  allow_dns: true
  forensics_cidr: [10.9.0.0/24]
  min_replicas: 1
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select

from seawall.core.errors import InputError, SeawallError
from seawall.service.store import Store, json_dumps
from seawall.service.tables import audit_log, findings

if TYPE_CHECKING:
    from seawall.respond.base import Options, WorkloadRef
    from seawall.service.server import Service


class StoreTrail:
    """respond's audit trail kept in the service's append-only audit_log."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(self, entry: dict[str, Any]) -> None:
        with self.store.write() as conn:
            conn.execute(
                audit_log.insert().values(
                    at=_now(),
                    actor=str(entry.get("actor") or "seawall")[:255],
                    action=f"respond.{entry.get('action', '?')}"[:64],
                    target=f"respond:{entry.get('workload', '?')}"[:512],
                    detail=json_dumps(entry),
                )
            )

    def open_isolation(self, workload: str) -> dict[str, Any] | None:
        with self.store.read() as conn:
            rows = conn.execute(
                select(audit_log.c.action, audit_log.c.detail)
                .where(audit_log.c.target == f"respond:{workload}"[:512])
                .order_by(audit_log.c.id)
            ).all()
        entries = [orjson.loads(r[1]) for r in rows]
        released = {e.get("releases") for e in entries if e.get("action") == "release"}
        for entry in reversed(entries):
            if entry.get("action") == "isolate" and entry.get("applied") and entry.get("id") not in released:
                return dict(entry)
        return None


def _now() -> str:
    from seawall.service.timeutil import now_iso

    return now_iso()


def _finding_ref(doc: dict[str, Any]) -> WorkloadRef | None:
    from seawall.respond.workload import workload_of

    try:
        return workload_of(doc)
    except InputError:
        return None


def install(service: Service) -> None:
    from seawall.respond import audit, workload

    store = service.store

    def resolver(fid: str) -> WorkloadRef | None:
        with store.read() as conn:
            row = conn.execute(select(findings.c.doc).where(findings.c.id == fid[:64])).first()
            if row is None and len(fid) >= 8:
                row = conn.execute(
                    select(findings.c.doc).where(findings.c.id.like(fid[:64] + "%")).limit(1)
                ).first()
        return _finding_ref(orjson.loads(row[0])) if row else None

    workload.set_resolver(resolver)
    audit.set_trail(StoreTrail(store))


def workload_for(store: Store, incident_id: int) -> WorkloadRef | None:
    with store.read() as conn:
        rows = conn.execute(
            select(findings.c.doc)
            .where(findings.c.incident_id == incident_id)
            .order_by(findings.c.last_seen.desc())
            .limit(500)
        ).all()
    for (doc,) in rows:
        ref = _finding_ref(orjson.loads(doc))
        if ref is not None:
            return ref
    return None


def options(service: Service) -> Options:
    from seawall.respond.base import Options

    section = service.config.doc.get("respond") or {}
    if not isinstance(section, dict):
        raise InputError("respond: must be a mapping")
    base = service.config.base

    def path(value: Any) -> Path:
        p = Path(os.path.expanduser(str(value)))
        return p if p.is_absolute() else base / p

    sources = section.get("from") or []
    opts = Options(
        sources=[path(s) for s in (sources if isinstance(sources, list) else [sources])],
        allow_dns=bool(section.get("allow_dns", False)),
        forensics_cidr=[str(c) for c in section.get("forensics_cidr") or []],
        min_replicas=int(section.get("min_replicas", 1)),
        kubeconfig=section.get("kubeconfig"),
        context=section.get("context"),
        profile=section.get("profile"),
        region=section.get("region"),
        endpoint_url=section.get("endpoint_url"),
    )
    if section.get("evidence_dir"):
        opts.evidence_dir = path(section["evidence_dir"])
    else:
        opts.evidence_dir = service.config.data_dir / "evidence"
    return opts


def plan(service: Service, incident_id: int) -> tuple[WorkloadRef | None, dict[str, Any] | None, str | None]:
    """(workload, the plan as data, why there is none)."""
    from seawall import respond

    ref = workload_for(service.store, incident_id)
    if ref is None:
        return None, None, "no finding of this incident names a pod, deployment, ECS task or service"
    try:
        the_plan = respond.plan(ref, options(service))
    except SeawallError as err:
        return ref, None, err.message
    return ref, the_plan.to_dict(), None
