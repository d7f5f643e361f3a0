"""`seawall db import|update|status`: the local vulnerability database."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer

from seawall.core.errors import InputError

DbOption = Annotated[Path | None, typer.Option("--db", help="Database file (default: $SEAWALL_DB or "
                                                            "the user cache dir)", show_default=False)]


def _human_age(seconds: float) -> str:
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f}h"
    return f"{int(seconds // 86400)}d"


def register(app: typer.Typer) -> None:
    db_app = typer.Typer(help="The local vulnerability database: import, update, status.",
                         no_args_is_help=True)
    app.add_typer(db_app, name="db")

    @db_app.command("import")
    def import_cmd(
        paths: Annotated[list[Path] | None, typer.Argument(
            help="Feed files or directories, each file recognised by its content (OSV all.zip or "
                 "JSON, Alpine/Wolfi/Chainguard secdb, Debian tracker, ALAS or Bottlerocket "
                 "updateinfo.xml[.gz], Red Hat CSAF, NVD/CVE JSON, CISA KEV, EPSS CSV); none = the "
                 "advisories shipped with seawall", show_default=False)] = None,
        db: DbOption = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    ) -> None:
        """Import feed files (type detected from content) into a new database, swapped in atomically."""
        from seawall.core.text import printable
        from seawall.vulndb import import_feeds, resolve_db_path, shipped_feed_paths

        chosen = list(paths or []) or shipped_feed_paths()
        if not chosen:
            raise InputError("no feed given and no shipped advisory data found")
        result = import_feeds(chosen, db)
        if result.ignored and not quiet:
            names = ", ".join(printable(str(p)) for p in result.ignored[:5])
            more = f" and {len(result.ignored) - 5} more" if len(result.ignored) > 5 else ""
            print(f"seawall: warning: {len(result.ignored)} file(s) are no feed seawall knows, "
                  f"not imported: {names}{more}", file=sys.stderr)
        if not quiet:
            for s in result.stats:
                print(f"{s.name}: {s.advisories} advisories, {s.records} package records "
                      f"({s.seconds:.2f}s)", file=sys.stderr)
            print(f"database: {resolve_db_path(db)}", file=sys.stderr)

    @db_app.command("update")
    def update_cmd(
        db: DbOption = None,
        feed: Annotated[list[str] | None, typer.Option(
            "--feed", help="Only this feed (repeatable), by name, e.g. osv:PyPI", show_default=False)] = None,
        feeds_file: Annotated[Path | None, typer.Option(
            "--feeds-file", help="YAML list of feeds {name, url, type} replacing the defaults",
            show_default=False)] = None,
        ca_cert: Annotated[Path | None, typer.Option(
            "--ca-cert", help="Trust this CA bundle (PEM) for the feed servers", show_default=False)] = None,
        allow_http: Annotated[bool, typer.Option(
            "--allow-http", help="Allow plain http:// feed URLs")] = False,
        timeout: Annotated[float, typer.Option("--timeout", help="Per-read timeout, seconds")] = 60.0,
        deadline: Annotated[float, typer.Option(
            "--deadline", help="Seconds for the whole update, every feed and read included")] = 3600.0,
        offline: Annotated[bool, typer.Option("--offline", help="Refuse to use the network")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    ) -> None:
        """Download the feeds (HTTPS, ETag/If-Modified-Since), verify, rebuild, swap in atomically."""
        from seawall.vulndb import resolve_db_path
        from seawall.vulndb.update import load_feeds, update

        if offline:
            raise InputError("`db update` downloads feeds and --offline was given; "
                             "use `seawall db import` for offline data")
        feeds = load_feeds(feeds_file)
        if feed:
            known = {f.name for f in feeds}
            missing = [n for n in feed if n not in known]
            if missing:
                raise InputError(f"unknown feed {', '.join(missing)}; known: {', '.join(sorted(known))}")
            feeds = [f for f in feeds if f.name in feed]

        def progress(msg: str) -> None:
            if not quiet:
                print(msg, file=sys.stderr)

        if timeout <= 0 or deadline <= 0:
            raise InputError("--timeout and --deadline must be positive")
        result = update(resolve_db_path(db), feeds, ca_cert=ca_cert, timeout=timeout,
                        allow_http=allow_http, deadline=deadline, progress=progress)
        if not quiet:
            for s in result.updated:
                print(f"{s.name}: {s.advisories} advisories, {s.records} package records "
                      f"({s.seconds:.2f}s)", file=sys.stderr)
            for name in result.not_modified:
                print(f"{name}: not modified", file=sys.stderr)
            print(f"database: {result.db_path}", file=sys.stderr)

    @db_app.command("status")
    def status_cmd(
        db: DbOption = None,
        fmt: Annotated[str, typer.Option("--format", "-f", help="table or json")] = "table",
    ) -> None:
        """Feeds, advisory counts and age of the database."""
        from seawall.vulndb import DEFAULT_MAX_AGE, open_db

        if fmt not in ("table", "json"):
            raise InputError(f"unknown format {fmt!r}; use table or json")
        with open_db(db) as vdb:
            feeds = vdb.feeds()
            age = vdb.age()
            warning = vdb.staleness_warning()
            now = datetime.now(UTC)
            if fmt == "json":
                doc = {
                    "path": str(vdb.path),
                    "age_seconds": age.total_seconds() if age is not None else None,
                    "stale": bool(age is not None and age > DEFAULT_MAX_AGE),
                    "feeds": [{
                        "name": f.name, "type": f.kind, "source": f.source,
                        "imported_at": f.imported_at.isoformat(),
                        "checked_at": f.checked_at.isoformat() if f.checked_at else None,
                        "data_date": f.data_date, "advisories": f.advisories, "records": f.records,
                        "etag": f.etag, "last_modified": f.last_modified,
                        "age_seconds": (now - f.fresh_at).total_seconds(),
                    } for f in feeds],
                }
                sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
                return
            from rich.console import Console
            from rich.table import Table

            table = Table(title=f"seawall vulnerability database: {vdb.path}")
            for col in ("feed", "type", "advisories", "records", "data as of", "imported", "age"):
                table.add_column(col, justify="right" if col in ("advisories", "records", "age") else "left")
            for f in feeds:
                table.add_row(f.name, f.kind, str(f.advisories), str(f.records),
                              f.fresh_at.strftime("%Y-%m-%d"), f.imported_at.strftime("%Y-%m-%d %H:%M"),
                              _human_age((now - f.fresh_at).total_seconds()))
            console = Console(width=None if sys.stdout.isatty() else 200)
            console.print(table)
            total = sum(f.advisories for f in feeds)
            console.print(f"{len(feeds)} feeds, {total} advisories"
                          + (f", age {_human_age(age.total_seconds())}" if age is not None else ""))
            if warning:
                print(f"seawall: warning: {warning}", file=sys.stderr)
