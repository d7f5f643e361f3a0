"""`seawall sbom REF`: every OS and language package of an image, with the layer it came from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from seawall.cli.common import emit
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
from seawall.core import Report, Target
from seawall.core.errors import InputError

SBOM_FORMATS = ("table", "json", "cyclonedx-json", "spdx-json")
ALIASES = {"cyclonedx": "cyclonedx-json", "spdx": "spdx-json"}  # as Trivy spells them


def _kind(ref: str) -> str:
    from seawall.image import parse_ref

    return "rootfs" if parse_ref(ref).transport == "dir" else "image"


def build_sbom(ref: str, platform: str = "linux/amd64", username: str | None = None,
               password: str | None = None, insecure: bool = False, ca_cert: Path | None = None,
               quiet: bool = True) -> Report:
    """Open `ref`, catalog it in one pass, and return the SBOM as a Report (no findings)."""
    from seawall.image import open_image
    from seawall.scan.inventory import inventory

    options = source_options(platform, username, password, insecure, ca_cert)
    kind = _kind(ref)
    with open_image(ref, options) as source:
        layers = source.layers()
        with layer_progress(layers, quiet) as progress:
            inv = inventory(source, options.limits, extra_visitors=[progress])
        metadata: dict[str, Any] = {}
        if kind == "image":
            metadata["layers"] = [{"digest": layer.digest, "created_by": layer.created_by}
                                  if layer.created_by else {"digest": layer.digest} for layer in layers]
        target = Target(kind=kind, name=source.name, digest=source.digest, os=inv.os, metadata=metadata)
    return Report(target=target, packages=inv.packages, warnings=inv.warnings)


def register(app: typer.Typer) -> None:
    @app.command("sbom")
    def sbom(
        ref: ImageRefArg,
        fmt: Annotated[str, typer.Option("--format", "-f",
                                         help="table, json, cyclonedx-json or spdx-json")] = "table",
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
        fmt = ALIASES.get(fmt, fmt)
        if fmt not in SBOM_FORMATS:
            raise InputError(f"unknown SBOM format {fmt!r}; choose one of: {', '.join(SBOM_FORMATS)}")
        if output is not None and not output.parent.is_dir():
            raise InputError(f"--output {output}: directory {output.parent} does not exist")
        report = build_sbom(ref, platform, username, password, insecure_registry, ca_cert, quiet)
        emit(report, fmt, output, view="sbom")
