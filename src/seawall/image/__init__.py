"""Image sources (docker-archive, oci, oci-archive, dir, registry) and the layered view.

    from seawall.image import open_image, SourceOptions
    from seawall.image.fs import walk

    options = SourceOptions(platform="linux/arm64")
    with open_image("oci:build/layout:1.0", options) as src:
        index = walk(src, visitors, options.limits)   # a FileIndex; see docs/image.md
"""

from __future__ import annotations

from seawall.image.base import (
    EntryKind,
    FileEntry,
    FileVisitor,
    HistoryEntry,
    ImageConfig,
    ImageSource,
    LayerInfo,
    Limits,
)
from seawall.image.options import SourceOptions
from seawall.image.refs import ImageRef, parse_ref


def open_image(ref: str, options: SourceOptions | None = None) -> ImageSource:
    """Open an image reference (see `seawall.image.refs`); use the result as a context manager."""
    options = options or SourceOptions()
    parsed = parse_ref(ref)
    assert parsed.path is not None or parsed.transport == "registry"
    if parsed.transport == "dir":
        from seawall.image.rootfs import DirSource

        assert parsed.path is not None
        return DirSource(parsed.path, ref)
    if parsed.transport == "oci":
        from seawall.image.oci import OCILayoutSource

        assert parsed.path is not None
        return OCILayoutSource(parsed.path, ref, options, tag=parsed.tag, digest=parsed.digest)
    if parsed.transport == "oci-archive":
        from seawall.image.oci import OCIArchiveSource

        assert parsed.path is not None
        return OCIArchiveSource(parsed.path, ref, options, tag=parsed.tag)
    if parsed.transport == "docker-archive":
        from seawall.image.docker_archive import DockerArchiveSource

        assert parsed.path is not None
        return DockerArchiveSource(parsed.path, ref, options, tag=parsed.tag)
    from seawall.image.registry import RegistrySource

    return RegistrySource(parsed, options)


__all__ = ["EntryKind", "FileEntry", "FileVisitor", "HistoryEntry", "ImageConfig", "ImageRef",
           "ImageSource", "LayerInfo", "Limits", "SourceOptions", "open_image", "parse_ref"]
