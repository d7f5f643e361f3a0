"""A small, plain-Python image builder for tests (tarfile + gzip/zstd + json + hashlib).

Writes real OCI layouts, oci-archives and docker-archives that skopeo/umoci read too.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zstandard

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}


@dataclass
class E:
    """One tar entry."""

    name: str
    data: bytes = b""
    type: str = "file"  # file dir symlink hardlink fifo chr
    link: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int | None = None  # override the header size (hostile tests)


@dataclass
class Layer:
    entries: list[E]
    created_by: str = ""
    compression: str = "gzip"
    media_type: str | None = None
    raw: bytes | None = None  # use these bytes as the blob as they are (hostile tests)


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_bytes(entries: list[E]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            ti = tarfile.TarInfo(e.name)
            ti.mode = e.mode
            ti.uid, ti.gid = e.uid, e.gid
            ti.mtime = 0
            if e.type == "file":
                ti.size = len(e.data)
                tf.addfile(ti, io.BytesIO(e.data))
                continue
            ti.type = {
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
                "fifo": tarfile.FIFOTYPE,
                "chr": tarfile.CHRTYPE,
            }[e.type]
            if e.type == "dir" and e.mode == 0o644:
                ti.mode = 0o755
            ti.linkname = e.link
            tf.addfile(ti)
    return buf.getvalue()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


@dataclass
class Built:
    layers: list[bytes] = field(default_factory=list)  # blobs as stored
    diff_ids: list[str] = field(default_factory=list)
    config: bytes = b""
    manifest: bytes = b""

    @property
    def manifest_digest(self) -> str:
        return digest(self.manifest)

    @property
    def layer_digests(self) -> list[str]:
        return [digest(b) for b in self.layers]


def build(
    layers: list[Layer],
    arch: str = "amd64",
    os_: str = "linux",
    config_extra: dict[str, Any] | None = None,
    empty_history: int = 1,
) -> Built:
    out = Built()
    history: list[dict[str, Any]] = [
        {"created_by": "/bin/sh -c #(nop) LABEL x=y", "empty_layer": True} for _ in range(empty_history)
    ]
    descs = []
    for layer in layers:
        if layer.raw is not None:
            blob = layer.raw
            diff = digest(layer.raw)
        else:
            tar = tar_bytes(layer.entries)
            diff = digest(tar)
            blob = compress(tar, layer.compression)
        out.layers.append(blob)
        out.diff_ids.append(diff)
        history.append({"created_by": layer.created_by})
        descs.append(
            {
                "mediaType": layer.media_type or LAYER_TYPES[layer.compression],
                "digest": digest(blob),
                "size": len(blob),
            }
        )
    config: dict[str, Any] = {
        "architecture": arch,
        "os": os_,
        "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": out.diff_ids},
        "history": history,
    }
    config.update(config_extra or {})
    out.config = json.dumps(config).encode()
    out.manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": digest(out.config), "size": len(out.config)},
            "layers": descs,
        }
    ).encode()
    return out


def _put_blob(root: Path, data: bytes) -> None:
    d = root / "blobs" / "sha256"
    d.mkdir(parents=True, exist_ok=True)
    (d / digest(data).split(":")[1]).write_bytes(data)


def write_oci(
    root: Path,
    images: list[tuple[Built, str | None]],
    as_index: bool = False,
    platforms: list[tuple[str, str]] | None = None,
    index_tag: str | None = None,
) -> str:
    """Write an OCI layout holding `images` (each with an optional tag). Returns the top digest.

    With as_index, the images become one image index (per `platforms`) named by `index_tag`.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    descs = []
    for i, (img, tag) in enumerate(images):
        for blob in img.layers:
            _put_blob(root, blob)
        _put_blob(root, img.config)
        _put_blob(root, img.manifest)
        d: dict[str, Any] = {
            "mediaType": OCI_MANIFEST,
            "digest": img.manifest_digest,
            "size": len(img.manifest),
        }
        if platforms:
            d["platform"] = {"os": platforms[i][0], "architecture": platforms[i][1]}
        if tag and not as_index:
            d["annotations"] = {"org.opencontainers.image.ref.name": tag}
        descs.append(d)
    if as_index:
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs}).encode()
        _put_blob(root, index)
        top: dict[str, Any] = {"mediaType": OCI_INDEX, "digest": digest(index), "size": len(index)}
        if index_tag:
            top["annotations"] = {"org.opencontainers.image.ref.name": index_tag}
        descs = [top]
    (root / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs})
    )
    return str(descs[0]["digest"]) if len(descs) == 1 else ""


def write_oci_archive(path: Path, layout: Path) -> None:
    with tarfile.open(path, "w") as tf:
        for p in sorted(layout.rglob("*")):
            tf.add(p, arcname=str(p.relative_to(layout)), recursive=False)


def write_docker_archive(path: Path, layers: list[Layer], repo_tag: str = "demo:1") -> Built:
    """A `docker save` style archive: uncompressed layer tars named by their diff_id."""
    plain = [Layer(x.entries, x.created_by, "none", raw=x.raw) for x in layers]
    img = build(plain)
    with tarfile.open(path, "w") as tf:

        def add(name: str, data: bytes) -> None:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))

        names = []
        for blob in img.layers:
            name = digest(blob).split(":")[1] + "/layer.tar"
            add(name, blob)
            names.append(name)
        config_name = digest(img.config).split(":")[1] + ".json"
        add(config_name, img.config)
        add(
            "manifest.json",
            json.dumps([{"Config": config_name, "RepoTags": [repo_tag], "Layers": names}]).encode(),
        )
    return img
