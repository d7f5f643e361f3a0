"""`seawall registry watch` against the real distribution registry: repositories and tags from
`_catalog` and tag lists, each image's SBOM stored once by digest, new tags and new digests
picked up, and after an advisory DB update a rescan that re-matches the stored SBOMs with no
layer download (the registry's own access log counts blob requests)."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.imagebuild import Image, Layer
from devtools.registry import Registry, available, push, running_registry
from seawall import vulndb as vdb
from seawall.runtime.sbomstore import Running, open_store
from tests.conftest import run_cli

pytestmark = [pytest.mark.slow, pytest.mark.network]

BLOB_GET = re.compile(r'"GET /v2/[^ ]+/blobs/sha256:[0-9a-f]{64} ')


@pytest.fixture(scope="module")
def logged_registry() -> Iterator[Registry]:
    reason = available()
    if reason is not None:
        pytest.skip(reason)
    with running_registry(access_log=True) as reg:
        yield reg


def blob_gets(reg: Registry) -> int:
    return len(BLOB_GET.findall(reg.log.read_text(errors="replace")))


def jwt_image(work: Path, wheel: Path, tag: str, extra: bytes = b"") -> str:
    """A small image built from a real wheel: PyJWT 1.5.0 unpacked into dist-packages."""
    files: dict[str, bytes] = {"etc/os-release": b'ID=debian\nVERSION_ID="12"\n'}
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if not info.is_dir():
                files[f"usr/lib/python3/dist-packages/{info.filename}"] = zf.read(info)
    if extra:
        files["app/VERSION"] = extra
    img = Image(work=work / "blobs")
    img.add(Layer.files("COPY PyJWT-1.5.0 /usr/lib/python3/dist-packages", files))
    layout = work / tag.replace(":", "-")
    img.write_oci(layout, tag)
    return f"oci:{layout}:{tag}"


@pytest.fixture(scope="module")
def dbs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An 'old' DB without the PyPI feed, and the 'updated' one with every shipped feed."""
    area = tmp_path_factory.mktemp("dbs")
    feeds = vdb.shipped_feed_paths()
    old, new = area / "old.sqlite", area / "new.sqlite"
    vdb.import_paths([f for f in feeds if f.name != "PyPI.zip"], old)
    vdb.import_paths(feeds, new)
    return {"old": old, "new": new, "live": area / "vulndb.sqlite"}


