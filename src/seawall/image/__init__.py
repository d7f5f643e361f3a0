"""Image sources (docker-archive, oci, oci-archive, dir, registry) and the layered view."""

from seawall.image.base import (
    EntryKind,
    FileEntry,
    FileVisitor,
    ImageConfig,
    ImageSource,
    LayerInfo,
    Limits,
)

__all__ = ["EntryKind", "FileEntry", "FileVisitor", "ImageConfig", "ImageSource", "LayerInfo",
           "Limits"]
