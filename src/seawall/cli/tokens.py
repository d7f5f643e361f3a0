"""`seawall tokens create|list|revoke --config FILE`: API tokens of the service (only hashes stored)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from seawall.core.text import printable

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="the service's seawall.yaml")]


def _store(config: Path):  # type: ignore[no-untyped-def]
    from seawall.service import config as config_mod
    from seawall.service.store import Store

    cfg = config_mod.load(config)
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(cfg.database_url)
    store.migrate()
    return store


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def register(app: typer.Typer) -> None:
    tokens = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
    app.add_typer(tokens, name="tokens")

    @tokens.command("create")
    def create(
        config: ConfigOpt,
        role: Annotated[str, typer.Option("--role", help="viewer, analyst, admin or ingest")],
        name: Annotated[str | None, typer.Option("--name", help="what the token is for")] = None,
    ) -> None:
        """Create a token; the token itself is printed once, as the last line."""
        from seawall.service.auth import create_token

        store = _store(config)
        try:
            token_id, token = create_token(store, role, name or f"{role} token", _actor())
        finally:
            store.close()
        print(
            printable(f"token {token_id} ({role}, {name or role + ' token'}) created; it is shown only once:")
        )
        print(token)

    @tokens.command("list")
    def list_(config: ConfigOpt) -> None:
        """Tokens with their id, role, name, first characters and state (never the token)."""
        from seawall.service.auth import list_tokens

        store = _store(config)
        try:
            rows = list_tokens(store)
        finally:
            store.close()
        for r in rows:
            state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
            print(printable(f"{r['id']:>4}  {r['role']:<8} {r['prefix']}...  {state:<36} {r['name']}"))

    @tokens.command("revoke")
    def revoke(config: ConfigOpt, token_id: Annotated[int, typer.Argument(help="the token's id")]) -> None:
        """Revoke a token (the running service stops taking it within a few seconds)."""
        from seawall.core.errors import InputError
        from seawall.service.auth import revoke_token

        store = _store(config)
        try:
            if not revoke_token(store, token_id, _actor()):
                raise InputError(f"no active token with id {token_id}")
        finally:
            store.close()
        print(f"token {token_id} revoked")
