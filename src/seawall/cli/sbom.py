"""`seawall sbom REF`: every OS and language package of an image, with the layer it came from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seawall.catalog.limits import DEFAULT_LIMITS
from seawall.cli.common import check_output, emit, warn
from seawall.cli.imageopts import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_MAX_IMAGE_SIZE,
    DEFAULT_MAX_LAYER_RATIO,
    DEFAULT_REGISTRY_TIMEOUT,
    CACertOpt,
    ImageRefArg,
    InsecureOpt,
    MaxEntriesOpt,
    MaxFileSizeOpt,
    MaxImageSizeOpt,
    MaxLayerRatioOpt,
    PasswordOpt,
    PlatformOpt,
    QuietOpt,
    RegistryTimeoutOpt,
    UsernameOpt,
    image_limits,
    layer_progress,
    source_options,
)
from seawall.core import ReportKind
from seawall.report import check_format, format_help


def register(app: typer.Typer) -> None:
    @app.command("sbom", epilog=f"Per-image budgets of the catalogers: {DEFAULT_LIMITS.describe()} "
                 "(docs/catalog.md); what is skipped is reported as a warning.")
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
        registry_timeout: RegistryTimeoutOpt = DEFAULT_REGISTRY_TIMEOUT,
        max_image_size: MaxImageSizeOpt = DEFAULT_MAX_IMAGE_SIZE,
        max_layer_ratio: MaxLayerRatioOpt = DEFAULT_MAX_LAYER_RATIO,
        max_entries: MaxEntriesOpt = DEFAULT_MAX_ENTRIES,
        max_file_size: MaxFileSizeOpt = DEFAULT_MAX_FILE_SIZE,
        quiet: QuietOpt = False,
    ) -> None:
        """List every package in an image (OS, Python, Go, ...) with its layer: an SBOM."""
        from seawall import analyzers

        fmt = check_format(fmt, ReportKind.SBOM, "sbom")
        check_output(output)
        analyzer = analyzers.get("sbom")
        limits = image_limits(max_image_size, max_layer_ratio, max_entries, max_file_size)
        options = analyzer.options(source=source_options(platform, username, password, insecure_registry,
                                                         ca_cert, limits, registry_timeout),
                                   progress=lambda layers: layer_progress(layers, quiet))
        report = analyzer.run(ref, options)
        if not quiet:
            for message in report.all_warnings():
                warn(message)
        emit(report, fmt, output, view="sbom")
