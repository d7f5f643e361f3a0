"""Incidents: the findings of one workload close in time, read as one story.

A detection (or exposure) finding joins the open or acknowledged incident of its workload whose
time span, widened by `incident_window` seconds on both sides, overlaps the finding's; otherwise
it opens a new incident. An incident carries the highest severity, the ATT&CK techniques and
tactics, the sources, the number of findings and of events (repeats are counts, never rows),
and its state (open, acknowledged, resolved, false_positive) with who changed it and when.
Vulnerability and misconfiguration findings never open incidents: they are what is *known*
about a workload and are shown beside its incidents.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, insert, select, update

from seawall.core import Finding, FindingKind, Severity
from seawall.service.tables import incidents
from seawall.service.timeutil import now_iso, shift
from seawall.service.workloads import WorkloadRef

STATES = ("open", "acknowledged", "resolved", "false_positive")
ACTIVE = ("open", "acknowledged")


@cache
def _tactics() -> dict[str, list[str]]:
    data = yaml.safe_load((Path(__file__).parent / "attack.yaml").read_text(encoding="utf-8"))
    return {str(k): list(v) for k, v in data.items()}


def tactics_of(techniques: list[str]) -> list[str]:
    table = _tactics()
    out: list[str] = []
    for t in techniques:
        for tactic in table.get(t.split(".")[0], []):
            if tactic not in out:
                out.append(tactic)
    return out


def makes_incident(f: Finding) -> bool:
    return f.kind in (FindingKind.DETECTION, FindingKind.EXPOSURE)


def _merge(bars: str, values: list[str]) -> str:
    have = [v for v in bars.strip("|").split("|") if v]
    for v in values:
        if v and v not in have:
            have.append(v)
    return "|" + "|".join(have) + "|" if have else ""


def split_bars(text: str | None) -> list[str]:
    return [v for v in (text or "").strip("|").split("|") if v]


def place(
    conn: Connection,
    ref: WorkloadRef,
    f: Finding,
    count: int,
    first: str,
    last: str,
    source: str,
    window: float,
) -> int:
    """The incident a new finding belongs to (found or opened); its totals grown by the finding."""
    row = (
        conn.execute(
            select(incidents)
            .where(
                incidents.c.workload == ref.key[:512],
                incidents.c.state.in_(ACTIVE),
                incidents.c.last_seen >= shift(first, -window),
                incidents.c.first_seen <= shift(last, window),
            )
            .order_by(incidents.c.last_seen.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    src = (f.extra or {}).get("source") or source
    now = now_iso()
    if row is None:
        result = conn.execute(
            insert(incidents).values(
                workload=ref.key[:512],
                namespace=ref.namespace,
                title=f.title,
                state="open",
                severity=f.severity.value,
                severity_rank=f.severity.rank,
                first_seen=first,
                last_seen=last,
                findings=1,
                events=count,
                techniques=_merge("", f.attack),
                tactics=_merge("", tactics_of(f.attack)),
                sources=_merge("", [str(src)]),
                created_at=now,
                updated_at=now,
            )
        )
        return _new_id(result)
    values: dict[str, Any] = {
        "findings": incidents.c.findings + 1,
        "events": incidents.c.events + count,
        "first_seen": min(first, row["first_seen"]),
        "last_seen": max(last, row["last_seen"]),
        "techniques": _merge(row["techniques"], f.attack),
        "tactics": _merge(row["tactics"], tactics_of(f.attack)),
        "sources": _merge(row["sources"], [str(src)]),
        "updated_at": now,
    }
    if f.severity.rank > row["severity_rank"]:
        values.update(severity=f.severity.value, severity_rank=f.severity.rank, title=f.title)
    conn.execute(update(incidents).where(incidents.c.id == row["id"]).values(**values))
    return int(row["id"])


def grow(conn: Connection, incident_id: int, delta: int, first: str, last: str) -> None:
    row = conn.execute(
        select(incidents.c.first_seen, incidents.c.last_seen).where(incidents.c.id == incident_id)
    ).first()
    if row is None:
        return
    conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(
            events=incidents.c.events + delta,
            first_seen=min(first, row[0]),
            last_seen=max(last, row[1]),
            updated_at=now_iso(),
        )
    )


def severity_at_least(name: str) -> int:
    return Severity.parse(name).rank


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
