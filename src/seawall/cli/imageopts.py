"""Image/registry options shared by every verb that opens an image (`sbom`, `scan image`).

Use the `Annotated` aliases as parameter types and build the `SourceOptions` with
`source_options(...)`; `progress_visitor()` gives a per-layer progress bar on stderr (only when
stderr is a terminal) to pass as an extra visitor to `seawall.scan.inventory.inventory`.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from seawall.core.errors import InputError
from seawall.image import LayerInfo, Limits, SourceOptions
from seawall.image.base import FileVisitor

_DEFAULT_LIMITS = Limits()
_DEFAULT_SOURCE = SourceOptions()

REF_HELP = ("Image: docker-archive:PATH, oci:DIR[:TAG], oci-archive:PATH, dir:ROOTFS, "
            "registry:HOST/REPO:TAG|@DIGEST, or a bare reference / existing path")

ImageRefArg = Annotated[str, typer.Argument(help=REF_HELP, show_default=False)]
PlatformOpt = Annotated[str, typer.Option(
    "--platform", help="Platform to pick from a multi-platform image: os/arch or os/arch/variant.")]
# the environment variables are read by seawall.image.auth (not by Typer), so that messages say
# where credentials came from ("from environment", not "from options")
UsernameOpt = Annotated[str | None, typer.Option(
    "--username", help="Registry user name (or set SEAWALL_REGISTRY_USERNAME).", show_default=False)]
PasswordOpt = Annotated[str | None, typer.Option(
    "--password", help="Registry password or token (prefer SEAWALL_REGISTRY_PASSWORD: a command "
    "line is visible to other users).", show_default=False)]
InsecureOpt = Annotated[bool, typer.Option(
    "--insecure-registry", help="Allow plain HTTP or unverified TLS to the registry.")]
CACertOpt = Annotated[Path | None, typer.Option(
    "--ca-cert", help="PEM file of the CA that signed the registry's certificate.",
    show_default=False)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]


def human_size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << shift) == 0:
            return f"{n >> shift}{unit}"
    return str(n)


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1000, "kib": 1 << 10, "m": 1 << 20, "mb": 1000**2,
          "mib": 1 << 20, "g": 1 << 30, "gb": 1000**3, "gib": 1 << 30, "t": 1 << 40, "tb": 1000**4,
          "tib": 1 << 40}


def parse_size(text: str, option: str) -> int:
    """`16GiB`, `512M`, `100000` -> bytes (InputError naming the option when it is not a size)."""
    raw = text.strip().lower().replace("_", "")
    number = raw.rstrip("bgikmt")
    unit = raw[len(number):]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if value <= 0 or unit not in _UNITS:
        raise InputError(f"{option} {text!r}: expected a size such as 512MiB, 16GiB or a number of bytes")
    return int(value * _UNITS[unit])


MaxImageSizeOpt = Annotated[str, typer.Option(
    "--max-image-size", help="Refuse an image holding more uncompressed bytes than this over all its "
    "layers.")]
MaxLayerRatioOpt = Annotated[int, typer.Option(
    "--max-layer-ratio", min=1, help="Refuse a layer that decompresses to more than this many times its "
    f"compressed size (past {human_size(_DEFAULT_LIMITS.ratio_allowance)}): a decompression bomb.")]
MaxEntriesOpt = Annotated[int, typer.Option(
    "--max-entries", min=1, help="Refuse an image with more tar entries than this over all its layers.")]
MaxFileSizeOpt = Annotated[str, typer.Option(
    "--max-file-size", help="Files larger than this are listed but not read (a warning says so).")]
RegistryTimeoutOpt = Annotated[float, typer.Option(
    "--registry-timeout", min=1.0, help="Seconds one registry request may take, body included (a blob "
    f"gets more: its size at {_DEFAULT_SOURCE.min_blob_rate >> 10} KiB/s on top).")]

DEFAULT_MAX_IMAGE_SIZE = human_size(_DEFAULT_LIMITS.max_total_size)
DEFAULT_MAX_LAYER_RATIO = _DEFAULT_LIMITS.max_layer_ratio
DEFAULT_MAX_ENTRIES = _DEFAULT_LIMITS.max_entries
DEFAULT_MAX_FILE_SIZE = human_size(_DEFAULT_LIMITS.max_file_size)
DEFAULT_REGISTRY_TIMEOUT = _DEFAULT_SOURCE.deadline


def image_limits(max_image_size: str = DEFAULT_MAX_IMAGE_SIZE,
                 max_layer_ratio: int = DEFAULT_MAX_LAYER_RATIO, max_entries: int = DEFAULT_MAX_ENTRIES,
                 max_file_size: str = DEFAULT_MAX_FILE_SIZE) -> Limits:
    """The per-image budgets from their options (docs/limits.md)."""
    return dataclasses.replace(_DEFAULT_LIMITS, max_total_size=parse_size(max_image_size, "--max-image-size"),
                               max_layer_ratio=max_layer_ratio, max_entries=max_entries,
                               max_file_size=parse_size(max_file_size, "--max-file-size"))


def source_options(platform: str = "linux/amd64", username: str | None = None,
                   password: str | None = None, insecure: bool = False,
                   ca_cert: Path | None = None, limits: Limits | None = None,
                   registry_timeout: float = DEFAULT_REGISTRY_TIMEOUT) -> SourceOptions:
    """Check the shared options and turn them into `SourceOptions`."""
    if ca_cert is not None and not ca_cert.is_file():
        raise InputError(f"--ca-cert {ca_cert}: no such file")
    if password is not None and username is None:
        raise InputError("--password given without --username")
    parts = platform.split("/")
    if not 2 <= len(parts) <= 3 or not all(parts):
        raise InputError(f"--platform {platform!r}: expected os/arch[/variant], e.g. linux/amd64")
    return SourceOptions(platform=platform, username=username, password=password,
                         insecure=insecure, ca_cert=ca_cert, limits=limits or Limits(),
                         deadline=registry_timeout)


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
