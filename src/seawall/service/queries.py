"""What the API reads: filtered, cursor-paginated findings and incidents, workloads, sources.

Every filter is a bound parameter (never SQL text); cursors are opaque base64 of the last row's
(last_seen, id), pages are ordered newest first.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Select, func, insert, or_, select, tuple_, update

from seawall.core import FindingKind, Severity
from seawall.service.incidents import STATES, split_bars
from seawall.service.store import Store, json_dumps
from seawall.service.tables import audit_log, findings, incidents, sources, suppressions, workloads
from seawall.service.timeutil import normalize, now_iso, shift

MAX_LIMIT = 1000


class BadFilter(ValueError):
    pass


@dataclass(slots=True)
class Filters:
    severity: list[str] | None = None
    min_severity: str | None = None
    kind: str | None = None
    workload: str | None = None
    namespace: str | None = None
    technique: str | None = None
    since: str | None = None
    until: str | None = None
    state: str | None = None
    rule: str | None = None
    source: str | None = None
    incident: int | None = None
    suppressed: bool | None = None


def parse_filters(params: dict[str, str | None]) -> Filters:
    f = Filters()
    sev = params.get("severity")
    if sev:
        names = [s.strip().lower() for s in sev.split(",") if s.strip()]
        for n in names:
            if n not in {s.value for s in Severity}:
                raise BadFilter(f"severity: unknown value {n[:40]!r}")
        f.severity = names
    ms = params.get("min_severity")
    if ms:
        if ms.lower() not in {s.value for s in Severity}:
            raise BadFilter(f"min_severity: unknown value {ms[:40]!r}")
        f.min_severity = ms.lower()
    kind = params.get("kind")
    if kind:
        if kind not in {k.value for k in FindingKind}:
            raise BadFilter(f"kind: unknown value {kind[:40]!r}")
        f.kind = kind
    state = params.get("state")
    if state:
        if state not in STATES:
            raise BadFilter(f"state: unknown value {state[:40]!r}; one of {', '.join(STATES)}")
        f.state = state
    for key in ("since", "until"):
        value = params.get(key)
        if value:
            norm = normalize(value)
            if norm is None:
                raise BadFilter(f"{key}: not an ISO 8601 time")
            setattr(f, key, norm)
    for key in ("workload", "namespace", "technique", "rule", "source"):
        value = params.get(key)
        if value:
            if len(value) > 512:
                raise BadFilter(f"{key}: too long")
            setattr(f, key, value)
    inc = params.get("incident")
    if inc:
        if not inc.isdigit():
            raise BadFilter("incident: must be a number")
        f.incident = int(inc)
    return f


def _cursor_out(last_seen: str, row_id: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([last_seen, row_id])).decode().rstrip("=")


def _cursor_in(text: str) -> tuple[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = orjson.loads(raw)
        if not (
            isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], str)
            and isinstance(value[1], (str, int))
        ):
            raise ValueError
        return value[0], value[1]
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise BadFilter("cursor: not a cursor this API returned") from None


def _limit(value: int | None) -> int:
    if value is None:
        return 100
    if value < 1 or value > MAX_LIMIT:
        raise BadFilter(f"limit: 1 to {MAX_LIMIT}")
    return value


def _common(q: Select[Any], table: Any, f: Filters) -> Select[Any]:
    if f.severity:
        q = q.where(table.c.severity.in_(f.severity))
    if f.min_severity:
        q = q.where(table.c.severity_rank >= Severity(f.min_severity).rank)
    if f.workload:
        q = q.where(
            or_(table.c.workload == f.workload, table.c.workload.like(_like_prefix(f.workload), escape="\\"))
        )
    if f.namespace:
        q = q.where(table.c.namespace == f.namespace)
    if f.since:
        q = q.where(table.c.last_seen >= f.since)
    if f.until:
        q = q.where(table.c.first_seen <= f.until)
    return q


def _like_prefix(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"


def _like_contains(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _page(q: Select[Any], table: Any, cursor: str | None, limit: int) -> Select[Any]:
    if cursor:
        last, rid = _cursor_in(cursor)
        # a row-value comparison: both databases walk the (last_seen, id) index from the cursor on
        q = q.where(tuple_(table.c.last_seen, table.c.id) < tuple_(last, rid))
    return q.order_by(table.c.last_seen.desc(), table.c.id.desc()).limit(limit + 1)


def finding_out(row: Any) -> dict[str, Any]:
    doc = orjson.loads(row["doc"])
    doc.update(
        id=row["id"],
        count=row["count"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        workload=row["workload"],
        source=row["source"],
        incident_id=row["incident_id"],
    )
    if row["suppressed"]:
        doc["suppressed"] = True
    return doc


def list_findings(conn: Connection, f: Filters, cursor: str | None, limit: int | None) -> dict[str, Any]:
    n = _limit(limit)
    q = _common(select(findings), findings, f)
    if f.kind:
        q = q.where(findings.c.kind == f.kind)
    if f.technique:
        q = q.where(findings.c.attack.like(_like_contains("|" + f.technique), escape="\\"))
    if f.rule:
        q = q.where(findings.c.rule == f.rule)
    if f.source:
        q = q.where(findings.c.source == f.source)
    if f.incident is not None:
        q = q.where(findings.c.incident_id == f.incident)
    rows = conn.execute(_page(q, findings, cursor, n)).mappings().all()
    items = [finding_out(r) for r in rows[:n]]
    nxt = _cursor_out(rows[n - 1]["last_seen"], rows[n - 1]["id"]) if len(rows) > n else None
    return {"items": items, "next": nxt}


def get_finding(conn: Connection, fid: str) -> dict[str, Any] | None:
    row = conn.execute(select(findings).where(findings.c.id == fid)).mappings().first()
    return finding_out(row) if row else None


def incident_out(row: Any, finding_ids: list[str]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "workload": row["workload"],
        "namespace": row["namespace"],
        "title": row["title"],
        "state": row["state"],
        "severity": row["severity"],
        "first_seen": row["first_seen"],
        "last_seen": row["last_seen"],
        "finding_count": row["findings"],
        "events": row["events"],
        "techniques": split_bars(row["techniques"]),
        "tactics": split_bars(row["tactics"]),
        "sources": split_bars(row["sources"]),
        "state_by": row["state_by"],
        "state_at": row["state_at"],
        "state_note": row["state_note"],
        "finding_ids": finding_ids,
    }


def list_incidents(conn: Connection, f: Filters, cursor: str | None, limit: int | None) -> dict[str, Any]:
    n = _limit(limit)
    q = _common(select(incidents), incidents, f)
    if f.state:
        q = q.where(incidents.c.state == f.state)
    if f.technique:
        q = q.where(incidents.c.techniques.like(_like_contains("|" + f.technique), escape="\\"))
    if f.source:
        q = q.where(incidents.c.sources.like(_like_contains("|" + f.source + "|"), escape="\\"))
    rows = conn.execute(_page(q, incidents, cursor, n)).mappings().all()
    page = rows[:n]
    ids: dict[int, list[str]] = {r["id"]: [] for r in page}
    if ids:
        for fid, iid in conn.execute(
            select(findings.c.id, findings.c.incident_id)
            .where(findings.c.incident_id.in_(list(ids)))
            .order_by(findings.c.first_seen, findings.c.id)
        ):
            if len(ids[iid]) < 1000:
                ids[iid].append(fid)
    nxt = _cursor_out(rows[n - 1]["last_seen"], rows[n - 1]["id"]) if len(rows) > n else None
    return {"items": [incident_out(r, ids[r["id"]]) for r in page], "next": nxt}


def timeline_entry(row: Any, doc: dict[str, Any], evidence_chars: int) -> dict[str, Any]:
    """One step of an incident's timeline: a stored finding row and its parsed document; repeats
    summed up in words ("happened 340 times in 5 min")."""
    entry: dict[str, Any] = {
        "time": row["first_seen"],
        "last_seen": row["last_seen"],
        "finding_id": row["id"],
        "rule": row["rule"],
        "title": row["title"],
        "severity": row["severity"],
        "count": row["count"],
        "source": (doc.get("extra") or {}).get("source") or row["source"],
        "attack": doc.get("attack", []),
        "evidence": (doc.get("evidence") or "")[:evidence_chars],
    }
    if row["count"] > 1:
        took = _duration(row["first_seen"], row["last_seen"])
        entry["summary"] = f"happened {row['count']} times in {took}"
    return entry


def _duration(first: str, last: str) -> str:
    from seawall.service.timeutil import parse_iso

    seconds = max(0, int((parse_iso(last) - parse_iso(first)).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def get_incident(conn: Connection, iid: int) -> dict[str, Any] | None:
    row = conn.execute(select(incidents).where(incidents.c.id == iid)).mappings().first()
    if row is None:
        return None
    frows = (
        conn.execute(
            select(findings)
            .where(findings.c.incident_id == iid)
            .order_by(findings.c.first_seen, findings.c.id)
        )
        .mappings()
        .all()
    )
    out = incident_out(row, [r["id"] for r in frows])
    timeline = [timeline_entry(r, orjson.loads(r["doc"]), evidence_chars=500) for r in frows]
    out["timeline"] = timeline
    known = (
        conn.execute(
            select(findings)
            .where(
                findings.c.workload == row["workload"],
                findings.c.kind.in_(("vulnerability", "misconfiguration", "secret")),
            )
            .order_by(findings.c.severity_rank.desc(), findings.c.id)
            .limit(200)
        )
        .mappings()
        .all()
    )
    out["known"] = [finding_out(r) for r in known]
    wl = conn.execute(select(workloads).where(workloads.c.key == row["workload"])).mappings().first()
    out["images"] = orjson.loads(wl["images"]) if wl else []
    out["summary"] = summary(out)
    return out


def summary(inc: dict[str, Any]) -> str:
    """One sentence an analyst reads first."""
    parts = [f"{inc['workload']}"]
    vulns = [k for k in inc.get("known", []) if k.get("kind") == "vulnerability"]
    if inc.get("images"):
        parts.append(f"image {inc['images'][0].get('ref') or inc['images'][0].get('digest')}")
    if vulns:
        worst = vulns[0]
        parts.append(
            f"with {worst.get('rule')} ({worst.get('severity')}) and {len(vulns) - 1} more known "
            "vulnerabilities"
            if len(vulns) > 1
            else f"with {worst.get('rule')} ({worst.get('severity')})"
        )
    steps = []
    seen: set[str] = set()
    for t in inc.get("timeline", []):
        if t["title"] in seen:
            continue
        seen.add(t["title"])
        steps.append(t["title"] + (f" ({t['count']}x)" if t["count"] > 1 else ""))
    head = ", ".join(parts)
    return (
        f"{head}: " + "; then ".join(steps[:6]) + (f"; and {len(steps) - 6} more" if len(steps) > 6 else "")
    )


def set_incident_state(
    store: Store,
    iid: int,
    state: str,
    actor: str,
    note: str | None,
    suppress: bool,
    suppress_days: float | None,
) -> dict[str, Any] | None:
    if state not in STATES:
        raise BadFilter(f"state: one of {', '.join(STATES)}")
    with store.write() as conn:
        row = conn.execute(
            select(incidents.c.id, incidents.c.state, incidents.c.workload).where(incidents.c.id == iid)
        ).first()
        if row is None:
            return None
        now = now_iso()
        conn.execute(
            update(incidents)
            .where(incidents.c.id == iid)
            .values(
                state=state,
                state_by=actor[:255],
                state_at=now,
                state_note=(note or "")[:2000] or None,
                updated_at=now,
            )
        )
        store.audit(
            conn,
            actor,
            "incident.state",
            f"incident:{iid}",
            {"from": row[1], "to": state, "note": (note or "")[:2000]},
        )
        if suppress:
            if state != "false_positive":
                raise BadFilter("suppress: only when marking a false positive")
            rules = sorted(
                {r[0] for r in conn.execute(select(findings.c.rule).where(findings.c.incident_id == iid))}
            )
            expires = shift(now, suppress_days * 86400) if suppress_days else None
            for rule in rules:
                conn.execute(
                    insert(suppressions).values(
                        rule=rule,
                        workload=row[2],
                        reason=(note or "false positive")[:2000],
                        created_by=actor[:255],
                        created_at=now,
                        expires_at=expires,
                        incident_id=iid,
                    )
                )
                store.audit(
                    conn,
                    actor,
                    "suppression.create",
                    f"rule:{rule}",
                    {"workload": row[2], "incident": iid, "expires_at": expires},
                )
    with store.read() as conn:
        return get_incident(conn, iid)


def list_suppressions(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(suppressions).order_by(suppressions.c.id)).mappings()]


def list_workloads(conn: Connection, f: Filters, limit: int | None) -> list[dict[str, Any]]:
    n = _limit(limit)
    q = select(workloads)
    if f.namespace:
        q = q.where(workloads.c.namespace == f.namespace)
    if f.workload:
        q = q.where(
            or_(workloads.c.key == f.workload, workloads.c.key.like(_like_prefix(f.workload), escape="\\"))
        )
    rows = conn.execute(q.order_by(workloads.c.last_seen.desc()).limit(n)).mappings().all()
    keys = [r["key"] for r in rows]
    counts: dict[str, dict[str, int]] = {k: {} for k in keys}
    if keys:
        for wl, kind, c in conn.execute(
            select(findings.c.workload, findings.c.kind, func.count())
            .where(findings.c.workload.in_(keys))
            .group_by(findings.c.workload, findings.c.kind)
        ):
            counts[wl][kind] = int(c)
    open_inc: dict[str, int] = {}
    if keys:
        for wl, c in conn.execute(
            select(incidents.c.workload, func.count())
            .where(incidents.c.workload.in_(keys), incidents.c.state.in_(("open", "acknowledged")))
            .group_by(incidents.c.workload)
        ):
            open_inc[wl] = int(c)
    return [
        {
            "key": r["key"],
            "type": r["type"],
            "namespace": r["namespace"],
            "name": r["name"],
            "images": orjson.loads(r["images"]),
            "first_seen": r["first_seen"],
            "last_seen": r["last_seen"],
            "findings": counts.get(r["key"], {}),
            "open_incidents": open_inc.get(r["key"], 0),
        }
        for r in rows
    ]


def source_rows(conn: Connection) -> dict[str, dict[str, Any]]:
    out = {}
    for r in conn.execute(
        select(
            sources.c.name,
            sources.c.type,
            sources.c.events_in,
            sources.c.findings_out,
            sources.c.malformed,
            sources.c.dropped,
            sources.c.errors,
            sources.c.last_event_at,
            sources.c.last_error,
            sources.c.updated_at,
        )
    ).mappings():
        out[r["name"]] = dict(r)
    return out


def list_audit(conn: Connection, cursor: int | None, limit: int | None) -> dict[str, Any]:
    n = _limit(limit)
    q = select(audit_log)
    if cursor is not None:
        q = q.where(audit_log.c.id < cursor)
    rows = conn.execute(q.order_by(audit_log.c.id.desc()).limit(n + 1)).mappings().all()
    items = [{**dict(r), "detail": orjson.loads(r["detail"])} for r in rows[:n]]
    return {"items": items, "next": str(rows[n - 1]["id"]) if len(rows) > n else None}


__all__ = ["BadFilter", "Filters", "json_dumps"]
