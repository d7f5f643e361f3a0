"""Each source type, read as a user names it; interop with skopeo; integrity checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from seawall.core.errors import InputError, IntegrityError
from seawall.image import Limits, SourceOptions, open_image
from seawall.image.fs import walk
from seawall.image.refs import parse_ref
from tests.image.builder import (
    E,
    Layer,
    build,
    digest,
    write_docker_archive,
    write_oci,
    write_oci_archive,
)
from tests.image.visitors import Recorder

LAYERS = [
    Layer(
        [
            E("etc/", type="dir"),
            E("etc/os-release", b"ID=debian\n"),
            E("etc/hosts", b"h"),
            E("usr/bin/tool", b"TOOL v1", mode=0o755),
        ],
        created_by="ADD rootfs.tar /",
        compression="gzip",
    ),
    Layer(
        [E("etc/.wh.hosts"), E("srv/app.py", b"print('hi')\n")],
        created_by="COPY app.py /srv/",
        compression="zstd",
    ),
    Layer([E("usr/bin/tool", b"TOOL v2", mode=0o755)], created_by="RUN upgrade-tool", compression="none"),
]
EXPECTED = {"/etc/os-release": b"ID=debian\n", "/srv/app.py": b"print('hi')\n", "/usr/bin/tool": b"TOOL v2"}


def _read(
    ref: str, options: SourceOptions | None = None
) -> tuple[dict[str, bytes], list[str | None], str | None]:
    rec = Recorder(lambda e: e.path in EXPECTED or e.path == "/etc/hosts")
    with open_image(ref, options) as src:
        index = walk(src, [rec], Limits())
        created = [li.created_by for li in src.layers()]
        d = src.digest
    assert "/etc/hosts" not in index
    return {p: c for p, (c, _) in rec.seen.items()}, created, d


def _skopeo(*args: str, tmp: Path) -> None:
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "TMPDIR": str(tmp)}
    res = subprocess.run(
        ["skopeo", "--insecure-policy", "copy", "--quiet", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert res.returncode == 0, res.stderr


def test_oci_layout_by_tag_digest_and_bare_path(tmp_path: Path) -> None:
    img = build(LAYERS)
    root = tmp_path / "layout"
    write_oci(root, [(img, "1.0")])
    files, created, d = _read(f"oci:{root}:1.0")
    assert files == EXPECTED
    assert created == ["ADD rootfs.tar /", "COPY app.py /srv/", "RUN upgrade-tool"]
    assert d == img.manifest_digest
    assert _read(f"oci:{root}@{img.manifest_digest}")[0] == EXPECTED
    assert parse_ref(str(root)).transport == "oci"
    assert _read(str(root))[0] == EXPECTED
    with pytest.raises(InputError, match="no image tagged 'nope'"):
        open_image(f"oci:{root}:nope")


def test_oci_index_selects_platform(tmp_path: Path) -> None:
    amd = build([Layer([E("arch", b"amd64")])], arch="amd64")
    arm = build([Layer([E("arch", b"arm64")])], arch="arm64")
    root = tmp_path / "multi"
    write_oci(
        root,
        [(amd, None), (arm, None)],
        as_index=True,
        platforms=[("linux", "amd64"), ("linux", "arm64")],
        index_tag="multi",
    )
    for platform, want, img in (("linux/amd64", b"amd64", amd), ("linux/arm64", b"arm64", arm)):
        rec = Recorder({"/arch"})
        with open_image(f"oci:{root}:multi", SourceOptions(platform=platform)) as src:
            walk(src, [rec], Limits())
            assert src.digest == img.manifest_digest
            assert src.config().architecture == want.decode()
        assert rec.content("/arch") == want
    with pytest.raises(
        InputError, match=r"no image for platform linux/s390x \(available: linux/amd64, linux/arm64\)"
    ):
        open_image(f"oci:{root}:multi", SourceOptions(platform="linux/s390x"))


def test_oci_archive_and_docker_archive(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    write_oci(root, [(build(LAYERS), "1")])
    archive = tmp_path / "img-oci.tar"
    write_oci_archive(archive, root)
    assert parse_ref(str(archive)).transport == "oci-archive"
    assert _read(f"oci-archive:{archive}")[0] == EXPECTED
    assert _read(str(archive))[0] == EXPECTED
    docker = tmp_path / "img-docker.tar"
    img = write_docker_archive(docker, LAYERS, "demo:1")
    assert parse_ref(str(docker)).transport == "docker-archive"
    files, created, d = _read(f"docker-archive:{docker}")
    assert files == EXPECTED and created[2] == "RUN upgrade-tool"
    assert d == digest(img.config)
    assert _read(f"docker-archive:{docker}:demo:1")[0] == EXPECTED


def test_dir_is_detected(tmp_path: Path) -> None:
    (tmp_path / "r" / "etc").mkdir(parents=True)
    assert parse_ref(str(tmp_path / "r")).transport == "dir"


def test_skopeo_interop(tmp_path: Path) -> None:
    """Images converted by skopeo (a second implementation) read the same."""
    root = tmp_path / "ours"
    gz = [Layer(x.entries, x.created_by, "gzip") for x in LAYERS]  # docker-archive has no zstd
    write_oci(root, [(build(gz), "1")])
    docker = tmp_path / "skopeo-docker.tar"
    _skopeo(f"oci:{root}:1", f"docker-archive:{docker}:example.org/demo:1", tmp=tmp_path)
    assert _read(f"docker-archive:{docker}")[0] == EXPECTED
    assert _read(str(docker))[0] == EXPECTED
    zstd_layout = tmp_path / "skopeo-zstd"
    _skopeo(
        "--dest-compress",
        "--dest-compress-format",
        "zstd",
        f"docker-archive:{docker}",
        f"oci:{zstd_layout}:z",
        tmp=tmp_path,
    )
    index = json.loads((zstd_layout / "index.json").read_text())
    manifest = json.loads(
        (zstd_layout / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]).read_text()
    )
    assert {x["mediaType"] for x in manifest["layers"]} == {"application/vnd.oci.image.layer.v1.tar+zstd"}
    assert _read(f"oci:{zstd_layout}:z")[0] == EXPECTED
    oci_archive = tmp_path / "skopeo-oci.tar"
    _skopeo(f"oci:{zstd_layout}:z", f"oci-archive:{oci_archive}:z", tmp=tmp_path)
    assert _read(f"oci-archive:{oci_archive}")[0] == EXPECTED


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_corrupt_layer_blob_is_refused(tmp_path: Path) -> None:
    img = build(LAYERS)
    root = tmp_path / "layout"
    write_oci(root, [(img, "1")])
    _corrupt(root / "blobs" / "sha256" / img.layer_digests[2][7:])  # the uncompressed one: tar still parses
    with open_image(f"oci:{root}:1") as src, pytest.raises(IntegrityError, match="digest mismatch"):
        walk(src, [], Limits())


def test_corrupt_manifest_and_config_are_refused(tmp_path: Path) -> None:
    img = build(LAYERS)
    root = tmp_path / "layout"
    write_oci(root, [(img, "1")])
    cfg = root / "blobs" / "sha256" / digest(img.config)[7:]
    cfg.write_bytes(img.config.replace(b'"amd64"', b'"arm64"'))
    with pytest.raises(IntegrityError), open_image(f"oci:{root}:1") as src:
        src.config()
    (root / "blobs" / "sha256" / img.manifest_digest[7:]).write_bytes(img.manifest + b" ")
    with pytest.raises(IntegrityError):
        open_image(f"oci:{root}:1")


def test_docker_archive_diff_id_mismatch_is_refused(tmp_path: Path) -> None:
    import io
    import tarfile

    docker = tmp_path / "img.tar"
    write_docker_archive(docker, LAYERS)
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(docker) as src, tarfile.open(tampered, "w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()  # type: ignore[union-attr]
            if m.name.endswith("layer.tar") and b"TOOL v2" in data:
                data = data.replace(b"TOOL v2", b"EVIL v2")
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    with open_image(f"docker-archive:{tampered}") as src, pytest.raises(IntegrityError, match="diff_id"):
        walk(src, [], Limits())


def test_missing_blob_and_unknown_media_type(tmp_path: Path) -> None:
    img = build(LAYERS)
    root = tmp_path / "layout"
    write_oci(root, [(img, "1")])
    (root / "blobs" / "sha256" / img.layer_digests[0][7:]).unlink()
    with open_image(f"oci:{root}:1") as src, pytest.raises(InputError, match="missing"):
        walk(src, [], Limits())
    odd = [Layer([E("x", b"x")], media_type="application/vnd.cncf.helm.chart.content.v1.tar+gzip")]
    root2 = tmp_path / "odd"
    write_oci(root2, [(build(odd), "1")])
    with pytest.raises(InputError, match="unsupported layer media type"):
        open_image(f"oci:{root2}:1")


def test_compression_is_detected_by_magic_not_media_type(tmp_path: Path) -> None:
    # a zstd blob labelled as gzip, a plain tar labelled as zstd: read by their bytes
    layers = [
        Layer([E("a", b"A")], compression="zstd", media_type="application/vnd.oci.image.layer.v1.tar+gzip"),
        Layer([E("b", b"B")], compression="none", media_type="application/vnd.oci.image.layer.v1.tar+zstd"),
    ]
    root = tmp_path / "layout"
    write_oci(root, [(build(layers), "1")])
    rec = Recorder({"/a", "/b"})
    with open_image(f"oci:{root}:1") as src:
        walk(src, [rec], Limits())
    assert rec.content("/a") == b"A" and rec.content("/b") == b"B"


@pytest.mark.parametrize(
    "ref",
    [
        "oci:/nonexistent/layout",
        "docker-archive:/nonexistent.tar",
        "dir:/nonexistent",
        "/nonexistent/image.tar",
        "./nope",
    ],
)
def test_missing_paths_are_input_errors(ref: str) -> None:
    with pytest.raises(InputError):
        open_image(ref)


def test_not_an_image(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(InputError, match="not an image archive"):
        open_image(str(junk))
