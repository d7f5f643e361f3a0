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
from sqlalchemy import Connection, bindparam, insert, select, update

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


class Placer:
    """`place` for many new findings in one commit: the active incidents they may join are read
    with one query, placed in memory in the findings' order (the same rule as `place`), and
    written back with one statement per incident touched."""

    def __init__(self, conn: Connection, window: float, source: str) -> None:
        self.conn = conn
        self.window = window
        self.source = source
        self.by_workload: dict[str, list[dict[str, Any]]] = {}
        self.changed: dict[int, dict[str, Any]] = {}  # loaded incident id -> its row, modified
        self.added: list[dict[str, Any]] = []  # new incidents, in order

    def load(self, keys: set[str], first: str, last: str) -> None:
        """The active incidents of these workloads that a finding in [first, last] may join."""
        self.by_workload = {k: [] for k in keys}
        key_list = sorted(keys)
        for i in range(0, len(key_list), 500):
            rows = self.conn.execute(
                select(incidents).where(
                    incidents.c.workload.in_(key_list[i : i + 500]),
                    incidents.c.state.in_(ACTIVE),
                    incidents.c.last_seen >= shift(first, -self.window),
                    incidents.c.first_seen <= shift(last, self.window),
                )
            ).mappings()
            for r in rows:
                row = dict(r)
                row["_df"] = 0
                row["_de"] = 0
                self.by_workload[row["workload"]].append(row)

    def place(self, ref: WorkloadRef, f: Finding, count: int, first: str, last: str) -> dict[str, Any]:
        """The incident row (loaded or new) the finding joins; read its "id" after `flush`."""
        key = ref.key[:512]
        low, high = shift(first, -self.window), shift(last, self.window)
        candidates = [r for r in self.by_workload.setdefault(key, []) if r["last_seen"] >= low]
        candidates = [r for r in candidates if r["first_seen"] <= high]
        src = str((f.extra or {}).get("source") or self.source)
        if not candidates:
            now = now_iso()
            row: dict[str, Any] = {
                "id": None,
                "workload": key,
                "namespace": ref.namespace,
                "title": f.title,
                "state": "open",
                "severity": f.severity.value,
                "severity_rank": f.severity.rank,
                "first_seen": first,
                "last_seen": last,
                "findings": 1,
                "events": count,
                "techniques": _merge("", f.attack),
                "tactics": _merge("", tactics_of(f.attack)),
                "sources": _merge("", [src]),
                "created_at": now,
                "updated_at": now,
            }
            self.by_workload[key].append(row)
            self.added.append(row)
            return row
        row = max(candidates, key=lambda r: r["last_seen"])
        row["first_seen"] = min(first, row["first_seen"])
        row["last_seen"] = max(last, row["last_seen"])
        row["findings"] += 1
        row["events"] += count
        row["techniques"] = _merge(row["techniques"], f.attack)
        row["tactics"] = _merge(row["tactics"], tactics_of(f.attack))
        row["sources"] = _merge(row["sources"], [src])
        if f.severity.rank > row["severity_rank"]:
            row.update(severity=f.severity.value, severity_rank=f.severity.rank, title=f.title)
        if row.get("id") is not None:
            row["_df"] += 1
            row["_de"] += count
            self.changed[row["id"]] = row
        return row

    def flush(self) -> None:
        """Write the new incidents (their ids filled in) and the grown ones."""
        columns = [c.name for c in incidents.columns if c.name != "id"]
        if self.added:
            result = self.conn.execute(
                insert(incidents).returning(incidents.c.id, sort_by_parameter_order=True),
                [{c: row.get(c) for c in columns} for row in self.added],
            )
            for row, new_id in zip(self.added, result.scalars().all(), strict=True):
                row["id"] = int(new_id)
        if self.changed:
            names = ("first_seen", "last_seen", "techniques", "tactics", "sources", "severity")
            self.conn.execute(
                update(incidents)
                .where(incidents.c.id == bindparam("b_id"))
                .values(
                    findings=incidents.c.findings + bindparam("b_df"),
                    events=incidents.c.events + bindparam("b_de"),
                    severity_rank=bindparam("b_severity_rank"),
                    title=bindparam("b_title"),
                    updated_at=now_iso(),
                    **{n: bindparam("b_" + n) for n in names},
                ),
                [
                    {
                        "b_id": iid,
                        "b_df": row["_df"],
                        "b_de": row["_de"],
                        "b_severity_rank": row["severity_rank"],
                        "b_title": row["title"],
                        **{"b_" + n: row[n] for n in names},
                    }
                    for iid, row in self.changed.items()
                ],
            )
