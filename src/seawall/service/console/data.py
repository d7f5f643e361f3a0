"""What the console reads: pages and aggregates computed by the database, never whole tables.

Lists are cursor-paginated on indexed columns (newest first); counts are GROUP BY queries, kept
for a few seconds (`Aggregates`) so that a page refresh over a million findings does not count
them again each time.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection, and_, func, or_, select

from seawall.service import queries
from seawall.service.incidents import split_bars
from seawall.service.queries import (
    Filters,
    _common,
    _cursor_in,
    _cursor_out,
    _like_contains,
    _like_prefix,
    _page,
)
from seawall.service.store import Store
from seawall.service.tables import (
    audit_log,
    export_runs,
    findings,
    incidents,
    outbox,
    runtime_images,
    workloads,
)

KNOWN_KINDS = ("vulnerability", "misconfiguration", "secret")
SEVERITIES = ("critical", "high", "medium", "low", "info", "unknown")


class Aggregates:
    """GROUP BY results kept for `ttl` seconds per query key. A stale result is served at once and
    recomputed in the background (one thread per key), so that counting a million findings again
    never holds up a page; only the first request of a key waits for it."""

    def __init__(self, store: Store, ttl: float = 10.0) -> None:
        self.store = store
        self.ttl = ttl
        self.lock = threading.Lock()
        self.cache: dict[Any, tuple[float, Any]] = {}
        self.running: set[Any] = set()

    def _refresh(self, key: Any, compute: Callable[[Connection], Any]) -> Any:
        try:
            with self.store.read() as conn:
                value = compute(conn)
            with self.lock:
                if len(self.cache) > 512:
                    self.cache.clear()
                self.cache[key] = (time.monotonic(), value)
            return value
        finally:
            with self.lock:
                self.running.discard(key)

    def get(self, key: Any, compute: Callable[[Connection], Any]) -> Any:
        with self.lock:
            hit = self.cache.get(key)
            stale = hit is not None and time.monotonic() - hit[0] >= self.ttl
            start = stale and key not in self.running
            if start:
                self.running.add(key)
        if hit is None:
            return self._refresh(key, compute)
        if start:
            threading.Thread(
                target=self._refresh, args=(key, compute), daemon=True, name="console-count"
            ).start()
        return hit[1]

    def clear(self) -> None:
        with self.lock:
            self.cache.clear()


def _key(f: Filters) -> tuple[Any, ...]:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(vars_of(f).items()))


def vars_of(f: Filters) -> dict[str, Any]:
    return {fld.name: getattr(f, fld.name) for fld in dataclasses.fields(f)}


def _without(f: Filters, *names: str) -> Filters:
    values = vars_of(f)
    for n in names:
        values[n] = None
    return Filters(**values)


# -- incidents -------------------------------------------------------------------------------------
def _incident_where(q: Any, f: Filters) -> Any:
    q = _common(q, incidents, f)
    if f.state:
        q = q.where(incidents.c.state == f.state)
    if f.technique:
        q = q.where(incidents.c.techniques.like(_like_contains("|" + f.technique), escape="\\"))
    if f.source:
        q = q.where(incidents.c.sources.like(_like_contains("|" + f.source + "|"), escape="\\"))
    return q


def incident_facets(conn: Connection, f: Filters, cache: Aggregates) -> dict[str, dict[str, int]]:
    """Incidents per state (other filters applied) and per severity (other filters applied)."""

    def compute(conn: Connection) -> dict[str, dict[str, int]]:
        by_state = {
            str(s): int(n)
            for s, n in conn.execute(
                _incident_where(select(incidents.c.state, func.count()), _without(f, "state")).group_by(
                    incidents.c.state
                )
            )
        }
        by_sev = {
            str(s): int(n)
            for s, n in conn.execute(
                _incident_where(
                    select(incidents.c.severity, func.count()), _without(f, "severity", "min_severity")
                ).group_by(incidents.c.severity)
            )
        }
        return {"state": by_state, "severity": by_sev}

    return dict(cache.get(("incident-facets", _key(f)), compute))


def incident_page(conn: Connection, iid: int, cursor: str | None, limit: int = 200) -> dict[str, Any] | None:
    """One incident with one page of its timeline (oldest first), what is known about its
    workload, its images and its history (state changes, suppressions, responses)."""
    row = conn.execute(select(incidents).where(incidents.c.id == iid)).mappings().first()
    if row is None:
        return None
    out = queries.incident_out(row, [])
    q = select(findings).where(findings.c.incident_id == iid)
    if cursor:
        first, fid = _cursor_in(cursor)
        q = q.where(
            or_(findings.c.first_seen > first, and_(findings.c.first_seen == first, findings.c.id > fid))
        )
    rows = conn.execute(q.order_by(findings.c.first_seen, findings.c.id).limit(limit + 1)).mappings().all()
    timeline = []
    for r in rows[:limit]:
        doc = orjson.loads(r["doc"])
        timeline.append({**queries.timeline_entry(r, doc, evidence_chars=2000), "kind": r["kind"],
                         "resource": doc.get("resource") or {}, "location": doc.get("location") or {}})
    out["timeline"] = timeline
    out["timeline_next"] = (
        _cursor_out(rows[limit - 1]["first_seen"], rows[limit - 1]["id"]) if len(rows) > limit else None
    )
    known = (
        conn.execute(
            select(findings)
            .where(findings.c.workload == row["workload"], findings.c.kind.in_(KNOWN_KINDS))
            .order_by(findings.c.severity_rank.desc(), findings.c.id)
            .limit(101)
        )
        .mappings()
        .all()
    )
    out["known"] = [queries.finding_out(r) for r in known[:100]]
    out["known_more"] = len(known) > 100
    wl = conn.execute(select(workloads).where(workloads.c.key == row["workload"])).mappings().first()
    out["images"] = orjson.loads(wl["images"]) if wl else []
    out["summary"] = queries.summary(out)
    out["history"] = [
        {**dict(h), "detail": orjson.loads(h["detail"])}
        for h in conn.execute(
            select(audit_log)
            .where(audit_log.c.target == f"incident:{iid}")
            .order_by(audit_log.c.id.desc())
            .limit(100)
        ).mappings()
    ]
    return out


# -- findings ----------------------------------------------------------------------------------
def _workload_keys(conn: Connection, value: str) -> list[str]:
    """The stored workload keys a workload filter names (the key itself and the keys under it):
    findings are then selected by `workload IN (...)`, which the workload index answers."""
    rows = conn.execute(
        select(workloads.c.key)
        .where(or_(workloads.c.key == value, workloads.c.key.like(_like_prefix(value), escape="\\")))
        .limit(5000)
    )
    return [r[0] for r in rows] or [value]


def _finding_where(q: Any, ff: Filters, keys: list[str] | None) -> Any:
    if keys is not None:
        q = q.where(findings.c.workload.in_(keys))
        ff = _without(ff, "workload")
    q = _common(q, findings, ff)
    if ff.kind:
        q = q.where(findings.c.kind == ff.kind)
    if ff.technique:
        q = q.where(findings.c.attack.like(_like_contains("|" + ff.technique), escape="\\"))
    if ff.rule:
        q = q.where(findings.c.rule == ff.rule)
    if ff.source:
        q = q.where(findings.c.source == ff.source)
    if ff.incident is not None:
        q = q.where(findings.c.incident_id == ff.incident)
    return q


def findings_page(conn: Connection, f: Filters, cursor: str | None, limit: int = 50) -> dict[str, Any]:
    """queries.list_findings, with a workload filter resolved to keys (an index lookup)."""
    keys = _workload_keys(conn, f.workload) if f.workload else None
    rows = (
        conn.execute(_page(_finding_where(select(findings), f, keys), findings, cursor, limit))
        .mappings()
        .all()
    )
    items = [queries.finding_out(r) for r in rows[:limit]]
    nxt = _cursor_out(rows[limit - 1]["last_seen"], rows[limit - 1]["id"]) if len(rows) > limit else None
    return {"items": items, "next": nxt}


def finding_facets(conn: Connection, f: Filters, cache: Aggregates) -> dict[str, dict[str, int]]:
    def compute(conn: Connection) -> dict[str, dict[str, int]]:
        keys = _workload_keys(conn, f.workload) if f.workload else None
        by_sev = {
            str(s): int(n)
            for s, n in conn.execute(
                _finding_where(
                    select(findings.c.severity, func.count()), _without(f, "severity", "min_severity"), keys
                ).group_by(findings.c.severity)
            )
        }
        by_kind = {
            str(k): int(n)
            for k, n in conn.execute(
                _finding_where(select(findings.c.kind, func.count()), _without(f, "kind"), keys).group_by(
                    findings.c.kind
                )
            )
        }
        return {"severity": by_sev, "kind": by_kind}

    return dict(cache.get(("finding-facets", _key(f)), compute))


# -- workloads ---------------------------------------------------------------------------------
def workload_page(conn: Connection, f: Filters, cursor: str | None, limit: int = 50) -> dict[str, Any]:
    q = select(workloads)
    if f.namespace:
        q = q.where(workloads.c.namespace == f.namespace)
    if f.workload:
        q = q.where(
            or_(
                workloads.c.key == f.workload,
                workloads.c.key.like(_like_prefix(f.workload), escape="\\"),
                workloads.c.name.like(_like_contains(f.workload), escape="\\"),
            )
        )
    if cursor:
        last, key = _cursor_in(cursor)
        q = q.where(
            or_(workloads.c.last_seen < last, and_(workloads.c.last_seen == last, workloads.c.key < key))
        )
    rows = (
        conn.execute(q.order_by(workloads.c.last_seen.desc(), workloads.c.key.desc()).limit(limit + 1))
        .mappings()
        .all()
    )
    page = rows[:limit]
    keys = [r["key"] for r in page]
    counts: dict[str, dict[str, int]] = {k: {} for k in keys}
    open_inc: dict[str, int] = {}
    last_scan: dict[str, str] = {}
    if keys:
        for wl, kind, c, last in conn.execute(
            select(findings.c.workload, findings.c.kind, func.count(), func.max(findings.c.last_seen))
            .where(findings.c.workload.in_(keys))
            .group_by(findings.c.workload, findings.c.kind)
        ):
            counts[wl][kind] = int(c)
            if kind in KNOWN_KINDS:
                last_scan[wl] = max(last_scan.get(wl, ""), str(last))
        for wl, c in conn.execute(
            select(incidents.c.workload, func.count())
            .where(incidents.c.workload.in_(keys), incidents.c.state.in_(("open", "acknowledged")))
            .group_by(incidents.c.workload)
        ):
            open_inc[wl] = int(c)
    items = [
        {
            **{k: r[k] for k in ("key", "type", "namespace", "name", "first_seen", "last_seen")},
            "images": orjson.loads(r["images"]),
            "findings": counts.get(r["key"], {}),
            "open_incidents": open_inc.get(r["key"], 0),
            "last_scan": last_scan.get(r["key"]),
        }
        for r in page
    ]
    nxt = _cursor_out(page[-1]["last_seen"], page[-1]["key"]) if len(rows) > limit else None
    return {"items": items, "next": nxt}


def workload_detail(conn: Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute(select(workloads).where(workloads.c.key == key)).mappings().first()
    if row is None:
        return None
    out: dict[str, Any] = {k: row[k] for k in ("key", "type", "namespace", "name", "first_seen", "last_seen")}
    out["images"] = orjson.loads(row["images"])
    by_kind = {
        str(k): (int(n), str(last))
        for k, n, last in conn.execute(
            select(findings.c.kind, func.count(), func.max(findings.c.last_seen))
            .where(findings.c.workload == key)
            .group_by(findings.c.kind)
        )
    }
    out["counts"] = {k: v[0] for k, v in by_kind.items()}
    scans = [v[1] for k, v in by_kind.items() if k in KNOWN_KINDS]
    out["last_scan"] = max(scans) if scans else None
    out["known"] = [
        queries.finding_out(r)
        for r in conn.execute(
            select(findings)
            .where(findings.c.workload == key, findings.c.kind.in_(KNOWN_KINDS))
            .order_by(findings.c.severity_rank.desc(), findings.c.last_seen.desc())
            .limit(200)
        ).mappings()
    ]
    out["incidents"] = [
        queries.incident_out(r, [])
        for r in conn.execute(
            select(incidents)
            .where(incidents.c.workload == key)
            .order_by(incidents.c.last_seen.desc())
            .limit(50)
        ).mappings()
    ]
    digests = [i.get("digest") for i in out["images"] if i.get("digest")]
    out["sboms"] = []
    if digests:
        for r in conn.execute(
            select(
                runtime_images.c.digest,
                runtime_images.c.name,
                runtime_images.c.packages,
                runtime_images.c.vulns,
                runtime_images.c.updated_at,
            ).where(runtime_images.c.digest.in_(digests))
        ).mappings():
            out["sboms"].append({**dict(r), "vulns": len(orjson.loads(r["vulns"] or "[]"))})
    return out


# -- scans and posture -------------------------------------------------------------------------
def scan_results(conn: Connection, cache: Aggregates) -> dict[str, Any]:
    """Vulnerability, secret and misconfiguration findings per source and severity; the images
    whose SBOMs are stored; the workloads with the most critical and high known findings."""

    def compute(conn: Connection) -> dict[str, Any]:
        per_source: dict[tuple[str, str], dict[str, Any]] = {}
        for src, kind, sev, n, last in conn.execute(
            select(
                findings.c.source,
                findings.c.kind,
                findings.c.severity,
                func.count(),
                func.max(findings.c.last_seen),
            )
            .where(findings.c.kind.in_(KNOWN_KINDS))
            .group_by(findings.c.source, findings.c.kind, findings.c.severity)
        ):
            entry = per_source.setdefault(
                (str(src), str(kind)), {"source": src, "kind": kind, "total": 0, "last": ""}
            )
            entry[str(sev)] = int(n)
            entry["total"] += int(n)
            entry["last"] = max(entry["last"], str(last))
        worst = [
            {"workload": wl, "count": int(n)}
            for wl, n in conn.execute(
                select(findings.c.workload, func.count())
                .where(findings.c.kind.in_(KNOWN_KINDS), findings.c.severity_rank >= 4)
                .group_by(findings.c.workload)
                .order_by(func.count().desc())
                .limit(20)
            )
        ]
        images = [
            {**dict(r), "vulns": len(orjson.loads(r["vulns"] or "[]"))}
            for r in conn.execute(
                select(
                    runtime_images.c.digest,
                    runtime_images.c.name,
                    runtime_images.c.origin,
                    runtime_images.c.packages,
                    runtime_images.c.vulns,
                    runtime_images.c.updated_at,
                )
                .order_by(runtime_images.c.updated_at.desc())
                .limit(100)
            ).mappings()
        ]
        return {
            "sources": sorted(per_source.values(), key=lambda e: (e["source"], e["kind"])),
            "worst": worst,
            "images": images,
        }

    return dict(cache.get(("scans",), compute))


# -- notifications and exports -----------------------------------------------------------------
def outbox_summary(conn: Connection) -> dict[str, Any]:
    per: dict[str, dict[str, int]] = {}
    for ch, state, n in conn.execute(
        select(outbox.c.channel, outbox.c.state, func.count()).group_by(outbox.c.channel, outbox.c.state)
    ):
        per.setdefault(str(ch), {})[str(state)] = int(n)
    failing = [
        dict(r)
        for r in conn.execute(
            select(
                outbox.c.id,
                outbox.c.channel,
                outbox.c.incident_id,
                outbox.c.event,
                outbox.c.state,
                outbox.c.attempts,
                outbox.c.next_attempt_at,
                outbox.c.last_error,
                outbox.c.created_at,
            )
            .where(outbox.c.last_error.is_not(None), outbox.c.state != "delivered")
            .order_by(outbox.c.id.desc())
            .limit(100)
        ).mappings()
    ]
    recent = [
        dict(r)
        for r in conn.execute(
            select(
                outbox.c.id,
                outbox.c.channel,
                outbox.c.incident_id,
                outbox.c.event,
                outbox.c.state,
                outbox.c.attempts,
                outbox.c.delivered_at,
                outbox.c.created_at,
            )
            .order_by(outbox.c.id.desc())
            .limit(50)
        ).mappings()
    ]
    return {"channels": per, "failing": failing, "recent": recent}


def export_summary(conn: Connection) -> list[dict[str, Any]]:
    out = []
    for r in conn.execute(select(export_runs).order_by(export_runs.c.name)).mappings():
        item = dict(r)
        item["last_result"] = orjson.loads(r["last_result"]) if r["last_result"] else {}
        out.append(item)
    return out


__all__ = ["Aggregates", "split_bars"]
