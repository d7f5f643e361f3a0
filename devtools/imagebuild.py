"""A plain-Python OCI image writer: no Docker engine, no umoci (tarfile + gzip + json + hashlib).

Layers come from a directory, a tarball (e.g. mmdebstrap's), the difference of two tarballs
(a `RUN` step: `Layer.diff`) or a `{path: FileSpec}` mapping, with whiteouts (`.wh.NAME`) and
opaque directories. Output is an OCI image layout (index.json
with a `org.opencontainers.image.ref.name` tag) and/or a docker-archive (`docker save` shape).
Everything is deterministic — fixed mtimes, sorted entries, gzip mtime 0 — so identical inputs
give identical digests and builds cache. skopeo and umoci read the result.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

EPOCH = 1686355200  # fixed mtime of every entry (2023-06-10T00:00:00Z)
CREATED = "2023-06-10T00:00:00Z"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
WHITEOUT = ".wh."


@dataclass(frozen=True)
class FileSpec:
    """A file (data), directory (is_dir) or symlink (symlink target) for `Layer.files`."""

    data: bytes = b""
    mode: int = 0o644
    symlink: str | None = None
    is_dir: bool = False


@dataclass
class Layer:
    created_by: str
    entries: Callable[[], Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]]
    comment: str | None = None

    @classmethod
    def files(cls, created_by: str, files: Mapping[str, bytes | FileSpec],
              whiteouts: tuple[str, ...] = (), opaque: tuple[str, ...] = ()) -> Layer:
        """A layer from a path -> content mapping; parent directories are added as needed."""
        specs = {p.strip("/"): (f if isinstance(f, FileSpec) else FileSpec(f)) for p, f in files.items()}
        for w in whiteouts:
            head, _, name = w.strip("/").rpartition("/")
            specs[f"{head}/.wh.{name}".strip("/")] = FileSpec(b"", 0o644)
        for d in opaque:
            specs[f"{d.strip('/')}/.wh..wh..opq"] = FileSpec(b"", 0o644)
        for p in list(specs):
            parts = p.split("/")
            for i in range(1, len(parts)):
                specs.setdefault("/".join(parts[:i]), FileSpec(is_dir=True, mode=0o755))

        def gen() -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
            for name in sorted(specs):
                spec = specs[name]
                ti = _info(name + ("/" if spec.is_dir else ""), spec.mode)
                if spec.is_dir:
                    ti.type = tarfile.DIRTYPE
                    yield ti, None
                elif spec.symlink is not None:
                    ti.type, ti.linkname = tarfile.SYMTYPE, spec.symlink
                    yield ti, None
                else:
                    ti.size = len(spec.data)
                    yield ti, io.BytesIO(spec.data)
        return cls(created_by, gen)

    @classmethod
    def directory(cls, created_by: str, root: Path, prefix: str = "") -> Layer:
        """A layer from the files under `root`, placed under `prefix` in the image."""
        def gen() -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
            top = prefix.strip("/")
            if top:
                parts = top.split("/")
                for i in range(1, len(parts) + 1):
                    ti = _info("/".join(parts[:i]) + "/", 0o755)
                    ti.type = tarfile.DIRTYPE
                    yield ti, None
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                rel_dir = os.path.relpath(dirpath, root)
                for name in sorted(dirnames) + sorted(filenames):
                    full = os.path.join(dirpath, name)
                    rel = os.path.normpath(os.path.join(top, rel_dir, name)).lstrip("/")
                    st = os.lstat(full)
                    ti = _info(rel, stat.S_IMODE(st.st_mode))
                    if stat.S_ISLNK(st.st_mode):
                        ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(full)
                        yield ti, None
                    elif stat.S_ISDIR(st.st_mode):
                        ti.type, ti.name = tarfile.DIRTYPE, rel + "/"
                        yield ti, None
                    elif stat.S_ISREG(st.st_mode):
                        ti.size = st.st_size
                        with open(full, "rb") as fh:
                            yield ti, fh
        return cls(created_by, gen)

    @classmethod
    def tarball(cls, created_by: str, path: Path,
                keep: Callable[[tarfile.TarInfo], bool] = lambda ti: True) -> Layer:
        """A layer re-streamed from a tarball: names normalized, device files dropped."""
        def gen() -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
            with tarfile.open(path, "r|*") as src:
                for ti in src:
                    name = ti.name.removeprefix("./").lstrip("/")
                    if not name or ti.ischr() or ti.isblk() or ti.isfifo() or not keep(ti):
                        continue
                    ti.name = name
                    if ti.islnk():
                        ti.linkname = ti.linkname.removeprefix("./").lstrip("/")
                    ti.mtime = min(int(ti.mtime), EPOCH)
                    ti.uname = ti.gname = ""
                    ti.pax_headers = {}
                    yield ti, (src.extractfile(ti) if ti.isreg() else None)
        return cls(created_by, gen)


    @classmethod
    def diff(cls, created_by: str, lower: Path, upper: Path,
             keep: Callable[[tarfile.TarInfo], bool] = lambda ti: True) -> Layer:
        """The changes from root filesystem tarball `lower` to `upper` as one layer, the way a
        container build snapshots a `RUN` step: entries new or changed in `upper` (type, mode,
        owner, link target or content), with their parent directories, and a whiteout for each
        topmost path that `upper` no longer has. mtimes are not compared."""
        def signatures(path: Path) -> dict[str, tuple[object, ...]]:
            out: dict[str, tuple[object, ...]] = {}
            with tarfile.open(path, "r|*") as src:
                for ti in src:
                    name = ti.name.removeprefix("./").strip("/")
                    if not name or ti.ischr() or ti.isblk() or ti.isfifo() or not keep(ti):
                        continue
                    digest = ""
                    if ti.isreg():
                        fh = src.extractfile(ti)
                        h = hashlib.sha256()
                        while fh is not None and (chunk := fh.read(1 << 20)):
                            h.update(chunk)
                        digest = h.hexdigest()
                    out[name] = (ti.type, ti.mode, ti.uid, ti.gid, ti.linkname.removeprefix("./"), digest)
            return out

        def gen() -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
            old, new = signatures(lower), signatures(upper)
            changed = {n for n, sig in new.items() if old.get(n) != sig}
            wanted = set(changed)
            for name in changed:
                parts = name.split("/")
                wanted.update("/".join(parts[:i]) for i in range(1, len(parts)))
            gone = sorted(n for n in old if n not in new)
            gone_set = set(gone)
            tops = [n for n in gone if not any("/".join(n.split("/")[:i]) in gone_set
                                                 for i in range(1, n.count("/") + 1))]
            with tarfile.open(upper, "r|*") as src:
                for ti in src:
                    name = ti.name.removeprefix("./").strip("/")
                    if name not in wanted:
                        continue
                    ti.name = name + ("/" if ti.isdir() else "")
                    if ti.islnk():
                        ti.linkname = ti.linkname.removeprefix("./").lstrip("/")
                    ti.mtime = min(int(ti.mtime), EPOCH)
                    ti.uname = ti.gname = ""
                    ti.pax_headers = {}
                    yield ti, (src.extractfile(ti) if ti.isreg() else None)
            for name in tops:
                head, _, base = name.rpartition("/")
                yield _info(f"{head}/{WHITEOUT}{base}".lstrip("/"), 0o644), io.BytesIO(b"")
        return cls(created_by, gen)


def _info(name: str, mode: int) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.mode, ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = mode, EPOCH, 0, 0, "", ""
    return ti


class _HashWriter(io.RawIOBase):
    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.sha, self.size = out, hashlib.sha256(), 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        data = bytes(b)
        self.sha.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)


@dataclass
class _Blob:
    digest: str
    size: int
    diff_id: str = ""
    tar_size: int = 0


@dataclass
class Image:
    """Accumulates layers, history and config; writes OCI layouts and docker-archives."""

    work: Path  # blob store (reused across builds: blobs are content-addressed)
    architecture: str = "amd64"
    env: list[str] = field(default_factory=lambda: [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    cmd: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    user: str | None = None
    workdir: str | None = None
    exposed_ports: list[str] = field(default_factory=list)
    healthcheck: dict[str, Any] | None = None
    labels: dict[str, str] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    layers: list[_Blob] = field(default_factory=list)

    def add(self, layer: Layer) -> _Blob:
        """Write the layer as a gzip blob (tar + gzip in one streaming pass)."""
        blobs = self.work / "blobs" / "sha256"
        blobs.mkdir(parents=True, exist_ok=True)
        tmp = blobs / f".tmp-{os.getpid()}"
        with open(tmp, "wb") as raw:
            gz_hash = _HashWriter(raw)
            with gzip.GzipFile(fileobj=gz_hash, mode="wb", compresslevel=6, mtime=0, filename="") as gz:
                tar_hash = _HashWriter(gz)  # type: ignore[arg-type]
                with tarfile.open(fileobj=tar_hash, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    for ti, fh in layer.entries():
                        tar.addfile(ti, fh)
        blob = _Blob("sha256:" + gz_hash.sha.hexdigest(), gz_hash.size,
                     "sha256:" + tar_hash.sha.hexdigest(), tar_hash.size)
        tmp.replace(blobs / blob.digest[7:])
        self.layers.append(blob)
        entry = {"created": CREATED, "created_by": layer.created_by}
        if layer.comment:
            entry["comment"] = layer.comment
        self.history.append(entry)
        return blob

    def prune(self) -> None:
        """Delete blobs of earlier builds from the work store (keeps this image's layers)."""
        keep = {b.digest[7:] for b in self.layers}
        for blob in (self.work / "blobs" / "sha256").iterdir():
            if blob.name not in keep:
                blob.unlink()

    def step(self, created_by: str) -> None:
        """A history line that makes no layer (ENV, CMD, EXPOSE ...)."""
        self.history.append({"created": CREATED, "created_by": created_by, "empty_layer": True})

    def config_json(self) -> bytes:
        cfg: dict[str, Any] = {"Env": self.env}
        for key, value in (("Cmd", self.cmd), ("Entrypoint", self.entrypoint), ("User", self.user),
                           ("WorkingDir", self.workdir), ("Labels", self.labels),
                           ("Healthcheck", self.healthcheck),
                           ("ExposedPorts", {p: {} for p in self.exposed_ports})):
            if value:
                cfg[key] = value
        doc = {"created": CREATED, "architecture": self.architecture, "os": "linux", "config": cfg,
               "rootfs": {"type": "layers", "diff_ids": [b.diff_id for b in self.layers]},
               "history": self.history}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    def _put(self, root: Path, data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        path = root / "blobs" / "sha256" / digest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return {"digest": "sha256:" + digest, "size": len(data)}

    def write_oci(self, out: Path, tag: str) -> str:
        """Write an OCI image layout at `out` (replaced); returns the manifest digest."""
        tmp = out.with_name(out.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "blobs" / "sha256").mkdir(parents=True)
        for blob in self.layers:
            src = self.work / "blobs" / "sha256" / blob.digest[7:]
            dst = tmp / "blobs" / "sha256" / blob.digest[7:]
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
        config = self._put(tmp, self.config_json())
        manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                    "config": {"mediaType": MT_CONFIG, **config},
                    "layers": [{"mediaType": MT_LAYER, "digest": b.digest, "size": b.size}
                               for b in self.layers]}
        mref = self._put(tmp, json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode())
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [{"mediaType": MT_MANIFEST, **mref,
                                "annotations": {"org.opencontainers.image.ref.name": tag}}]}
        (tmp / "index.json").write_text(json.dumps(index, sort_keys=True))
        (tmp / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.replace(old)  # swap, so that a reader never finds the layout half-written
        tmp.replace(out)
        shutil.rmtree(old, ignore_errors=True)
        return str(mref["digest"])

    def write_docker_archive(self, out: Path, tag: str) -> None:
        """Write a `docker save` style tarball: manifest.json, config, uncompressed layer tars."""
        config = self.config_json()
        config_name = hashlib.sha256(config).hexdigest() + ".json"
        tmp = out.with_name(out.name + ".part")
        layer_names = [f"{b.diff_id[7:]}/layer.tar" for b in self.layers]
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for blob, name in zip(self.layers, layer_names, strict=True):
                ti = _info(name, 0o644)
                ti.size = blob.tar_size
                with gzip.open(self.work / "blobs" / "sha256" / blob.digest[7:], "rb") as fh:
                    tar.addfile(ti, fh)
            for name, data in ((config_name, config), ("manifest.json", json.dumps(
                    [{"Config": config_name, "RepoTags": [tag], "Layers": layer_names}]).encode())):
                ti = _info(name, 0o644)
                ti.size = len(data)
                tar.addfile(ti, io.BytesIO(data))
        tmp.replace(out)
