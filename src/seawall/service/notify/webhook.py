"""Webhook channel: the message as JSON, signed with HMAC-SHA256.

    POST url
    Content-Type: application/json
    X-Seawall-Event: opened|state|escalated|update|test
    X-Seawall-Delivery: <outbox id>          (the same on every retry: receivers dedupe on it)
    X-Seawall-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body, compares in constant
time, and refuses timestamps older than a few minutes (replays). TLS is verified (`ca_file` for a
private CA); the request is bounded by `timeout` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import httpx
import orjson

from seawall.core.errors import InputError
from seawall.service.notify import DeliveryError
from seawall.service.notify.config import secret


def signature(secret_key: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret_key.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def post(url: str, body: bytes, headers: dict[str, str], timeout: float, verify: Any) -> None:
    try:
        with httpx.Client(timeout=timeout, verify=verify, follow_redirects=False) as client:
            resp = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:300]) from None
    if resp.status_code >= 300:
        raise DeliveryError(f"HTTP {resp.status_code}: {resp.text[:200]}")


def _url(spec: dict[str, Any], where: str) -> str:
    url = secret(spec, "url", where, required=True) or ""
    if not url.startswith(("https://", "http://")):
        raise InputError(f"{where}: url must be http(s)://")
    return url


class WebhookChannel:
    type = "webhook"

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = str(spec["name"])
        where = f"notifications: channel {self.name}"
        self.url = _url(spec, where)
        self.secret = secret(spec, "secret", where, required=True) or ""
        self.timeout = float(spec.get("timeout", 10))
        self.verify: Any = str(spec["ca_file"]) if spec.get("ca_file") else True

    def target(self) -> str:
        return self.url.split("?", 1)[0]

    def send(self, message: dict[str, Any], delivery_id: str) -> None:
        body = orjson.dumps(message)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "seawall-notify",
            "X-Seawall-Event": str(message.get("event", "")),
            "X-Seawall-Delivery": delivery_id,
            "X-Seawall-Signature": signature(self.secret, int(time.time()), body),
        }
        post(self.url, body, headers, self.timeout, self.verify)
