"""Microsoft Teams through a Workflows webhook ("Post to a channel when a webhook request is
received"): the message as an Adaptive Card (1.4) in a `message` with one attachment.

Text from logs is the attacker's: a TextBlock renders Markdown (a pod named `[click](https://...)`
would become a link), so every value that came from events is a `TextRun` of a `RichTextBlock`,
which Adaptive Cards show verbatim. Only seawall's own labels are TextBlocks. The URL carries the
flow's signature: a secret (keep it in `url_env`).
"""

from __future__ import annotations

from typing import Any

import orjson

from seawall.service.notify.webhook import _url, post

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
COLOR = {"critical": "attention", "high": "attention", "medium": "warning"}


def _verbatim(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": text, **style}]}


def card(message: dict[str, Any]) -> dict[str, Any]:
    inc = message["incident"]
    body: list[dict[str, Any]] = [
        _verbatim(
            str(message["text"])[:500], weight="bolder", color=COLOR.get(str(inc["severity"]), "default")
        ),
        {
            "type": "ColumnSet",
            "columns": [
                {
                    "type": "Column",
                    "width": "auto",
                    "items": [
                        {"type": "TextBlock", "text": label, "weight": "bolder", "spacing": "none"}
                        for label in ("Workload", "State", "Findings / events", "Techniques")
                    ],
                },
                {
                    "type": "Column",
                    "width": "stretch",
                    "items": [
                        {**_verbatim(str(inc["workload"])[:300], fontType="monospace"), "spacing": "none"},
                        {
                            **_verbatim(
                                str(inc["state"]) + (f" by {inc['state_by']}" if inc.get("state_by") else "")
                            ),
                            "spacing": "none",
                        },
                        {**_verbatim(f"{inc['findings']} / {inc['events']}"), "spacing": "none"},
                        {**_verbatim(", ".join(inc["techniques"]) or "-"), "spacing": "none"},
                    ],
                },
            ],
        },
    ]
    steps = message["steps"][:5]
    if steps:
        body.append({"type": "TextBlock", "text": "Latest steps", "weight": "bolder", "separator": True})
        for s in steps:
            line = f"{str(s['time'])[:19]} {s['severity']} {s['title']}"
            if s.get("count", 0) > 1:
                line += f" ({s['count']}x)"
            body.append({**_verbatim(line[:300]), "spacing": "small"})
            if s.get("evidence"):
                body.append(
                    {
                        **_verbatim(str(s["evidence"])[:500], fontType="monospace", isSubtle=True),
                        "spacing": "none",
                    }
                )
    content: dict[str, Any] = {"$schema": CARD_SCHEMA, "type": "AdaptiveCard", "version": "1.4", "body": body}
    if inc.get("url"):
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": f"Open incident #{inc['id']}", "url": inc["url"]}
        ]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}
        ],
    }


class TeamsChannel:
    type = "teams"

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = str(spec["name"])
        self.url = _url(spec, f"notifications: channel {self.name}")
        self.timeout = float(spec.get("timeout", 10))
        self.verify: Any = str(spec["ca_file"]) if spec.get("ca_file") else True

    def target(self) -> str:
        host = self.url.split("://", 1)[-1].split("/", 1)[0]
        return f"{self.url.split('://', 1)[0]}://{host}/… (Teams workflow)"

    def send(self, message: dict[str, Any], delivery_id: str) -> None:
        if not message.get("incident"):
            return
        post(
            self.url,
            orjson.dumps(card(message)),
            {"Content-Type": "application/json"},
            self.timeout,
            self.verify,
        )
