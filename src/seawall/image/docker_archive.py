"""`docker-archive:PATH[:REPO:TAG]`: the tarball of `docker save` / `skopeo copy docker-archive:`.

Read in place (no extraction). The config is verified against its content-addressed name and
every layer's uncompressed tar against the config's `rootfs.diff_ids`.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import IO, Any

from seawall.bounded import read_capped as read_bounded
from seawall.core.errors import InputError, IntegrityError
from seawall.image.base import ImageConfig, LayerInfo
from seawall.image.manifest import Descriptor, layer_infos, parse_config
from seawall.image.options import SourceOptions
from seawall.image.streams import (
    CHUNK,
    HashingReader,
    decompressed,
    inside,
    open_archive,
    sha256_bytes,
)

_HEX_NAME = re.compile(r"(?:^|/)([0-9a-f]{64})(?:\.json)?$")


def _tag_matches(wanted: str, repo_tags: list[str]) -> bool:
    for t in repo_tags:
        if t == wanted or t.removeprefix("docker.io/").removeprefix("library/") == wanted.removeprefix(
                "docker.io/").removeprefix("library/"):
            return True
    return False


class DockerArchiveSource:
    def __init__(self, path: Path, name: str, options: SourceOptions, tag: str | None = None) -> None:
        self._name = name
        self._limits = options.limits
        self._tar, self._members = open_archive(path, self._limits.max_entries, "docker-archive")
        try:
            self._load(tag)
        except BaseException:
            self.close()
            raise

    def _read_member(self, name: str, limit: int) -> bytes:
        f = self._open_member(name)
        with f:
            return read_bounded(f, limit, f"{self._name}:{name}")

    def _open_member(self, name: str, depth: int = 0) -> IO[bytes]:
        member = self._members.get(name.removeprefix("./"))
        if member is None:
            raise InputError(f"{self._name}: {name} is missing from the archive")
        if member.issym():
            # old `docker save` links duplicate layers: follow inside the archive only
            if depth > 8:
                raise InputError(f"{self._name}: {name}: too many symlinks")
            base = name.rsplit("/", 1)[0] if "/" in name else ""
            target = inside(f"{base}/{member.linkname}")
            if target is None:
                raise InputError(f"{self._name}: {name} links outside the archive")
            return self._open_member(target, depth + 1)
        f = self._tar.extractfile(member)
        if f is None:
            raise InputError(f"{self._name}: {name} is not a regular file")
        return f

    def _load(self, tag: str | None) -> None:
        raw = self._read_member("manifest.json", self._limits.max_manifest_size)
        try:
            entries: Any = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise InputError(f"{self._name}: manifest.json is not valid JSON "
                             f"({type(exc).__name__})") from None
        if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
            raise InputError(f"{self._name}: manifest.json lists no image")
        entry = self._choose(entries, tag)
        config_name = entry.get("Config")
        layer_names = entry.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layer_names, list):
            raise InputError(f"{self._name}: manifest.json entry without Config/Layers")
        self._load_config(config_name)
        diff_ids = self._config.diff_ids
        if len(diff_ids) != len(layer_names):
            raise InputError(f"{self._name}: {len(layer_names)} layers but {len(diff_ids)} "
                             "diff_ids in the config")
        self._layer_names = [str(n) for n in layer_names]
        descs = []
        for n, diff_id in zip(self._layer_names, diff_ids, strict=True):
            member = self._members.get(n.removeprefix("./"))
            # (no media type: a docker-archive layer is a plain tar, stored as it is)
            descs.append(Descriptor("", diff_id, member.size if member is not None else 0))
        self._layers = layer_infos(descs, self._config, self._limits.max_layers)

    def _choose(self, entries: list[dict[str, Any]], tag: str | None) -> dict[str, Any]:
        """The image of manifest.json that `tag` names, or the only one."""
        if tag is not None:
            chosen = [e for e in entries if _tag_matches(tag, [str(t) for t in e.get("RepoTags") or []])]
            if not chosen:
                raise InputError(f"{self._name}: no image tagged {tag!r} in the archive")
            return chosen[0]
        if len(entries) == 1:
            return entries[0]
        tags = sorted(str(t) for e in entries for t in e.get("RepoTags") or [])
        raise InputError(f"{self._name}: the archive holds {len(entries)} images; name one with "
                         f"docker-archive:PATH:REPO:TAG (tags: {', '.join(tags) or 'none'})")

    def _load_config(self, config_name: str) -> None:
        """The config, checked against the digest its name carries; its digest is the image ID."""
        config_bytes = self._read_member(config_name, self._limits.max_config_size)
        m = _HEX_NAME.search(config_name)
        config_digest = sha256_bytes(config_bytes)
        if m and f"sha256:{m.group(1)}" != config_digest:
            raise IntegrityError(f"{self._name}: config {config_name} does not match its digest "
                                 f"(got {config_digest})")
        self._config: ImageConfig = parse_config(config_bytes, f"{self._name}: config")
        self._digest = config_digest  # docker-archive has no manifest digest: the image ID

    @property
    def name(self) -> str:
        return self._name

    @property
    def digest(self) -> str | None:
        return self._digest

    def config(self) -> ImageConfig:
        return self._config

    def layers(self) -> list[LayerInfo]:
        return self._layers

    def open_layer(self, layer: LayerInfo) -> IO[bytes]:
        name = self._layer_names[layer.index]
        what = f"layer {name}"
        stream = decompressed(self._open_member(name), what)
        return io.BufferedReader(HashingReader(stream, layer.diff_id, f"{what} (diff_id)"), CHUNK)

    def close(self) -> None:
        tar = getattr(self, "_tar", None)
        if tar is not None:
            tar.close()

    def __enter__(self) -> DockerArchiveSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
