"""The outbox: what is to be told, kept in the database until a channel has taken it.

`scan` looks at the incidents that changed since they were last looked at (their `updated_at`
against `notify_state.seen_updated_at`) and decides per incident at most one message:

    opened      a new incident
    state       acknowledged, resolved, false positive, reopened (told at once)
    escalated   a higher severity or a new ATT&CK technique (told at once)
    update      more events or findings, told at most once per `aggregate_seconds`
                ("14 more events of this incident in the last 10 minutes")

It writes one outbox row per channel of the rules that match, and the incident's new
notify_state, in one transaction: a crash repeats nothing and loses nothing. `deliver` sends the
due rows of each channel in order; a failure leaves the row pending with exponential backoff, and
the channel's later messages wait behind it (not tried in the same pass, nor in a later one while
the failed message waits for its retry), so a channel is told the changes in the order they
came. After `max_attempts` the row is `dead` (and no longer holds the channel back), shown in
the console and in /metrics until an admin retries it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, insert, or_, select, update

from seawall.core import Severity
from seawall.service.incidents import split_bars
from seawall.service.notify import Channel, DeliveryError
from seawall.service.notify.config import Settings
from seawall.service.notify.message import build
from seawall.service.queries import incident_out
from seawall.service.store import Store, json_dumps
from seawall.service.tables import findings, incidents, notify_state, outbox
from seawall.service.timeutil import now_iso, shift

SCAN_LIMIT = 500
DELIVER_LIMIT = 200


@dataclass(slots=True)
class Counters:
    enqueued: dict[str, int] = field(default_factory=dict)
    delivered: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)  # failed attempts
    dead: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def add(table: dict[str, int], key: str, n: int = 1) -> None:
        table[key] = table.get(key, 0) + n


def _event(row: Any, prev: Any, now: str, s: Settings) -> str | None:
    if prev is None:
        return "opened"
    if row["state"] != prev["state"]:
        return "state"
    old = set(split_bars(prev["techniques"]))
    if row["severity_rank"] > prev["severity_rank"] or any(
        t not in old for t in split_bars(row["techniques"])
    ):
        return "escalated"
    if row["events"] > prev["events"] or row["findings"] > prev["findings"]:
        if prev["notified_at"] > shift(now, -s.aggregate_seconds):
            return "wait"
        return "update"
    return None


def _steps(conn: Any, iid: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            findings.c.first_seen,
            findings.c.title,
            findings.c.rule,
            findings.c.severity,
            findings.c.count,
            findings.c.source,
            findings.c.doc,
        )
        .where(findings.c.incident_id == iid)
        .order_by(findings.c.last_seen.desc())
        .limit(5)
    ).mappings()
    out = []
    for r in rows:
        doc = orjson.loads(r["doc"])
        out.append(
            {
                "time": r["first_seen"],
                "title": r["title"],
                "rule": r["rule"],
                "severity": r["severity"],
                "count": r["count"],
                "source": (doc.get("extra") or {}).get("source") or r["source"],
                "evidence": doc.get("evidence") or "",
            }
        )
    return out


def scan(store: Store, s: Settings, counters: Counters | None = None) -> int:
    """Outbox rows for the incidents that changed. Returns how many rows were written."""
    now = now_iso()
    written = 0
    with store.write() as conn:
        first_run = conn.execute(select(notify_state.c.incident_id).limit(1)).first() is None
        rows = (
            conn.execute(
                select(incidents, notify_state.c.seen_updated_at.label("ns_seen"))
                .select_from(incidents.outerjoin(notify_state, notify_state.c.incident_id == incidents.c.id))
                .where(
                    or_(
                        notify_state.c.incident_id.is_(None),
                        incidents.c.updated_at > notify_state.c.seen_updated_at,
                    )
                )
                .order_by(incidents.c.id)
                .limit(SCAN_LIMIT)
            )
            .mappings()
            .all()
        )
        if not rows:
            return 0
        prevs = {
            r["incident_id"]: r
            for r in conn.execute(
                select(notify_state).where(notify_state.c.incident_id.in_([r["id"] for r in rows]))
            ).mappings()
        }
        oldest = shift(now, -s.max_age_hours * 3600)
        for row in rows:
            prev = prevs.get(row["id"])
            event = _event(row, prev, now, s)
            if event == "wait":
                continue
            if event == "opened" and first_run and row["created_at"] < oldest:
                event = None  # stored long before notifications were set up: not announced
            channels: list[str] = []
            inc = incident_out(row, [])
            if event is not None:
                for rule in s.rules:
                    if rule.matches(inc, event):
                        channels.extend(c for c in rule.channels if c not in channels)
            if channels and event is not None:
                prev_doc = None
                if prev is not None:
                    prev_doc = {
                        "events": prev["events"],
                        "findings": prev["findings"],
                        "state": prev["state"],
                        "severity": _sev_name(prev["severity_rank"]),
                        "techniques": split_bars(prev["techniques"]),
                        "notified_at": prev["notified_at"],
                    }
                msg = build(event, inc, prev_doc, _steps(conn, row["id"]), now, s.console_url)
                payload = json_dumps(msg)
                for ch in channels:
                    conn.execute(
                        insert(outbox).values(
                            channel=ch,
                            incident_id=row["id"],
                            event=event,
                            payload=payload,
                            state="pending",
                            attempts=0,
                            next_attempt_at=now,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    written += 1
                    if counters is not None:
                        Counters.add(counters.enqueued, ch)
            told = event is not None  # a change no rule wanted still counts as told (nothing to add up)
            values = {
                "seen_updated_at": row["updated_at"],
                "state": row["state"],
                "severity_rank": row["severity_rank"],
                "findings": row["findings"],
                "events": row["events"],
                "techniques": row["techniques"],
            }
            if prev is None:
                conn.execute(insert(notify_state).values(incident_id=row["id"], notified_at=now, **values))
            else:
                if told:
                    values["notified_at"] = now
                conn.execute(
                    update(notify_state).where(notify_state.c.incident_id == row["id"]).values(**values)
                )
    return written


def _sev_name(rank: int) -> str:
    for s in Severity:
        if s.rank == rank:
            return s.value
    return "unknown"


def backoff(attempts: int, s: Settings) -> float:
    delay = min(s.base_seconds * (2 ** max(0, attempts - 1)), s.max_seconds)
    return delay * random.uniform(0.8, 1.2)


def _due(store: Store, now: str) -> list[Any]:
    """The messages to send now, in order per channel: a channel's pending messages from its
    oldest, up to the first that is not due yet (one waiting for its retry holds back the later
    ones of its channel, so that "acknowledged" is never told after "resolved")."""
    out: list[Any] = []
    with store.read() as conn:
        names = [
            r[0]
            for r in conn.execute(
                select(outbox.c.channel)
                .where(outbox.c.state == "pending")
                .distinct()
                .order_by(outbox.c.channel)
            )
        ]
        for name in names:
            rows = conn.execute(
                select(
                    outbox.c.id,
                    outbox.c.channel,
                    outbox.c.payload,
                    outbox.c.attempts,
                    outbox.c.next_attempt_at,
                )
                .where(outbox.c.channel == name, outbox.c.state == "pending")
                .order_by(outbox.c.id)
                .limit(DELIVER_LIMIT)
            ).mappings()
            for row in rows:
                if row["next_attempt_at"] > now:
                    break
                out.append(row)
    return out


def deliver(store: Store, channels: dict[str, Channel], s: Settings, counters: Counters | None = None) -> int:
    """Send the due messages. Returns how many were delivered."""
    due = _due(store, now_iso())
    blocked: set[str] = set()
    sent = 0
    for row in due:
        name = row["channel"]
        if name in blocked:
            continue
        channel = channels.get(name)
        attempts = int(row["attempts"]) + 1
        error: str | None = None
        if channel is None:
            error = f"channel {name} is no longer configured"
            attempts = s.max_attempts
        else:
            try:
                channel.send(orjson.loads(row["payload"]), str(row["id"]))
            except DeliveryError as exc:
                error = str(exc)
            except Exception as exc:  # a channel bug must not stop the others
                error = f"{type(exc).__name__}: {exc}"[:300]
        at = now_iso()
        with store.write() as conn:
            if error is None:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == row["id"])
                    .values(state="delivered", attempts=attempts, delivered_at=at, updated_at=at)
                )
                sent += 1
                if counters is not None:
                    Counters.add(counters.delivered, name)
                continue
            blocked.add(name)
            dead = attempts >= s.max_attempts
            conn.execute(
                update(outbox)
                .where(outbox.c.id == row["id"])
                .values(
                    state="dead" if dead else "pending",
                    attempts=attempts,
                    last_error=error[:1000],
                    next_attempt_at=shift(at, backoff(attempts, s)),
                    updated_at=at,
                )
            )
            if counters is not None:
                Counters.add(counters.failed, name)
                if dead:
                    Counters.add(counters.dead, name)
    return sent


def retry_dead(store: Store, actor: str, channel: str | None = None) -> int:
    """Failed (dead) messages back to pending, now; recorded in the audit trail."""
    now = now_iso()
    with store.write() as conn:
        cond = and_(outbox.c.state == "dead")
        if channel:
            cond = and_(cond, outbox.c.channel == channel)
        n = (
            conn.execute(
                update(outbox)
                .where(cond)
                .values(state="pending", attempts=0, next_attempt_at=now, updated_at=now)
            ).rowcount
            or 0
        )
        store.audit(conn, actor, "notify.retry", f"channel:{channel or '*'}", {"messages": n})
    return int(n)
