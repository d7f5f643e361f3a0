"""One message per incident and per change of it: what a person needs to act, nothing they must not see.

The message is built when it is put in the outbox (so a retry sends what was true then) and is
channel-neutral JSON (`seawall.notification/v1`); channels render it. Titles and evidence come
from logs and images: control characters are replaced, secrets redacted, lengths capped.
"""

from __future__ import annotations

from typing import Any

from seawall.core.text import printable
from seawall.service.timeutil import parse_iso

SCHEMA = "seawall.notification/v1"
EVIDENCE_CHARS = 300


def _clean(value: Any, cap: int = 300) -> str:
    return printable(str(value or ""))[:cap]


def _redacted(value: Any) -> str:
    from seawall.service.console.render import redacted

    return redacted(str(value or "")[: EVIDENCE_CHARS * 4]).replace("\n", " ")[:EVIDENCE_CHARS]


def _minutes(since: str | None, now: str) -> str:
    if not since:
        return ""
    seconds = max(0, int((parse_iso(now) - parse_iso(since)).total_seconds()))
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 7200:
        return f"{seconds // 60} minutes"
    return f"{seconds // 3600} hours"


def headline(event: str, inc: dict[str, Any], changes: dict[str, Any]) -> str:
    sev = inc["severity"].upper()
    base = f"[{sev}] incident #{inc['id']} on {inc['workload']}"
    if event == "opened":
        return f"{base} opened: {inc['title']}"
    if event == "state":
        st = changes.get("state", {})
        who = f" by {inc['state_by']}" if inc.get("state_by") else ""
        return f"{base} {str(st.get('to', inc['state'])).replace('_', ' ')}{who} (was {st.get('from', '?')})"
    if event == "escalated":
        parts = []
        if changes.get("severity"):
            parts.append(f"severity {changes['severity']['from']} -> {changes['severity']['to']}")
        if changes.get("new_techniques"):
            parts.append("new techniques " + ", ".join(changes["new_techniques"]))
        return f"{base} escalated: " + "; ".join(parts)
    return f"{base}: {changes.get('text', 'updated')}"


def build(
    event: str,
    inc: dict[str, Any],
    prev: dict[str, Any] | None,
    steps: list[dict[str, Any]],
    now: str,
    console_url: str,
) -> dict[str, Any]:
    """`inc` is the incident (API shape), `prev` what the last message said (None: first one)."""
    changes: dict[str, Any] = {}
    if prev is not None:
        d_events = int(inc["events"]) - int(prev["events"])
        d_findings = int(inc["finding_count"]) - int(prev["findings"])
        if d_events or d_findings:
            window = _minutes(prev["notified_at"], now)
            changes.update(events=d_events, findings=d_findings, since=prev["notified_at"])
            what = f"{d_events} more event{'s' if d_events != 1 else ''}"
            if d_findings:
                what += f" ({d_findings} new finding{'s' if d_findings != 1 else ''})"
            changes["text"] = f"{what} of this incident in the last {window}"
        if prev["state"] != inc["state"]:
            changes["state"] = {"from": prev["state"], "to": inc["state"]}
        if prev.get("severity") and prev["severity"] != inc["severity"]:
            changes["severity"] = {"from": prev["severity"], "to": inc["severity"]}
        old = set(prev.get("techniques") or [])
        new = [t for t in inc["techniques"] if t not in old]
        if new:
            changes["new_techniques"] = new
    incident = {
        "id": inc["id"],
        "title": _clean(inc["title"]),
        "severity": inc["severity"],
        "state": inc["state"],
        "workload": _clean(inc["workload"], 512),
        "namespace": _clean(inc.get("namespace"), 255) or None,
        "first_seen": inc["first_seen"],
        "last_seen": inc["last_seen"],
        "findings": inc["finding_count"],
        "events": inc["events"],
        "techniques": inc["techniques"],
        "tactics": inc["tactics"],
        "sources": [_clean(s, 64) for s in inc["sources"]],
        "state_by": _clean(inc.get("state_by"), 255) or None,
        "state_note": _clean(inc.get("state_note"), 500) or None,
        "url": f"{console_url}/incidents/{inc['id']}" if console_url else None,
    }
    clean_inc = {**inc, **incident, "finding_count": inc["finding_count"]}
    return {
        "schema": SCHEMA,
        "event": event,
        "text": printable(headline(event, clean_inc, changes))[:500],
        "incident": incident,
        "changes": changes,
        "steps": [
            {
                "time": s["time"],
                "title": _clean(s["title"]),
                "rule": _clean(s["rule"], 255),
                "severity": s["severity"],
                "count": s["count"],
                "source": _clean(s["source"], 64),
                "evidence": _redacted(s.get("evidence")),
            }
            for s in steps[:5]
        ],
        "sent_at": now,
    }


def as_text(message: dict[str, Any]) -> str:
    """The plain-text rendering (email body; Slack's fallback)."""
    inc = message["incident"]
    lines = [message["text"], ""]
    lines.append(
        f"Workload:   {inc['workload']}"
        + (f" (namespace {inc['namespace']})" if inc.get("namespace") else "")
    )
    lines.append(f"State:      {inc['state']}" + (f" by {inc['state_by']}" if inc.get("state_by") else ""))
    lines.append(f"Severity:   {inc['severity']}")
    lines.append(f"Seen:       {inc['first_seen']} -> {inc['last_seen']}")
    lines.append(f"Findings:   {inc['findings']}, events: {inc['events']}")
    if inc["techniques"]:
        lines.append(f"Techniques: {', '.join(inc['techniques'])} ({', '.join(inc['tactics'])})")
    if message["steps"]:
        lines.append("")
        lines.append("Latest steps:")
        for s in message["steps"]:
            count = f" ({s['count']}x)" if s["count"] and s["count"] > 1 else ""
            lines.append(f"  {s['time'][:19]}  {s['severity']:<8} {s['title']}{count}  [{s['source']}]")
            if s["evidence"]:
                lines.append(f"      {s['evidence']}")
    if inc.get("url"):
        lines += ["", f"Open it: {inc['url']}"]
    return "\n".join(lines) + "\n"
