"""Fuzzing the image readers: layer tars (names, types, links, whiteouts, headers), their
compression, the manifests, indexes and configs around them, and the archives that hold them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import assume, given
from hypothesis import strategies as st

from seawall.image import Limits, SourceOptions, open_image
from seawall.image.fs import walk
from seawall.scan.secrets import SecretsVisitor
from tests.fuzz.harness import FUZZ, JSON, check_reader, mutated
from tests.image.builder import Layer, build, write_docker_archive, write_oci
from tests.image.visitors import Recorder

SEGMENTS = ["etc", "a", "b", "..", ".", "", ".wh.a", ".wh..wh..opq", ".wh.etc", "usr", "lib", "python3",
            "dist-packages", "x-1.0.dist-info", "METADATA", "\udcff\udce9", "\x1b[1m", "\u202e", "var",
            "dpkg", "status", "os-release", "app.env", "passwd", "x" * 120]
PAYLOADS = [b"", b"ID=debian\nVERSION_ID=\"12\"\n", b"Metadata-Version: 2.1\nName: requests\nVersion: 2.0\n",
            b"Package: bash\nStatus: install ok installed\nVersion: 5.2\n\n",
            b"AWS_ACCESS_KEY_ID=AKIAZ7Q3RT5WLKM2XN4P\nAWS_SECRET_ACCESS_KEY=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\n",
            b"\x00\x01\x02\xff" * 64, b"root:x:0:0::/root:/bin/sh\n"]
TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
         "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE,
         "sparse": tarfile.GNUTYPE_SPARSE}
LIMITS = Limits(max_file_size=1 << 20, max_total_size=64 << 20, max_entries=10_000, ratio_allowance=8 << 20)

PATHS = st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=5).map("/".join)
ENTRY = st.tuples(PATHS, st.sampled_from(list(TYPES)),
                  st.one_of(st.sampled_from(PAYLOADS), st.binary(max_size=300)),
                  st.one_of(PATHS, st.sampled_from(["/etc/passwd", "../../../../etc/shadow", "/", ""])),
                  st.integers(0, 0o7777))

pytestmark = pytest.mark.slow


def tar_of(entries: list[tuple[str, str, bytes, str, int]], fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, kind, data, link, mode in entries:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.linkname = TYPES[kind], mode, link
            info.size = len(data) if kind in ("file", "sparse") else 0
            tf.addfile(info, io.BytesIO(data) if info.size else None)
    return buf.getvalue()


@st.composite
def layer_blobs(draw: st.DrawFn) -> bytes:
    entries = draw(st.lists(ENTRY, max_size=12))
    fmt = draw(st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT]))
    try:
        tar = tar_of(entries, fmt)
    except (ValueError, UnicodeError):
        assume(False)  # a name this header format cannot hold: not an input anyone can write
        raise
    how = draw(st.sampled_from(["gzip", "zstd", "none"]))
    blob = gzip.compress(tar, mtime=0) if how == "gzip" else (
        zstandard.ZstdCompressor().compress(tar) if how == "zstd" else tar)
    return draw(mutated(blob))


def _walk(ref: str) -> None:
    rec = Recorder(lambda entry: True)
    secrets = SecretsVisitor()
    with open_image(ref, SourceOptions(limits=LIMITS)) as src:
        index = walk(src, [rec, secrets], LIMITS)
        assert all("\n" not in w for w in index.warnings)


@FUZZ
@given(st.lists(layer_blobs(), min_size=1, max_size=3))
def test_fuzz_layers(blobs: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "oci"
        write_oci(root, [(build([Layer([], raw=b) for b in blobs]), "1")])
        check_reader(lambda: _walk(f"oci:{root}:1"), "layers")


@FUZZ
@given(st.lists(layer_blobs(), min_size=1, max_size=2))
def test_fuzz_layers_through_the_catalogers(blobs: list[bytes]) -> None:
    """The same layers, read as `seawall sbom` reads them (every cataloger as a visitor)."""
    from seawall.scan.inventory import inventory

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "oci"
        write_oci(root, [(build([Layer([], raw=b) for b in blobs]), "1")])

        def run() -> None:
            with open_image(f"oci:{root}:1", SourceOptions(limits=LIMITS)) as src:
                inventory(src, LIMITS)

        check_reader(run, "catalogers")


@FUZZ
@given(st.lists(layer_blobs(), min_size=1, max_size=2), st.data())
def test_fuzz_docker_archives(blobs: list[bytes], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "img.tar"
        write_docker_archive(archive, [Layer([], raw=b) for b in blobs])
        archive.write_bytes(data.draw(mutated(archive.read_bytes())))
        check_reader(lambda: _walk(f"docker-archive:{archive}"), "docker-archive")


# -- manifests, indexes, configs --------------------------------------------------------------------

def _put(root: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _layout(root: Path, index: bytes) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_bytes(index)


@st.composite
def documents(draw: st.DrawFn, valid: dict[str, Any]) -> bytes:
    """A JSON document shaped like `valid` with fields replaced by anything, or any JSON, or bytes."""
    how = draw(st.sampled_from(["fields", "fields", "any", "bytes"]))
    if how == "any":
        return json.dumps(draw(JSON)).encode()
    doc = json.loads(json.dumps(valid))
    if how == "fields":
        for _ in range(draw(st.integers(1, 3))):
            target = doc
            path = draw(st.lists(st.sampled_from(sorted(_keys(valid))), min_size=1, max_size=3))
            for key in path[:-1]:
                nxt = target.get(key) if isinstance(target, dict) else None
                if not isinstance(nxt, dict):
                    break
                target = nxt
            if isinstance(target, dict):
                target[path[-1]] = draw(JSON)
    return draw(mutated(json.dumps(doc).encode()))


def _keys(doc: Any) -> set[str]:
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in _keys(v)}
    if isinstance(doc, list):
        return {k for v in doc for k in _keys(v)}
    return set()


BASE = build([Layer([], raw=gzip.compress(tar_of([("etc/os-release", "file", PAYLOADS[1], "", 0o644)],
                                                  tarfile.PAX_FORMAT), mtime=0))])
BASE_MANIFEST = json.loads(BASE.manifest)
BASE_CONFIG = json.loads(BASE.config)
BASE_INDEX = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
              "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "x",
                             "size": 1, "annotations": {"org.opencontainers.image.ref.name": "1"},
                             "platform": {"os": "linux", "architecture": "amd64"}}]}


@FUZZ
@given(st.sampled_from(["index", "manifest", "config"]), st.data())
def test_fuzz_manifests_indexes_and_configs(which: str, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "oci"
        root.mkdir()
        _put(root, BASE.layers[0])
        config = data.draw(documents(BASE_CONFIG)) if which == "config" else BASE.config
        manifest_doc = dict(BASE_MANIFEST, config=dict(BASE_MANIFEST["config"], **_put(root, config)))
        manifest = json.dumps(manifest_doc).encode()
        if which == "manifest":
            manifest = data.draw(documents(manifest_doc))
        index_doc = json.loads(json.dumps(BASE_INDEX))
        index_doc["manifests"][0].update(_put(root, manifest))
        index = data.draw(documents(index_doc)) if which == "index" else json.dumps(index_doc).encode()
        _layout(root, index)
        check_reader(lambda: _walk(f"oci:{root}"), f"oci {which}")