def _cli(reg: Registry, area: Path, *args: str) -> tuple[dict[str, Any], str]:
    env = {
        "HOME": str(area),
        "TMPDIR": str(area),
        "SEAWALL_REGISTRY_USERNAME": reg.username,
        "SEAWALL_REGISTRY_PASSWORD": reg.password,
    }
    proc = run_cli(*args, "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout), proc.stderr


def test_watch_store_new_tags_and_rescan_without_layers(
    logged_registry: Registry,
    demo,
    runtime_inputs,  # type: ignore[no-untyped-def]
    dbs: dict[str, Path],
    tmp_path: Path,
) -> None:
    reg = logged_registry
    push(reg, f"oci:{demo.oci_dir}:{demo.tag}", "apps/demo:1")
    push(reg, jwt_image(tmp_path, runtime_inputs["wheel"], "jwt:1"), "tools/jwt:1")
    store = tmp_path / "store.sqlite"
    shutil.copy(dbs["old"], dbs["live"])
    watch = (
        "registry",
        "watch",
        reg.host,
        "--ca-cert",
        str(reg.ca_cert),
        "--store",
        str(store),
        "--db",
        str(dbs["live"]),
    )

    doc, _ = _cli(reg, tmp_path, *watch)
    (round1,) = doc["target"]["metadata"]["rounds"]
    assert round1["repositories"] == 2 and round1["tags"] == 2 and len(round1["new_digests"]) == 2
    assert not any(f["package"]["ecosystem"] == "PyPI" for f in doc["findings"])  # old DB: no PyPI feed
    s = open_store(str(store))
    try:
        refs = dict(s.references())
        assert set(refs) == {f"{reg.host}/apps/demo:1", f"{reg.host}/tools/jwt:1"}
        demo_digest = refs[f"{reg.host}/apps/demo:1"]
        assert demo_digest.startswith("sha256:")
        # what `seawall scan running` recorded: the demo image runs in two workloads
        s.set_running(
            [
                Running("podman:a", demo_digest, "shop/Deployment/web", "web"),
                Running("podman:b", demo_digest, "shop/Deployment/worker", "worker"),
            ]
        )
    finally:
        s.close()

    # a new tag of a known digest, and a new tag with a new digest
    push(reg, f"oci:{demo.oci_dir}:{demo.tag}", "apps/demo:1.0.1")
    push(reg, jwt_image(tmp_path, runtime_inputs["wheel"], "jwt:2", extra=b"2\n"), "tools/jwt:2")
    before = blob_gets(reg)
    doc, _ = _cli(reg, tmp_path, *watch)
    (round2,) = doc["target"]["metadata"]["rounds"]
    assert round2["tags"] == 4 and round2["digests"] == 3 and len(round2["new_digests"]) == 1
    assert blob_gets(reg) - before == 2  # only the new image: its config and its one layer

    # `seawall db update`: the PyPI feed arrives; the rescan pulls nothing
    shutil.copy(dbs["new"], dbs["live"])
    before = blob_gets(reg)
    manifests_before = reg.log.read_text().count("/manifests/")
    doc, stderr = _cli(reg, tmp_path, "registry", "rescan", "--store", str(store), "--db", str(dbs["live"]))
    assert blob_gets(reg) == before and reg.log.read_text().count("/manifests/") == manifests_before
    rescan = doc["target"]["metadata"]["rescan"]
    new = {n["id"]: n for n in rescan["new"]}
    assert new["CVE-2017-11424"]["images"] == 2 and new["CVE-2017-11424"]["running"] == 0
    django = next(n for n in rescan["new"] if any("demo" in r for r in n["references"]))
    assert django["images"] == 1 and django["workloads"] == ["shop/Deployment/web", "shop/Deployment/worker"]
    assert "CVE-2017-11424 now affects 2 images" in stderr
    assert re.search(r"now affects 1 image, running in: shop/Deployment/web, shop/Deployment/worker", stderr)
    jwt = [f for f in doc["findings"] if f["package"]["name"] == "pyjwt"]
    assert {f["extra"]["new"] for f in jwt} == {True} and len({f["extra"]["digest"] for f in jwt}) == 2

    # the same DB again: nothing is new
    doc, _ = _cli(reg, tmp_path, "registry", "rescan", "--store", str(store), "--db", str(dbs["live"]))
    assert doc["findings"] == [] and doc["target"]["metadata"]["rescan"]["new"] == []
    assert blob_gets(reg) == before


def test_cyclonedx_import_is_rescanned(demo, dbs: dict[str, Path], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An SBOM made elsewhere (here: seawall's own CycloneDX output) stored by its digest."""
    env = {"HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    sbom = tmp_path / "demo.cdx.json"
    proc = run_cli("sbom", demo.oci_ref, "--format", "cyclonedx-json", "--output", str(sbom), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    store = tmp_path / "store.sqlite"
    proc = run_cli("registry", "import", str(sbom), "--store", str(store), env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == f"stored {demo.digest}", proc.stderr
    proc = run_cli(
        "registry", "rescan", "--store", str(store), "--db", str(dbs["new"]), "--format", "json", env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    names = {f["package"]["name"] for f in doc["findings"]}
    assert {"django", "urllib3"} <= names
    bad = tmp_path / "bad.json"
    bad.write_text('{"bomFormat": "SPDX"}')
    proc = run_cli("registry", "import", str(bad), "--store", str(store), env=env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "not a CycloneDX document" in proc.stderr
