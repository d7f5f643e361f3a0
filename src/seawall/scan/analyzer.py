"""The image analyzers, as `seawall.analyzers` enters them: `sbom` and `scan`.

    SBOM.run("oci:.cache/demo/oci:demo:1", SbomOptions()) -> Report (kind sbom: packages only)
    SCAN.run("registry:127.0.0.1:5000/demo:1", ScanOptions()) -> Report (packages + findings)

A target is an image reference (seawall.image.parse_ref: docker-archive:, oci:, oci-archive:,
dir:, registry:, or a bare reference / path); `scan` also takes `dir:PATH` for a root filesystem.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from seawall.core import Report, ReportKind, Target
from seawall.core.errors import InputError
from seawall.image import SourceOptions
from seawall.image.base import FileVisitor, LayerInfo
from seawall.scan.run import ScanOptions, scan_image, scan_rootfs


def _one_ref(target: str | Sequence[str], verb: str) -> str:
    if isinstance(target, str):
        return target
    refs = list(target)
    if len(refs) != 1:
        raise InputError(f"{verb} takes one image reference, got {len(refs)}")
    return refs[0]


@dataclass(slots=True)
class SbomOptions:
    source: SourceOptions = field(default_factory=SourceOptions)
    # given the layers, a context manager yielding a visitor that shows progress (CLI, TTY only)
    progress: Callable[[list[LayerInfo]], AbstractContextManager[FileVisitor]] | None = None


def build_sbom(ref: str, options: SbomOptions) -> Report:
    """Open `ref`, catalog it in one pass, and return the SBOM as a Report (no findings)."""
    from seawall.image import open_image, parse_ref
    from seawall.scan.inventory import inventory

    kind = "rootfs" if parse_ref(ref).transport == "dir" else "image"
    with open_image(ref, options.source) as source:
        layers = source.layers()
        with options.progress(layers) if options.progress else nullcontext() as progress:
            extra = [progress] if progress is not None else []
            inv = inventory(source, options.source.limits, extra_visitors=extra)
        metadata: dict[str, Any] = {}
        if kind == "image":
            # package locations name layers by diff_id (whatever the input); the blob digest too
            metadata["layers"] = [{"diff_id": layer.diff_id or layer.digest, "digest": layer.digest,
                                   **({"created_by": layer.created_by} if layer.created_by else {})}
                                  for layer in layers]
        target = Target(kind=kind, name=source.name, digest=source.digest, os=inv.os, metadata=metadata)
    return Report(target=target, packages=inv.packages, warnings=inv.warnings, skips=list(inv.skips),
                  kind=ReportKind.SBOM)


class SbomAnalyzer:
    name = "sbom"
    report_kind = ReportKind.SBOM

    def options(self, **values: Any) -> SbomOptions:
        return SbomOptions(**values)

    def run(self, target: str | Sequence[str], options: SbomOptions) -> Report:
        return build_sbom(_one_ref(target, "sbom"), options)


class ScanAnalyzer:
    name = "scan"
    report_kind = ReportKind.FINDINGS

    def options(self, **values: Any) -> ScanOptions:
        return ScanOptions(**values)

    def run(self, target: str | Sequence[str], options: ScanOptions) -> Report:
        ref = _one_ref(target, "scan")
        if ref.startswith("rootfs:"):
            return scan_rootfs(ref.removeprefix("rootfs:"), options)
        return scan_image(ref, options)


SBOM = SbomAnalyzer()
SCAN = ScanAnalyzer()
