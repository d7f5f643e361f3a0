"""API tokens and roles.

A token is `sw_` + 32 random bytes (URL-safe base64); the store keeps only its SHA-256 (a token
has 256 bits of entropy: a fast hash is enough, as for GitHub's and PyPI's tokens) and its first
characters to tell tokens apart in listings. Roles, each allowing what the one before allows:

    viewer    read findings, incidents, workloads, sources, events
    analyst   + change incident states, add suppressions
    admin     + tokens, sources, the audit trail (and ingest)
    ingest    only POST to /api/v1/ingest/... (for the API server's webhook config and Falco)

The service keeps the token table in memory, refreshed every few seconds, so that the receivers
keep authenticating while the database is down; a revocation takes effect at the next refresh.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from seawall.core.errors import InputError
from seawall.service.store import Store, StoreUnavailable
from seawall.service.tables import tokens
from seawall.service.timeutil import now_iso

ROLES = ("viewer", "analyst", "admin", "ingest")
_RANK = {"viewer": 1, "analyst": 2, "admin": 3}
PREFIX = "sw_"


def allows(role: str, needed: str) -> bool:
    if needed == "ingest":
        return role in ("ingest", "admin")
    return _RANK.get(role, 0) >= _RANK[needed]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}:{self.name}"


def create_token(store: Store, role: str, name: str, actor: str) -> tuple[int, str]:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
    if not name or len(name) > 200:
        raise InputError("token name must be 1-200 characters")
    token = PREFIX + secrets.token_urlsafe(32)
    try:
        with store.write() as conn:
            result = conn.execute(
                insert(tokens).values(
                    name=name,
                    role=role,
                    hash=digest(token),
                    prefix=token[:10],
                    created_at=now_iso(),
                    created_by=actor,
                )
            )
            token_id = _new_id(result)
            store.audit(conn, actor, "token.create", f"token:{token_id}", {"name": name, "role": role})
    except StoreUnavailable as exc:
        raise InputError(f"database {store.safe_url}: {exc}") from None
    return token_id, token


def list_tokens(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        rows = (
            conn.execute(
                select(
                    tokens.c.id,
                    tokens.c.name,
                    tokens.c.role,
                    tokens.c.prefix,
                    tokens.c.created_at,
                    tokens.c.created_by,
                    tokens.c.revoked_at,
                ).order_by(tokens.c.id)
            )
            .mappings()
            .all()
        )
    return [dict(r) for r in rows]


def revoke_token(store: Store, token_id: int, actor: str) -> bool:
    with store.write() as conn:
        n = conn.execute(
            update(tokens)
            .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
            .values(revoked_at=now_iso())
        ).rowcount
        if n:
            store.audit(conn, actor, "token.revoke", f"token:{token_id}", {})
    return bool(n)


MISS_REFRESH_SECONDS = 0.5


class TokenCache:
    """Valid tokens by hash, refreshed from the store; kept as they were while it is down."""

    def __init__(self, store: Store, refresh_seconds: float = 5.0) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self.by_hash: dict[str, Principal] = {}
        self.loaded_at = 0.0
        self.miss_refreshed_at = 0.0
        self.lock = threading.Lock()

    def refresh(self) -> None:
        try:
            with self.store.read() as conn:
                rows = conn.execute(
                    select(tokens.c.id, tokens.c.name, tokens.c.role, tokens.c.hash).where(
                        tokens.c.revoked_at.is_(None)
                    )
                ).all()
        except StoreUnavailable:
            return
        with self.lock:
            self.by_hash = {r[3]: Principal(int(r[0]), r[1], r[2]) for r in rows}
            self.loaded_at = time.monotonic()

    def lookup(self, token: str) -> Principal | None:
        if time.monotonic() - self.loaded_at > self.refresh_seconds:
            self.refresh()
        h = digest(token)
        with self.lock:
            found = self.by_hash.get(h)
        if found is None and time.monotonic() - self.miss_refreshed_at > MISS_REFRESH_SECONDS:
            # a token made a moment ago (`seawall tokens create`) works at once, not after the next
            # refresh; unknown tokens read the store at most twice a second (also while it is down)
            self.miss_refreshed_at = time.monotonic()
            self.refresh()
            with self.lock:
                found = self.by_hash.get(h)
        # (the dict lookup is by hash of a 256-bit secret; compare again in constant time anyway)
        if found is not None and hmac.compare_digest(h, digest(token)):
            return found
        return None


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
