"""The contract between image sources, the layered filesystem view and the catalogers.

An `ImageSource` yields its config and its layers as uncompressed tar streams, in order.
The layered view (`seawall.image.fs`) reads them once, top layer first, applies whiteouts,
and hands each *final* file (the version a container would see) to the `FileVisitor`s that
want it, with the layer that last wrote it. Nothing is extracted to disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Any, Protocol

GiB = 1 << 30
MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard limits against hostile images (all configurable; docs/limits.md lists them). Past one,
    the image is refused with one line naming the limit (LimitExceeded), except max_file_size:
    a larger file is indexed but not read, with a warning."""

    max_entries: int = 1_000_000  # tar entries over all layers of one image
    max_file_size: int = 512 * MiB  # a single file read into memory or scanned
    max_total_size: int = 16 * GiB  # uncompressed bytes over all layers of one image
    max_layer_ratio: int = 100  # a layer's uncompressed bytes per compressed byte ...
    ratio_allowance: int = 256 * MiB  # ... past this many (small layers of zeros are fine)
    max_manifest_size: int = 4 * MiB  # a manifest, an index, index.json, manifest.json
    max_config_size: int = 8 * MiB  # the image config
    max_layers: int = 512
    max_symlink_depth: int = 40

    def layer_limit(self, compressed: int | None) -> int | None:
        """The most uncompressed bytes a layer of `compressed` bytes may hold (None: no bound
        other than the image's)."""
        if not compressed:
            return None
        return max(compressed * self.max_layer_ratio, self.ratio_allowance)


@dataclass(frozen=True, slots=True)
class LayerInfo:
    index: int
    digest: str  # "sha256:..." of the blob as named by the manifest (or diff_id for dir:)
    diff_id: str | None = None  # digest of the uncompressed tar (config rootfs.diff_ids)
    created_by: str | None = None  # the history line that made the layer, secrets redacted
    media_type: str | None = None
    size: int | None = None

    @property
    def id(self) -> str:
        """The one id of a layer in every report, whatever the input: its diff_id (the digest of
        the uncompressed tar, as `rootfs.diff_ids` and `docker inspect` name it), the same whether
        the image came as a docker-archive, an OCI layout or from a registry (where blobs are named
        by their compressed digest); the blob digest only when a source has no diff_id."""
        return self.diff_id or self.digest


@dataclass(slots=True)
class HistoryEntry:
    created_by: str = ""
    created: str | None = None
    empty_layer: bool = False
    comment: str | None = None


@dataclass(slots=True)
class ImageConfig:
    """The parts of the image config (OCI / Docker) that analyzers read."""

    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None
    user: str | None = None
    env: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    working_dir: str | None = None
    exposed_ports: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    healthcheck: dict[str, Any] | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    diff_ids: list[str] = field(default_factory=list)
    created: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class EntryKind(StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One final file of the image. `path` is absolute and normalized ("/etc/os-release")."""

    path: str
    kind: EntryKind
    size: int
    mode: int  # permission bits incl. setuid/setgid (0o4000 / 0o2000)
    layer: LayerInfo | None  # None for a plain root filesystem (dir:)
    link_target: str | None = None  # symlink: as written; hardlink: normalized absolute path
    uid: int = 0
    gid: int = 0


class HiddenHow(StrEnum):
    DELETED = "deleted"  # a whiteout, an opaque directory, or a parent made a non-directory above
    REPLACED = "replaced"  # an upper layer wrote the same path again


@dataclass(frozen=True, slots=True)
class Hidden:
    """Why a file of a lower layer is not in the final filesystem (its bytes still are in the image)."""

    how: HiddenHow
    by: LayerInfo  # the upper layer that deleted or replaced it


class FileVisitor(Protocol):
    """Reads files during the single pass. `wants` must be cheap: it runs for every entry."""

    def wants(self, entry: FileEntry) -> bool: ...

    def visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        """Read `content` (a bounded stream of the file's bytes) before returning."""
        ...


class HiddenFileVisitor(FileVisitor, Protocol):
    """A FileVisitor that also reads the files upper layers deleted or replaced (secrets that are
    still in the image for anyone who pulls it). Opt in with `wants_hidden = True`: the pass then
    asks `wants(entry)` for hidden regular files too (`entry.layer` = the layer holding the bytes)
    and calls `visit_hidden` instead of `visit`. Visitors without the attribute (the catalogers)
    see final files only."""

    wants_hidden: bool

    def visit_hidden(self, entry: FileEntry, content: IO[bytes], hidden: Hidden) -> None: ...


class ImageSource(Protocol):
    """One image, however it is stored. Sources are context managers (they may hold temp files)."""

    @property
    def name(self) -> str:
        """The reference as the user should see it."""
        ...

    @property
    def digest(self) -> str | None:
        """The manifest digest (sha256:...), when the image has one."""
        ...

    def config(self) -> ImageConfig: ...

    def layers(self) -> list[LayerInfo]: ...

    def open_layer(self, layer: LayerInfo) -> IO[bytes]:
        """The uncompressed tar stream of `layer` (digest verified as it is read)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> ImageSource: ...

    def __exit__(self, *exc: object) -> None: ...
