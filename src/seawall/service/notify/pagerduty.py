"""PagerDuty Events API v2 (and services that speak it): one alert per incident, followed through.

    POST https://events.pagerduty.com/v2/enqueue     (`url` to point elsewhere)
    {"routing_key": ..., "event_action": "trigger" | "acknowledge" | "resolve",
     "dedup_key": "seawall/incident/<id>", "payload": {...}, "links": [...]}

The incident's id is the `dedup_key`, so its messages land on one PagerDuty alert: opened,
escalated and "N more events" are triggers (PagerDuty adds them to the open alert), acknowledged
is `acknowledge`, resolved and false positive are `resolve`, reopened triggers again. Severity:
critical -> critical, high -> error, medium -> warning, the rest -> info. The routing key is a
secret (keep it in `routing_key_env`); only its first characters are ever shown.
"""

from __future__ import annotations

from typing import Any

import orjson

from seawall.core.errors import InputError
from seawall.service.notify.config import secret
from seawall.service.notify.webhook import post

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITY = {"critical": "critical", "high": "error", "medium": "warning"}
ACTION = {"acknowledged": "acknowledge", "resolved": "resolve", "false_positive": "resolve"}


def event(message: dict[str, Any], routing_key: str, prefix: str = "seawall") -> dict[str, Any]:
    """The Events API v2 body for one seawall message."""
    inc = message["incident"]
    action = ACTION.get(str(inc["state"]), "trigger")
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": f"{prefix}/incident/{inc['id']}",
    }
    if action != "trigger":
        return body
    body["payload"] = {
        "summary": str(message["text"])[:1024],
        "source": str(inc["workload"])[:255] or "seawall",
        "severity": SEVERITY.get(str(inc["severity"]), "info"),
        "timestamp": inc["last_seen"],
        "component": str(inc["workload"])[:255],
        "group": str(inc.get("namespace") or "")[:255],
        "class": ", ".join(inc["techniques"])[:255],
        "custom_details": {
            "event": message["event"],
            "state": inc["state"],
            "findings": inc["findings"],
            "events": inc["events"],
            "tactics": inc["tactics"],
            "sources": inc["sources"],
            "changes": message["changes"],
            "steps": message["steps"][:5],
        },
    }
    if inc.get("url"):
        body["links"] = [{"href": inc["url"], "text": f"seawall incident #{inc['id']}"}]
    return body


class PagerDutyChannel:
    type = "pagerduty"

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = str(spec["name"])
        where = f"notifications: channel {self.name}"
        self.routing_key = secret(spec, "routing_key", where, required=True) or ""
        self.url = str(spec.get("url") or DEFAULT_URL)
        if not self.url.startswith(("https://", "http://")):
            raise InputError(f"{where}: url must be http(s)://")
        self.prefix = str(spec.get("dedup_prefix") or "seawall")
        self.timeout = float(spec.get("timeout", 10))
        self.verify: Any = str(spec["ca_file"]) if spec.get("ca_file") else True

    def target(self) -> str:
        return f"{self.url.split('?', 1)[0]} (routing key {self.routing_key[:4]}…)"

    def send(self, message: dict[str, Any], delivery_id: str) -> None:
        if not message.get("incident"):
            return  # nothing to page about
        body = orjson.dumps(event(message, self.routing_key, self.prefix))
        post(self.url, body, {"Content-Type": "application/json"}, self.timeout, self.verify)
