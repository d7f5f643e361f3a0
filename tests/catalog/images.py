"""Test images built from real Debian packages with real tools, cached under .cache/catalog/.

`apt_layers_image()`: a Debian bookworm image made the way `docker build` makes one from

    FROM debian:bookworm-slim             (mmdebstrap minbase)
    RUN apt-get install -y curl
    RUN apt-get install -y nginx-light

mmdebstrap builds the root filesystem and runs the two `apt-get install` steps in it
(customize hooks, real apt and dpkg in a chroot); the root filesystem is saved after each step
and each layer is the difference of two saves (`devtools.imagebuild.Layer.diff`), so every
`apt-get install` rewrote /var/lib/dpkg/status in its own layer. The truth for each package is
the first save whose dpkg status lists it (read with `dpkg-query --admindir`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.imagebuild import Image, Layer
from devtools.rootfs import DEFAULT_EPOCH, apt_sources
from tests.catalog.conftest import CAT_CACHE

STEPS = (("RUN /bin/sh -c apt-get install -y --no-install-recommends curl # buildkit", "curl"),
         ("RUN /bin/sh -c apt-get install -y --no-install-recommends nginx-light # buildkit", "nginx-light"))
_EXCLUDE = ("./proc/*", "./sys/*", "./dev/*", "./run/*", "./tmp/*", "./var/cache/apt/*",
            "./var/lib/apt/lists/*", "./var/log/*")
TAG = "apt-layers:1"
BUILD = 1  # bump when the way the image is assembled changes (the cache key)


@dataclass(frozen=True)
class AptLayersImage:
    oci_dir: Path
    docker_archive: Path
    diff_ids: list[str]  # by layer index
    installed_in: dict[str, int]  # "name:arch" -> index of the layer that installed it

    @property
    def oci_ref(self) -> str:
        return f"oci:{self.oci_dir}:{TAG}"

    @property
    def docker_ref(self) -> str:
        return f"docker-archive:{self.docker_archive}"


def _save(out: Path) -> str:
    excludes = " ".join(f"--exclude='{e}'" for e in _EXCLUDE)
    return f'tar --numeric-owner {excludes} -C "$1" -cf {out} .'


def _status_packages(stage: Path, work: Path) -> set[str]:
    """name:arch of every installed package in a saved root filesystem (dpkg-query is the oracle)."""
    admin = work / "admin"
    shutil.rmtree(admin, ignore_errors=True)
    (admin / "info").mkdir(parents=True)
    with tarfile.open(stage) as tf:
        member = tf.extractfile("./var/lib/dpkg/status")
        assert member is not None
        (admin / "status").write_bytes(member.read())
    out = subprocess.run(["dpkg-query", f"--admindir={admin}", "-W", "-f",
                          "${Package}:${Architecture}\t${db:Status-Abbrev}\n"],
                         capture_output=True, text=True, check=True).stdout
    return {line.split("\t")[0] for line in out.splitlines() if line.split("\t")[1].strip() == "ii"}


def apt_layers_image() -> AptLayersImage:
    mirrors = apt_sources("bookworm")
    version = subprocess.run(["mmdebstrap", "--version"], capture_output=True, text=True, check=False).stdout
    inputs = json.dumps([mirrors, version, STEPS, DEFAULT_EPOCH, BUILD]).encode()
    key = hashlib.sha256(inputs).hexdigest()[:16]
    final = CAT_CACHE / f"apt-layers-{key}"
    meta = final / "image.json"
    if meta.is_file():
        doc = json.loads(meta.read_text())
        return AptLayersImage(final / "oci", final / "docker.tar", doc["diff_ids"], doc["installed_in"])
    tmp = final.with_name(final.name + ".tmp")
    stages = [tmp / f"stage{i}.tar" for i in range(len(STEPS) + 1)]
    if not (tmp / "stages.done").is_file():  # the saves of an interrupted build are reused
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _run_mmdebstrap(tmp, stages, mirrors)
    return _assemble(tmp, final, stages)


def _run_mmdebstrap(tmp: Path, stages: list[Path], mirrors: list[str]) -> None:
    hooks = [f"--customize-hook={_save(stages[0])}"]
    for (_, package), stage in zip(STEPS, stages[1:], strict=True):
        hooks.append(f'--customize-hook=chroot "$1" apt-get install -y --no-install-recommends {package}')
        hooks.append(f"--customize-hook={_save(stage)}")
    cmd = ["mmdebstrap", "--variant=minbase", "--mode=auto", "--format=tar", "--quiet",
           "--dpkgopt=path-exclude=/usr/share/man/*", "--aptopt=Acquire::Retries=3", *hooks,
           "bookworm", str(tmp / "final.tar"), *mirrors]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(DEFAULT_EPOCH), "TMPDIR": str(tmp)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"mmdebstrap failed ({proc.returncode}): {proc.stderr[-3000:]}")
    (tmp / "final.tar").unlink()
    (tmp / "stages.done").touch()


def _assemble(tmp: Path, final: Path, stages: list[Path]) -> AptLayersImage:
    installed_in: dict[str, int] = {}
    for index, stage in enumerate(stages):
        for pkg in sorted(_status_packages(stage, tmp)):
            installed_in.setdefault(pkg, index)
    img = Image(work=tmp / "work")
    layers = [img.add(Layer.tarball("/bin/sh -c #(nop) ADD file:bookworm-minbase in / ", stages[0]))]
    img.step('/bin/sh -c #(nop)  CMD ["bash"]')
    for (created_by, _), lower, upper in zip(STEPS, stages[:-1], stages[1:], strict=True):
        layers.append(img.add(Layer.diff(created_by, lower, upper)))
    img.write_oci(tmp / "oci", TAG)
    img.write_docker_archive(tmp / "docker.tar", TAG)
    for stage in stages:
        stage.unlink()
    shutil.rmtree(tmp / "work")
    shutil.rmtree(tmp / "admin", ignore_errors=True)
    (tmp / "stages.done").unlink()
    doc: dict[str, Any] = {"diff_ids": [b.diff_id for b in layers], "installed_in": installed_in}
    (tmp / "image.json").write_text(json.dumps(doc, indent=1, sort_keys=True))
    if final.exists():
        shutil.rmtree(tmp)
    else:
        tmp.rename(final)
    return AptLayersImage(final / "oci", final / "docker.tar", doc["diff_ids"], doc["installed_in"])
