"""`seawall serve --config seawall.yaml`: the long-running service (see seawall.service)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from seawall.core.text import printable


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        config: Annotated[
            Path, typer.Option("--config", "-c", help="seawall.yaml: listen, data_dir, database, sources")
        ],
        listen: Annotated[
            str | None,
            typer.Option("--listen", help="HOST:PORT, overrides the config (port 0: any free port)"),
        ] = None,
    ) -> None:
        """Run the service: sources with checkpoints, one findings store, incidents, the API."""
        from seawall.service import config as config_mod
        from seawall.service.server import Service

        cfg = config_mod.load(config)
        if listen:
            cfg.host, cfg.port = config_mod.parse_listen(listen)
        logging.basicConfig(
            level=logging.WARNING, stream=sys.stderr, format="seawall: %(levelname)s: %(message)s"
        )
        service = Service(cfg)
        service.start(wait=0)
        scheme = "https" if cfg.tls_cert else "http"

        def ready(port: int) -> None:
            names = ", ".join(f"{s.name} ({s.type})" for s in cfg.sources)
            print(
                printable(f"seawall: serving on {scheme}://{cfg.host}:{port} with sources: {names}"),
                flush=True,
            )

        service.serve(on_ready=ready)
