"""The `notifications:` section of seawall.yaml.

    notifications:
      console_url: https://seawall.example:8443     # links in messages
      interval: 5                # seconds between passes over changed incidents and due messages
      aggregate_seconds: 600     # growth of an incident (more events) is told at most this often
      max_age_hours: 24          # on first start, incidents stored before this are not announced
      retry: {base_seconds: 5, max_seconds: 3600, max_attempts: 12}
      channels:
        - {name: soc, type: webhook, url: https://hooks.example/seawall, secret_env: SEAWALL_WEBHOOK_SECRET}
        - {name: chat, type: slack, url_env: SLACK_WEBHOOK_URL}
        - {name: mail, type: email, host: smtp.example, port: 587, tls: starttls,
           username: seawall, password_env: SMTP_PASSWORD, from: seawall@example.com, to: [soc@example.com]}
      rules:
        - {name: urgent, min_severity: high, channels: [soc, chat, mail]}
        - {name: shop, namespace: shop, technique: T1609, channels: [chat]}
        - {name: frontend, workload: k8s/shop/Deployment/frontend, events: [opened, state], channels: [mail]}

A rule matches an incident when every condition it has holds (severity: a list; min_severity;
technique, sub-techniques included; namespace; workload: a key or key prefix). `events` limits
which changes it tells (opened, state, escalated, update; default all). Secrets come from the
environment (`*_env`) or the file, never from the command line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from seawall.core import Severity
from seawall.core.errors import InputError

EVENTS = ("opened", "state", "escalated", "update")


@dataclass(slots=True)
class Rule:
    name: str
    channels: list[str]
    severity: list[str] | None = None
    min_severity: str | None = None
    technique: str | None = None
    namespace: str | None = None
    workload: str | None = None
    events: tuple[str, ...] = EVENTS

    def matches(self, incident: dict[str, Any], event: str) -> bool:
        if event not in self.events:
            return False
        if self.severity and incident["severity"] not in self.severity:
            return False
        if self.min_severity and Severity(incident["severity"]).rank < Severity(self.min_severity).rank:
            return False
        if self.technique and not any(
            t == self.technique or t.startswith(self.technique + ".") for t in incident["techniques"]
        ):
            return False
        if self.namespace and incident.get("namespace") != self.namespace:
            return False
        wl = str(incident.get("workload") or "")
        return not self.workload or wl == self.workload or wl.startswith(self.workload.rstrip("/") + "/")


@dataclass(slots=True)
class Settings:
    channels: list[dict[str, Any]] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    console_url: str = ""
    interval: float = 5.0
    aggregate_seconds: float = 600.0
    max_age_hours: float = 24.0
    base_seconds: float = 5.0
    max_seconds: float = 3600.0
    max_attempts: int = 12


def secret(spec: dict[str, Any], key: str, where: str, required: bool = False) -> str | None:
    """`key` from the mapping, or from the environment variable named by `key_env`."""
    env = spec.get(f"{key}_env")
    if env:
        value = os.environ.get(str(env))
        if value is None and required:
            raise InputError(f"{where}: environment variable {env} ({key}) is not set")
        return value
    value = spec.get(key)
    if value is None and required:
        raise InputError(f"{where}: {key} (or {key}_env) is required")
    return None if value is None else str(value)


def _num(doc: dict[str, Any], key: str, default: float, where: str) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InputError(f"{where}: {key} must be a number >= 0")
    return float(value)


def parse(doc: Any) -> Settings:
    where = "notifications"
    if doc is None:
        return Settings()
    if not isinstance(doc, dict):
        raise InputError(f"{where}: must be a mapping")
    s = Settings()
    s.console_url = str(doc.get("console_url") or "").rstrip("/")
    s.interval = max(0.2, _num(doc, "interval", s.interval, where))
    s.aggregate_seconds = _num(doc, "aggregate_seconds", s.aggregate_seconds, where)
    s.max_age_hours = _num(doc, "max_age_hours", s.max_age_hours, where)
    retry = doc.get("retry") or {}
    if not isinstance(retry, dict):
        raise InputError(f"{where}: retry must be a mapping")
    s.base_seconds = _num(retry, "base_seconds", s.base_seconds, f"{where}.retry")
    s.max_seconds = _num(retry, "max_seconds", s.max_seconds, f"{where}.retry")
    s.max_attempts = max(1, int(_num(retry, "max_attempts", s.max_attempts, f"{where}.retry")))
    channels = doc.get("channels") or []
    if not isinstance(channels, list):
        raise InputError(f"{where}: channels must be a list")
    names: set[str] = set()
    for i, ch in enumerate(channels):
        if not isinstance(ch, dict) or not isinstance(ch.get("name"), str) or not ch.get("type"):
            raise InputError(f"{where}: channels[{i}] needs a name and a type")
        if ch["name"] in names:
            raise InputError(f"{where}: channel {ch['name']} declared twice")
        names.add(ch["name"])
        s.channels.append(ch)
    rules = doc.get("rules") or []
    if not isinstance(rules, list):
        raise InputError(f"{where}: rules must be a list")
    valid = {v.value for v in Severity}
    for i, r in enumerate(rules):
        if not isinstance(r, dict):
            raise InputError(f"{where}: rules[{i}] must be a mapping")
        rname = str(r.get("name") or f"rule {i + 1}")
        chans = r.get("channels") or []
        if isinstance(chans, str):
            chans = [chans]
        unknown = [c for c in chans if c not in names]
        if not chans or unknown:
            raise InputError(
                f"{where}: rule {rname}: channels must name configured channels ({unknown or 'none'})"
            )
        sev = r.get("severity")
        if isinstance(sev, str):
            sev = [sev]
        if sev is not None and (not isinstance(sev, list) or any(v not in valid for v in sev)):
            raise InputError(f"{where}: rule {rname}: severity must be among {', '.join(sorted(valid))}")
        ms = r.get("min_severity")
        if ms is not None and ms not in valid:
            raise InputError(f"{where}: rule {rname}: min_severity must be one of {', '.join(sorted(valid))}")
        events = r.get("events") or list(EVENTS)
        if isinstance(events, str):
            events = [events]
        if any(e not in EVENTS for e in events):
            raise InputError(f"{where}: rule {rname}: events must be among {', '.join(EVENTS)}")
        s.rules.append(
            Rule(
                name=rname,
                channels=[str(c) for c in chans],
                severity=sev,
                min_severity=ms,
                technique=str(r["technique"]) if r.get("technique") else None,
                namespace=str(r["namespace"]) if r.get("namespace") else None,
                workload=str(r["workload"]) if r.get("workload") else None,
                events=tuple(events),
            )
        )
    return s
