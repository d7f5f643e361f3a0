"""`seawall sbom REF`: every OS and language package of an image, with the layer it came from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seawall.cli.common import check_output, emit, warn
from seawall.cli.imageopts import (
    CACertOpt,
    ImageRefArg,
    InsecureOpt,
    PasswordOpt,
    PlatformOpt,
    QuietOpt,
    UsernameOpt,
    layer_progress,
    source_options,
)
from seawall.core import ReportKind
from seawall.report import check_format, format_help


def register(app: typer.Typer) -> None:
    @app.command("sbom")
    def sbom(
        ref: ImageRefArg,
        fmt: Annotated[str, typer.Option("--format", "-f", help=format_help(ReportKind.SBOM))] = "table",
        output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.",
                                                    show_default=False)] = None,
        platform: PlatformOpt = "linux/amd64",
        username: UsernameOpt = None,
        password: PasswordOpt = None,
        insecure_registry: InsecureOpt = False,
        ca_cert: CACertOpt = None,
        quiet: QuietOpt = False,
    ) -> None:
        """List every package in an image (OS, Python, Go, ...) with its layer: an SBOM."""
        from seawall import analyzers

        fmt = check_format(fmt, ReportKind.SBOM, "sbom")
        check_output(output)
        analyzer = analyzers.get("sbom")
        options = analyzer.options(source=source_options(platform, username, password,
                                                         insecure_registry, ca_cert),
                                   progress=lambda layers: layer_progress(layers, quiet))
        report = analyzer.run(ref, options)
        if not quiet:
            for message in report.all_warnings():
                warn(message)
        emit(report, fmt, output, view="sbom")
