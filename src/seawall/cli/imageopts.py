"""Image/registry options shared by every verb that opens an image (`sbom`, `scan image`).

Use the `Annotated` aliases as parameter types and build the `SourceOptions` with
`source_options(...)`; `progress_visitor()` gives a per-layer progress bar on stderr (only when
stderr is a terminal) to pass as an extra visitor to `seawall.scan.inventory.inventory`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from seawall.core.errors import InputError
from seawall.image import LayerInfo, SourceOptions
from seawall.image.base import FileVisitor

REF_HELP = ("Image: docker-archive:PATH, oci:DIR[:TAG], oci-archive:PATH, dir:ROOTFS, "
            "registry:HOST/REPO:TAG|@DIGEST, or a bare reference / existing path")

ImageRefArg = Annotated[str, typer.Argument(help=REF_HELP, show_default=False)]
PlatformOpt = Annotated[str, typer.Option(
    "--platform", help="Platform to pick from a multi-platform image: os/arch or os/arch/variant.")]
UsernameOpt = Annotated[str | None, typer.Option(
    "--username", envvar="SEAWALL_REGISTRY_USERNAME", show_envvar=True,
    help="Registry user name.")]
PasswordOpt = Annotated[str | None, typer.Option(
    "--password", envvar="SEAWALL_REGISTRY_PASSWORD", show_envvar=True,
    help="Registry password or token (prefer the environment variable).")]
InsecureOpt = Annotated[bool, typer.Option(
    "--insecure-registry", help="Allow plain HTTP or unverified TLS to the registry.")]
CACertOpt = Annotated[Path | None, typer.Option(
    "--ca-cert", help="PEM file of the CA that signed the registry's certificate.",
    show_default=False)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]


def source_options(platform: str = "linux/amd64", username: str | None = None,
                   password: str | None = None, insecure: bool = False,
                   ca_cert: Path | None = None) -> SourceOptions:
    """Check the shared options and turn them into `SourceOptions`."""
    if ca_cert is not None and not ca_cert.is_file():
        raise InputError(f"--ca-cert {ca_cert}: no such file")
    if password is not None and username is None:
        raise InputError("--password given without --username")
    parts = platform.split("/")
    if not 2 <= len(parts) <= 3 or not all(parts):
        raise InputError(f"--platform {platform!r}: expected os/arch[/variant], e.g. linux/amd64")
    return SourceOptions(platform=platform, username=username, password=password,
                         insecure=insecure, ca_cert=ca_cert)


class _NoProgress:
    def wants(self, entry: object) -> bool:
        return False

    def visit(self, entry: object, content: object) -> None:
        return None


@contextmanager
def layer_progress(layers: list[LayerInfo], quiet: bool = False) -> Iterator[FileVisitor]:
    """A visitor that drives a rich progress bar (stderr, TTY only) as the pass moves by layer."""
    if quiet or not sys.stderr.isatty() or not layers:
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from seawall.scan.inventory import LayerProgress

    total = len(layers)
    progress = Progress(TextColumn("[bold]reading layers"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.description}"), TimeElapsedColumn(),
                        console=Console(file=sys.stderr), transient=True)
    task = progress.add_task("", total=total)
    done: set[int] = set()

    def advance(layer: LayerInfo | None) -> None:
        if layer is None or layer.index in done:
            return
        done.add(layer.index)
        progress.update(task, completed=len(done) - 1,
                        description=(layer.digest.split(":", 1)[-1][:12]))

    with progress:
        yield LayerProgress(advance)
        progress.update(task, completed=total)
