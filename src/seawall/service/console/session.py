"""Console sessions: a token logs in once through the form, the browser then holds a cookie.

    cookie   seawall_session=<32 random bytes>  HttpOnly, SameSite=Strict, Path=/, Secure with TLS
    store    console_sessions: SHA-256 of that value, the token id, the session's CSRF token, expiry

The session lives while its token does: revoking the token (`seawall tokens revoke`) ends every
session it opened within the token cache's refresh time. Every change (POST) made with a session
must carry the session's CSRF token (form field `csrf` or header `X-CSRF-Token`) and, when the
browser sends an Origin, come from this site; requests with `Authorization: Bearer` carry no
ambient credential and need neither. The login form itself is protected by a double-submit
cookie (`seawall_login`), so that no other site can log a browser in with the attacker's token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import insert, select, update

from seawall.service.auth import Principal
from seawall.service.tables import console_sessions
from seawall.service.timeutil import now_iso, shift

if TYPE_CHECKING:
    from starlette.requests import Request

    from seawall.service.server import Service

COOKIE = "seawall_session"
LOGIN_COOKIE = "seawall_login"
CONSOLE_ROLES = ("viewer", "analyst", "admin")


@dataclass(frozen=True, slots=True)
class Who:
    principal: Principal
    csrf: str | None  # None when authenticated by a bearer token (no CSRF to check)
    session_id: str | None = None

    @property
    def role(self) -> str:
        return self.principal.role


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def principal_by_id(service: Service, token_id: int) -> Principal | None:
    cache = service.tokens
    if time.monotonic() - cache.loaded_at > cache.refresh_seconds:
        cache.refresh()
    with cache.lock:
        return next((p for p in cache.by_hash.values() if p.token_id == token_id), None)


def create(service: Service, principal: Principal, hours: float) -> tuple[str, str]:
    """A new session for `principal`: (cookie value, CSRF token)."""
    value = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = now_iso()
    with service.store.write() as conn:
        conn.execute(
            insert(console_sessions).values(
                id=_digest(value),
                token_id=principal.token_id,
                csrf=csrf,
                created_at=now,
                expires_at=shift(now, hours * 3600),
            )
        )
        service.store.audit(conn, principal.actor, "console.login", f"token:{principal.token_id}", {})
    return value, csrf


def lookup(service: Service, value: str) -> Who | None:
    if not value or len(value) > 100:
        return None
    sid = _digest(value)
    with service.store.read() as conn:
        row = conn.execute(
            select(console_sessions.c.token_id, console_sessions.c.csrf).where(
                console_sessions.c.id == sid,
                console_sessions.c.ended_at.is_(None),
                console_sessions.c.expires_at > now_iso(),
            )
        ).first()
    if row is None:
        return None
    principal = principal_by_id(service, int(row[0]))
    if principal is None or principal.role not in CONSOLE_ROLES:
        return None  # the token was revoked
    return Who(principal, str(row[1]), sid)


def end(service: Service, who: Who) -> None:
    if who.session_id is None:
        return
    with service.store.write() as conn:
        conn.execute(
            update(console_sessions).where(console_sessions.c.id == who.session_id).values(ended_at=now_iso())
        )
        service.store.audit(
            conn, who.principal.actor, "console.logout", f"token:{who.principal.token_id}", {}
        )


def same_origin(request: Request) -> bool:
    """True unless the browser says the request comes from another origin."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def csrf_ok(request: Request, who: Who, form_value: str | None) -> bool:
    if who.csrf is None:
        return True  # bearer token: no ambient credential
    if not same_origin(request):
        return False
    sent = form_value or request.headers.get("x-csrf-token") or ""
    return hmac.compare_digest(sent.encode(), who.csrf.encode())
