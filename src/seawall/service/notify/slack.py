"""Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): `{"text", "blocks"}`.

Text from logs is escaped for Slack's mrkdwn (`&`, `<`, `>`), so that an attacker's log line
cannot ping `<!channel>` or hide a link; the URL is a secret (keep it in `url_env`).
"""

from __future__ import annotations

from typing import Any

import orjson

from seawall.service.notify.config import secret
from seawall.service.notify.webhook import _url, post


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(message: dict[str, Any]) -> dict[str, Any]:
    inc = message["incident"]
    head = escape(message["text"])
    if inc.get("url"):
        head = f"<{inc['url']}|#{inc['id']}> " + head
    facts = [
        f"*Workload:* `{escape(inc['workload'])}`",
        f"*State:* {escape(inc['state'])}"
        + (f" by {escape(inc['state_by'])}" if inc.get("state_by") else ""),
        f"*Findings / events:* {inc['findings']} / {inc['events']}",
    ]
    if inc["techniques"]:
        facts.append("*Techniques:* " + escape(", ".join(inc["techniques"])))
    steps = [
        f"• {escape(s['time'][:19])} *{escape(s['severity'])}* {escape(s['title'])}"
        + (f" ({s['count']}x)" if s.get("count", 0) > 1 else "")
        + (f"\n    `{escape(s['evidence'][:150])}`" if s.get("evidence") else "")
        for s in message["steps"][:5]
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": head[:2900]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(facts)[:2900]}},
    ]
    if steps:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(steps)[:2900]}})
    return {"text": escape(message["text"])[:3000], "blocks": blocks}


class SlackChannel:
    type = "slack"

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = str(spec["name"])
        self.url = _url(spec, f"notifications: channel {self.name}")
        self.timeout = float(spec.get("timeout", 10))
        self.verify: Any = str(spec["ca_file"]) if spec.get("ca_file") else True
        self.username = secret(spec, "username", "") or None

    def target(self) -> str:
        host = self.url.split("://", 1)[-1].split("/", 1)[0]
        return f"{self.url.split('://', 1)[0]}://{host}/… (incoming webhook)"

    def send(self, message: dict[str, Any], delivery_id: str) -> None:
        body = payload(message)
        if self.username:
            body["username"] = self.username
        post(self.url, orjson.dumps(body), {"Content-Type": "application/json"}, self.timeout, self.verify)
