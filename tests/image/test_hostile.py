"""Hostile images: each one gives one InputError-family error (exit 2 on the CLI) and nothing is
written outside the tool's temp dir. The images are built by the tests, byte by byte."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from seawall.core.errors import InputError, LimitExceeded, SeawallError
from seawall.image import Limits, SourceOptions, open_image
from seawall.image.fs import walk
from tests.conftest import run_cli
from tests.image.builder import E, Layer, build, compress, tar_bytes, write_docker_archive, write_oci
from tests.image.visitors import Recorder

BASE = Layer([E("etc/", type="dir"), E("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")])


def _zeros_tar(size: int) -> bytes:
    """A tar holding one file of `size` zero bytes, gzip-compressed on the fly (a bomb: ~1000:1)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        ti = tarfile.TarInfo("var/bomb")
        ti.size = size
        gz.write(ti.tobuf(format=tarfile.PAX_FORMAT))
        chunk = b"\0" * (1 << 20)
        for _ in range(size // len(chunk)):
            gz.write(chunk)
        gz.write(b"\0" * 1024)  # end-of-archive
    return out.getvalue()


def _raw_member(name: str, data: bytes = b"x", typ: bytes = tarfile.REGTYPE, link: str = "") -> bytes:
    """A tar with a member named exactly `name` (a PAX path header, as hostile tools write it)."""
    ti = tarfile.TarInfo("placeholder")
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    ti.type = typ
    ti.pax_headers = {"path": name, **({"linkpath": link} if link else {})}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _pax_bomb(size: int) -> bytes:
    """A PAX header declaring `size` bytes of zeros, gzip-compressed: tarfile would read it whole."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        ti = tarfile.TarInfo("PaxHeaders/bomb")
        ti.type = tarfile.XHDTYPE
        ti.size = size
        gz.write(ti.tobuf(format=tarfile.USTAR_FORMAT))
        chunk = b"\0" * (1 << 20)
        for _ in range(size // len(chunk)):
            gz.write(chunk)
        gz.write(b"\0" * 1024)
    return out.getvalue()


def _pax_chain(n: int) -> bytes:
    """`n` PAX headers in a row (tarfile recurses once per header)."""
    record = b"11 path=ab\n"
    ti = tarfile.TarInfo("PaxHeaders/x")
    ti.type = tarfile.XHDTYPE
    ti.size = len(record)
    one = ti.tobuf(format=tarfile.USTAR_FORMAT) + record + b"\0" * (512 - len(record))
    return gzip.compress(one * n + tar_bytes([E("ok", b"1")]), mtime=0)


def _sentinel() -> Path:
    return Path("/tmp") / f"seawall-hostile-{uuid.uuid4().hex}"


def _case_layers(case: str, sentinel: Path) -> tuple[list[Layer], Limits, type[SeawallError], str]:
    rel = "../../../../../../../.." + str(sentinel)
    if case == "truncated-gzip":
        blob = compress(tar_bytes([E("etc/big", bytes(range(256)) * 4096)]), "gzip")
        return [BASE, Layer([], raw=blob[: len(blob) // 2])], Limits(), InputError, "truncated"
    if case == "dotdot-entry":
        return (
            [BASE, Layer([], raw=_raw_member("../../etc/passwd"))],
            Limits(),
            InputError,
            "escapes the image root",
        )
    if case == "dotdot-sentinel":
        return [BASE, Layer([], raw=_raw_member(rel))], Limits(), InputError, "escapes the image root"
    if case == "absolute-entry":
        return [BASE, Layer([], raw=_raw_member(str(sentinel)))], Limits(), InputError, "absolute path"
    if case == "symlink-write-through":
        # the classic: a symlink to /etc, then a file written through it
        tar = tar_bytes(
            [
                E("etc/", type="dir"),
                E("evil", type="symlink", link="/etc"),
                E("evil/shadow", b"pwned::0:0:::\n"),
            ]
        )
        return [BASE, Layer([], raw=tar)], Limits(), InputError, "written through the symlink"
    if case == "symlink-dir-to-sentinel":
        tar = tar_bytes(
            [E("out", type="symlink", link=str(sentinel.parent)), E(f"out/{sentinel.name}", b"pwned")]
        )
        return [Layer([], raw=tar)], Limits(), InputError, "written through the symlink"
    if case == "hardlink-out":
        raw = _raw_member("etc/passwd-link", b"", tarfile.LNKTYPE, "../../../../etc/passwd")
        return [BASE, Layer([], raw=raw)], Limits(), InputError, "escapes the image root"
    if case == "hardlink-absolute":
        raw = _raw_member("etc/shadow-link", b"", tarfile.LNKTYPE, "/etc/shadow")
        return [BASE, Layer([], raw=raw)], Limits(), InputError, "absolute path"
    if case == "gzip-bomb":
        return (
            [BASE, Layer([], raw=_zeros_tar(64 << 20))],
            Limits(max_total_size=8 << 20),
            LimitExceeded,
            "max_total_size",
        )
    if case == "pax-header-bomb":
        return [BASE, Layer([], raw=_pax_bomb(256 << 20))], Limits(), LimitExceeded, "extended header"
    if case == "pax-header-chain":
        return [BASE, Layer([], raw=_pax_chain(5000))], Limits(), InputError, "tar stream"
    raise AssertionError(case)


CASES = [
    "truncated-gzip",
    "dotdot-entry",
    "dotdot-sentinel",
    "absolute-entry",
    "symlink-write-through",
    "symlink-dir-to-sentinel",
    "hardlink-out",
    "hardlink-absolute",
    "gzip-bomb",
    "pax-header-bomb",
    "pax-header-chain",
]


def _write(tmp: Path, layers: list[Layer]) -> str:
    root = tmp / "hostile"
    write_oci(root, [(build(layers), "1")])
    return f"oci:{root}:1"


def _assert_nothing_outside(sandbox: Path, sentinel: Path) -> None:
    assert not sentinel.exists()
    assert not (sentinel.parent / "shadow").exists() or sentinel.parent != Path("/etc")
    leftovers = list((sandbox / "tmp").rglob("*"))
    assert leftovers == [], f"temp files left behind: {leftovers}"
    assert list((sandbox / "home").rglob("*")) == []


@pytest.mark.parametrize("case", CASES)
def test_hostile_layer_is_refused(case: str, tmp_path: Path, isolated: Path) -> None:
    sentinel = _sentinel()
    layers, limits, err, match = _case_layers(case, sentinel)
    ref = _write(tmp_path, layers)
    rec = Recorder(lambda e: True)
    with pytest.raises(err, match=match) as info, open_image(ref, SourceOptions(limits=limits)) as src:
        walk(src, [rec], limits)
    assert "\n" not in str(info.value)
    assert all(b"pwned" not in content for content, _ in rec.seen.values())
    _assert_nothing_outside(isolated, sentinel)


def test_hostile_docker_archive_entry_is_refused(tmp_path: Path, isolated: Path) -> None:
    sentinel = _sentinel()
    archive = tmp_path / "hostile.tar"
    write_docker_archive(archive, [BASE, Layer([], raw=_raw_member(str(sentinel)))])
    with pytest.raises(InputError, match="absolute path"), open_image(str(archive)) as src:
        walk(src, [], Limits())
    _assert_nothing_outside(isolated, sentinel)


def test_plain_symlink_to_etc_shadow_reads_the_images_own_file(tmp_path: Path, isolated: Path) -> None:
    """A symlink is data: resolved inside the image (its own /etc/shadow, or nothing), never the host's."""
    layers = [
        Layer(
            [
                E("etc/", type="dir"),
                E("etc/shadow", b"root:*:image-own:0:::\n"),
                E("a/b/link", type="symlink", link="/etc/shadow"),
                E("a/b/rel", type="symlink", link="../../../../../../../etc/shadow"),
            ]
        )
    ]
    rec = Recorder({"/a/b/link", "/a/b/rel"})
    with open_image(_write(tmp_path, layers)) as src:
        walk(src, [rec], Limits())
    assert rec.content("/a/b/link") == rec.content("/a/b/rel") == b"root:*:image-own:0:::\n"
    layers = [Layer([E("etc/", type="dir"), E("link", type="symlink", link="/etc/shadow")])]
    rec = Recorder({"/link"})
    with open_image(_write(tmp_path / "2", layers)) as src:
        index = walk(src, [rec], Limits())
    assert rec.seen == {} and index.resolve("/link") is None


def test_manifest_naming_a_missing_blob(tmp_path: Path) -> None:
    img = build([BASE])
    root = tmp_path / "layout"
    write_oci(root, [(img, "1")])
    (root / "blobs" / "sha256" / img.layer_digests[0][7:]).unlink()
    with pytest.raises(InputError, match="missing"), open_image(f"oci:{root}:1") as src:
        walk(src, [], Limits())


def test_unknown_media_type(tmp_path: Path) -> None:
    root = tmp_path / "layout"
    write_oci(root, [(build([Layer([E("x", b"1")], media_type="application/x-unknown")]), "1")])
    with pytest.raises(InputError, match="unsupported layer media type"):
        open_image(f"oci:{root}:1")
    # an index entry of an unknown manifest type
    doc = json.loads((root / "index.json").read_text())
    doc["manifests"][0]["mediaType"] = "application/vnd.example.weird+json"
    manifest = root / "blobs" / "sha256" / doc["manifests"][0]["digest"][7:]
    m = json.loads(manifest.read_text())
    m["mediaType"] = "application/vnd.example.weird+json"
    data = json.dumps(m).encode()
    import hashlib

    d = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256" / d).write_bytes(data)
    doc["manifests"][0].update({"digest": f"sha256:{d}", "size": len(data)})
    (root / "index.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="unsupported manifest media type"):
        open_image(f"oci:{root}:1")


# -- the same, as a user runs it -----------------------------------------------------------------


def _sbom_available() -> bool:
    res = run_cli("sbom", "dir:/nonexistent-seawall-probe")
    return "No such command" not in res.stderr


@pytest.fixture(scope="module")
def sbom_cli() -> Callable[..., object]:
    if not _sbom_available():
        pytest.skip("`seawall sbom` is not in the tree yet")
    return run_cli


@pytest.mark.parametrize(
    "case", ["truncated-gzip", "dotdot-sentinel", "absolute-entry", "symlink-write-through", "hardlink-out"]
)
def test_cli_hostile_exit_2_one_line(case: str, tmp_path: Path, sbom_cli: Callable[..., object]) -> None:
    sentinel = _sentinel()
    layers, _, _, match = _case_layers(case, sentinel)
    ref = _write(tmp_path, layers)
    sandbox = tmp_path / "sandbox"
    (sandbox / "home").mkdir(parents=True)
    (sandbox / "tmp").mkdir()
    res = run_cli(
        "sbom", ref, "--format", "json", env={"HOME": str(sandbox / "home"), "TMPDIR": str(sandbox / "tmp")}
    )
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seawall: error:") and match in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not sentinel.exists()
    assert list((sandbox / "tmp").rglob("*")) == []


def test_hostile_outer_archives(tmp_path: Path, isolated: Path) -> None:
    """The archive around the image is hostile input too: header bombs, JSON nesting bombs."""
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(_pax_bomb(64 << 20))
    with pytest.raises(LimitExceeded, match="extended header"):
        open_image(f"docker-archive:{bomb}")
    with pytest.raises(LimitExceeded, match="extended header"):
        open_image(f"oci-archive:{bomb}")
    nested = tmp_path / "nested.tar"
    with tarfile.open(nested, "w") as tf:
        data = b"[" * 200_000 + b"]" * 200_000
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    with pytest.raises(InputError, match="not valid JSON"):
        open_image(str(nested))
    layout = tmp_path / "layout"
    layout.mkdir()
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_bytes(b'{"manifests": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(InputError, match="not valid JSON"):
        open_image(f"oci:{layout}")
    assert list((isolated / "tmp").rglob("*")) == []
