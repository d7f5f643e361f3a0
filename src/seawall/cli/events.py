"""`seawall events --config FILE [--workload W] [--since T]`: raw events back from the archive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seawall.core.text import printable


def register(app: typer.Typer) -> None:
    @app.command("events")
    def events(
        config: Annotated[Path, typer.Option("--config", "-c", help="the service's seawall.yaml")],
        workload: Annotated[str | None, typer.Option("--workload", "-w", help="workload name or key")] = None,
        namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
        source: Annotated[str | None, typer.Option("--source", "-s", help="a source name")] = None,
        since: Annotated[str | None, typer.Option("--since", help="ISO 8601 time")] = None,
        until: Annotated[str | None, typer.Option("--until", help="ISO 8601 time")] = None,
        contains: Annotated[str | None, typer.Option("--contains", help="text in the raw event")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, max=1_000_000)] = 1000,
    ) -> None:
        """Events archived by `seawall serve` (per source and hour), as JSON lines."""
        import orjson

        from seawall.core.errors import InputError
        from seawall.service import config as config_mod
        from seawall.service.archive import EventQuery, read_events
        from seawall.service.sources import source_class
        from seawall.service.timeutil import parse_iso

        cfg = config_mod.load(config)
        formats = {}
        for sc in cfg.sources:
            cls = source_class(sc.type)
            fmt = getattr(cls, "format", None) or sc.get("format")
            if isinstance(fmt, str):
                formats[sc.name] = fmt
        try:
            q = EventQuery(
                source=source,
                workload=workload,
                namespace=namespace,
                since=parse_iso(since) if since else None,
                until=parse_iso(until) if until else None,
                contains=contains,
                limit=limit,
            )
        except ValueError:
            raise InputError("--since/--until: not an ISO 8601 time") from None
        for item in read_events(cfg.data_dir / "archive", formats, q):
            print(printable(orjson.dumps(item).decode()))
