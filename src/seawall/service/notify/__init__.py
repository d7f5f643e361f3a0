"""Notifications that people act on: one message per incident and per change of it, never one
per event; a durable outbox, so that a channel that is down loses nothing.

    config.py     the `notifications:` section: channels, rules, timings
    message.py    an incident (and what changed since the last message) -> one message, evidence redacted
    outbox.py     incidents that changed -> outbox rows (one per channel), in one transaction with the
                  per-incident state; due rows delivered, retried with exponential backoff, then `dead`
    worker.py     the service's thread; counters for /metrics
    webhook.py  slack.py  email.py  pagerduty.py  teams.py
                  one module per channel type behind `Channel`, registered in CHANNELS
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

# type -> "module:class"
CHANNELS: dict[str, str] = {
    "webhook": "seawall.service.notify.webhook:WebhookChannel",
    "slack": "seawall.service.notify.slack:SlackChannel",
    "email": "seawall.service.notify.email:EmailChannel",
    "pagerduty": "seawall.service.notify.pagerduty:PagerDutyChannel",
    "teams": "seawall.service.notify.teams:TeamsChannel",
}


class DeliveryError(Exception):
    """A message could not be delivered now (it stays in the outbox and is retried)."""


@runtime_checkable
class Channel(Protocol):
    name: str
    type: str

    def send(self, message: dict[str, Any], delivery_id: str) -> None:
        """Deliver one message or raise DeliveryError (bounded in time)."""
        ...

    def target(self) -> str:
        """Where it goes, for the console (no secret)."""
        ...


def channel_class(kind: str) -> Any:
    from seawall.core.errors import InputError

    spec = CHANNELS.get(kind)
    if spec is None:
        raise InputError(
            f"notifications: unknown channel type {kind!r}; choose one of: {', '.join(CHANNELS)}"
        )
    module, attr = spec.split(":")
    return getattr(importlib.import_module(module), attr)
