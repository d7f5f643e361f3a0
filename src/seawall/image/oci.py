"""OCI image layouts: `oci:DIR[:TAG|@DIGEST]` and `oci-archive:PATH[:TAG]`.

Both are content-addressed blob stores; `BlobImage` resolves index -> manifest -> config and
opens layers as verified, decompressed streams. The registry source reuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO

from seawall.bounded import read_capped as read_bounded
from seawall.core.errors import InputError
from seawall.image.base import ImageConfig, LayerInfo, Limits
from seawall.image.manifest import (
    INDEX_TYPES,
    REF_NAME,
    Descriptor,
    ImageManifest,
    Platform,
    document_type,
    index_manifests,
    layer_infos,
    load_json,
    parse_config,
    parse_manifest,
    select_platform,
)
from seawall.image.options import SourceOptions
from seawall.image.streams import HashingReader, decompressed, open_archive, parse_digest

MAX_INDEX_DEPTH = 4


class BlobImage:
    """An image read from a content-addressed store (subclasses provide `_open_blob`)."""

    def __init__(self, name: str, options: SourceOptions) -> None:
        self._name = name
        self._options = options
        self._limits: Limits = options.limits
        self._platform = Platform.parse(options.platform)
        self._digest: str | None = None
        self._manifest: ImageManifest | None = None
        self._config: ImageConfig | None = None
        self._layers: list[LayerInfo] | None = None

    # -- subclass hooks -------------------------------------------------------------------
    def _open_blob(self, digest: str, size: int | None) -> IO[bytes]:
        """The raw (unverified) bytes of blob `digest`; InputError if it is missing."""
        raise NotImplementedError

    # -- ImageSource ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def digest(self) -> str | None:
        return self._digest

    def read_blob(self, desc: Descriptor, limit: int, what: str) -> bytes:
        if desc.size > limit:
            raise InputError(f"{what} {desc.digest} declares {desc.size} bytes, over the limit of {limit}")
        with HashingReader(self._open_blob(desc.digest, desc.size), desc.digest,
                           f"{what} {desc.digest}", desc.size) as reader:
            return read_bounded(reader, limit, f"{what} {desc.digest}")

    def _resolve(self, desc: Descriptor, fetch: Callable[[Descriptor], bytes] | None = None) -> None:
        fetch = fetch or (lambda d: self.read_blob(d, self._limits.max_manifest_size, "manifest"))
        for _ in range(MAX_INDEX_DEPTH):
            doc = load_json(fetch(desc), f"manifest {desc.digest}")
            media_type = document_type(doc, desc.media_type or None, f"manifest {desc.digest}")
            if media_type in INDEX_TYPES:
                desc = select_platform(index_manifests(doc, f"index {desc.digest}"), self._platform,
                                       f"index {desc.digest}")
                continue
            self._digest = desc.digest
            self._manifest = parse_manifest(doc, media_type, f"manifest {desc.digest}")
            return
        raise InputError(f"{self._name}: image indexes nested too deeply")

    def manifest(self) -> ImageManifest:
        assert self._manifest is not None
        return self._manifest

    def config(self) -> ImageConfig:
        if self._config is None:
            m = self.manifest()
            self._config = parse_config(self.read_blob(m.config, self._limits.max_config_size, "config"),
                                        f"config {m.config.digest}")
        return self._config

    def layers(self) -> list[LayerInfo]:
        if self._layers is None:
            self._layers = layer_infos(self.manifest().layers, self.config(), self._limits.max_layers)
        return self._layers

    def open_layer(self, layer: LayerInfo) -> IO[bytes]:
        what = f"layer {layer.digest}"
        raw = HashingReader(self._open_blob(layer.digest, layer.size), layer.digest, what, layer.size)
        return decompressed(raw, what)  # type: ignore[arg-type]

    def close(self) -> None:
        pass

    def __enter__(self) -> BlobImage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pick_from_index(index: dict[str, object], name: str, tag: str | None, digest: str | None,
                     platform: Platform) -> Descriptor:
    descs = index_manifests(index, f"{name}: index.json")
    if digest is not None:
        for d in descs:
            if d.digest == digest:
                return d
        return Descriptor("", digest, -1)  # not listed: read the blob itself (size unknown)
    if tag is not None:
        tagged = [d for d in descs if d.annotations and d.annotations.get(REF_NAME) == tag]
        if not tagged:
            have = sorted({d.annotations[REF_NAME] for d in descs
                           if d.annotations and REF_NAME in d.annotations})
            raise InputError(f"{name}: no image tagged {tag!r} (tags: {', '.join(have) or 'none'})")
        descs = tagged
    if len(descs) == 1:
        return descs[0]
    if not descs:
        raise InputError(f"{name}: the layout holds no image")
    with_platform = [d for d in descs if d.platform]
    if with_platform:
        return select_platform(with_platform, platform, name)
    tags = sorted({d.annotations[REF_NAME] for d in descs if d.annotations and REF_NAME in d.annotations})
    raise InputError(f"{name}: the layout holds {len(descs)} images; name one with :TAG or @DIGEST "
                     f"(tags: {', '.join(tags) or 'none'})")


class _LayoutImage(BlobImage):
    def _init_from_index(self, index_bytes: bytes, tag: str | None, digest: str | None) -> None:
        index = load_json(index_bytes, f"{self._name}: index.json")
        desc = _pick_from_index(index, self._name, tag, digest, self._platform)
        if desc.size < 0:
            self._resolve(desc, lambda d: self._read_unsized(d))
        else:
            self._resolve(desc)

    def _read_unsized(self, d: Descriptor) -> bytes:
        with HashingReader(self._open_blob(d.digest, None), d.digest, f"manifest {d.digest}") as reader:
            return read_bounded(reader, self._limits.max_manifest_size, f"manifest {d.digest}")


class OCILayoutSource(_LayoutImage):
    """`oci:DIR[:TAG|@DIGEST]`."""

    def __init__(self, path: Path, name: str, options: SourceOptions, tag: str | None = None,
                 digest: str | None = None) -> None:
        super().__init__(name, options)
        self._root = path
        if not path.is_dir():
            raise InputError(f"{path}: no such OCI layout directory")
        index = path / "index.json"
        if index.is_symlink():
            raise InputError(f"{path}: index.json is a symlink, not a regular file (refusing the layout)")
        if not index.is_file():
            raise InputError(f"{path}: not an OCI layout (no index.json)")
        with index.open("rb") as f:
            data = read_bounded(f, self._limits.max_manifest_size, f"{path}/index.json")
        self._init_from_index(data, tag, digest)

    def _open_blob(self, digest: str, size: int | None) -> IO[bytes]:
        hexpart = parse_digest(digest, self._name)
        blob = self._root / "blobs" / "sha256" / hexpart
        try:
            if blob.is_symlink() or not blob.is_file():
                raise InputError(f"{self._name}: blob {digest} is missing from the layout")
            return blob.open("rb")
        except OSError as exc:
            raise InputError(f"{self._name}: cannot read blob {digest} ({exc.strerror})") from None


class OCIArchiveSource(_LayoutImage):
    """`oci-archive:PATH[:TAG]`: an OCI layout inside a tar file, read in place (no extraction)."""

    def __init__(self, path: Path, name: str, options: SourceOptions, tag: str | None = None) -> None:
        super().__init__(name, options)
        self._tar, self._members = open_archive(path, self._limits.max_entries, "oci-archive")
        try:
            f = self._open_member("index.json", f"{path}: not an oci-archive (no index.json)")
            data = read_bounded(f, self._limits.max_manifest_size, f"{path}:index.json")
            self._init_from_index(data, tag, None)
        except BaseException:
            self.close()
            raise

    def _open_blob(self, digest: str, size: int | None) -> IO[bytes]:
        hexpart = parse_digest(digest, self._name)
        return self._open_member(f"blobs/sha256/{hexpart}",
                                 f"{self._name}: blob {digest} is missing from the archive")

    def _open_member(self, name: str, missing: str) -> IO[bytes]:
        """A regular file of the archive. An OCI layout holds nothing else: a symlink (to a file
        outside the archive, or inside it) is refused, never followed."""
        member = self._members.get(name)
        if member is None:
            raise InputError(missing)
        if not member.isfile():
            raise InputError(f"{self._name}: {name} is a symlink to {member.linkname!r} in the archive, "
                             "not a regular file (refusing the image)")
        f = self._tar.extractfile(member)
        if f is None:
            raise InputError(f"{self._name}: {name} is not a regular file")
        return f

    def close(self) -> None:
        tar = getattr(self, "_tar", None)
        if tar is not None:
            tar.close()
