"""The plain-Python image writer: real tools (skopeo, umoci) must read what it writes."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from devtools.imagebuild import FileSpec, Image, Layer
from devtools.rootfs import apt_sources


def _small(work: Path) -> Image:
    img = Image(work=work)
    img.add(Layer.files("/bin/sh -c #(nop) ADD file:abc in / ", {
        "etc/os-release": b'ID=debian\nVERSION_ID="12"\n',
        "bin/sh": FileSpec(symlink="dash"),
        "usr/share/doc/pkg/README": b"docs",
        "opt/app/keep.txt": b"keep",
        "opt/app/old.txt": b"old",
    }))
    img.add(Layer.files("RUN /bin/sh -c rm -rf /usr/share/doc/pkg # buildkit", {},
                        whiteouts=("/usr/share/doc/pkg",)))
    img.add(Layer.files("COPY app /opt/app # buildkit", {"opt/app/new.txt": b"new"}, opaque=("/opt/app",)))
    img.cmd = ["/bin/sh"]
    img.exposed_ports = ["8000/tcp"]
    img.healthcheck = {"Test": ["CMD", "true"]}
    img.step('CMD ["/bin/sh"]')
    return img


def test_oci_layout_is_read_by_skopeo_and_umoci(tmp_path: Path) -> None:
    img = _small(tmp_path / "work")
    digest = img.write_oci(tmp_path / "oci", "demo:1")
    info = json.loads(subprocess.run(["skopeo", "inspect", f"oci:{tmp_path / 'oci'}:demo:1"],
                                     check=True, capture_output=True, text=True).stdout)
    assert info["Digest"] == digest
    assert len(info["Layers"]) == 3
    config = json.loads(subprocess.run(["skopeo", "inspect", "--raw", "--config",
                                        f"oci:{tmp_path / 'oci'}:demo:1"],
                                       check=True, capture_output=True, text=True).stdout)
    assert config["config"]["ExposedPorts"] == {"8000/tcp": {}}
    assert config["config"]["Healthcheck"] == {"Test": ["CMD", "true"]}
    assert "User" not in config["config"]
    assert [h.get("empty_layer", False) for h in config["history"]] == [False, False, False, True]
    assert config["history"][1]["created_by"].startswith("RUN /bin/sh -c rm -rf")
    # umoci applies the whiteout and the opaque directory
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{tmp_path / 'oci'}:demo:1", str(bundle)],
                   check=True, capture_output=True)
    root = bundle / "rootfs"
    assert (root / "etc/os-release").read_bytes().startswith(b"ID=debian")
    assert not (root / "usr/share/doc/pkg").exists()
    assert sorted(p.name for p in (root / "opt/app").iterdir()) == ["new.txt"]
    assert (root / "bin/sh").is_symlink()


def test_docker_archive_and_copies(tmp_path: Path) -> None:
    img = _small(tmp_path / "work")
    img.write_oci(tmp_path / "oci", "demo:1")
    img.write_docker_archive(tmp_path / "d.tar", "demo:1")
    with tarfile.open(tmp_path / "d.tar") as tf:
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest[0]["RepoTags"] == ["demo:1"] and len(manifest[0]["Layers"]) == 3
    info = json.loads(subprocess.run(["skopeo", "inspect", f"docker-archive:{tmp_path / 'd.tar'}"],
                                     check=True, capture_output=True, text=True).stdout)
    assert len(info["Layers"]) == 3
    subprocess.run(["skopeo", "copy", "-q", f"oci:{tmp_path / 'oci'}:demo:1",
                    f"docker-archive:{tmp_path / 'copy.tar'}:demo:1"], check=True, capture_output=True)
    assert (tmp_path / "copy.tar").stat().st_size > 0


def test_builds_are_deterministic(tmp_path: Path) -> None:
    first = _small(tmp_path / "w1").write_oci(tmp_path / "o1", "t")
    second = _small(tmp_path / "w2").write_oci(tmp_path / "o2", "t")
    assert first == second
    changed = _small(tmp_path / "w3")
    changed.add(Layer.files("COPY x /x # buildkit", {"x": b"1"}))
    assert changed.write_oci(tmp_path / "o3", "t") != first


def test_directory_layers_keep_modes_and_links(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    (src / "bin" / "tool").write_bytes(b"#!/bin/sh\n")
    (src / "bin" / "tool").chmod(0o755)
    (src / "bin" / "alias").symlink_to("tool")
    img = Image(work=tmp_path / "work")
    blob = img.add(Layer.directory("COPY . /usr/local # buildkit", src, prefix="/usr/local"))
    with tarfile.open(tmp_path / "work" / "blobs" / "sha256" / blob.digest[7:]) as tf:
        members = {m.name: m for m in tf}
    assert members["usr/local/bin/tool"].mode == 0o755
    assert members["usr/local/bin/alias"].issym() and members["usr/local/bin/alias"].linkname == "tool"
    assert all(m.mtime == members["usr/local"].mtime for m in members.values())


def test_apt_sources_come_from_apts_own_files(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main contrib\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb-src\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\nTypes: deb\nEnabled: no\nURIs: http://off.example/debian\n"
        "Suites: bookworm\nComponents: main\n")
    (tmp_path / "sources.list.d" / "other.list.disabled").write_text("deb http://x.example/ bookworm main\n")
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://old.example/debian bookworm main\n"
                                           "deb http://old.example/debian trixie main\n")
    assert apt_sources("bookworm", tmp_path) == [
        "deb http://old.example/debian bookworm main",
        "deb http://mirror.example/debian bookworm main contrib",
        "deb http://mirror.example/debian bookworm-updates main contrib",
        "deb http://mirror.example/debian-security bookworm-security main",
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RuntimeError, match="no apt source"):
        apt_sources("bookworm", empty)
