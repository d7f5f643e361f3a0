"""`seawall sbom` on the demo image (real Debian base from mmdebstrap, old PyPI releases, a Go
binary built with Debian's golang, a whiteout layer), in every image form a user has."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from devtools.demo_image import DemoImage
from tests.conftest import run_cli
from tests.sbom.conftest import layers_of, packages_by_key, sbom_json

pytestmark = pytest.mark.slow

PYPI = {"django": "3.2", "requests": "2.25.0", "urllib3": "1.26.4", "pyyaml": "5.3.1", "jinja2": "2.11.2",
        "markupsafe": "1.1.1", "asgiref": "3.3.2", "pytz": "2021.1", "sqlparse": "0.4.1",
        "certifi": "2020.12.5", "chardet": "3.0.4", "idna": "2.10"}


def _check_debian(doc: dict[str, Any]) -> None:
    assert doc["target"]["os"]["id"] == "debian" and doc["target"]["os"]["version"] == "12"
    pkgs = packages_by_key(doc)
    libssl = pkgs[("Debian", "libssl3")]
    assert libssl["source_name"] == "openssl"
    assert libssl["purl"].startswith("pkg:deb/debian/libssl3@")
    assert pkgs[("Debian", "python3.11")]["version"].startswith("3.11.")
    assert pkgs[("Debian", "libc6")]["source_name"] == "glibc"
    # mmdebstrap minbase + python3: a real package set, not a handful of fixtures
    assert sum(1 for p in doc["packages"] if p["ecosystem"] == "Debian") > 80


def _check_python(doc: dict[str, Any], pip_layer: str | None) -> None:
    pkgs = packages_by_key(doc)
    for name, version in PYPI.items():
        pkg = pkgs[("PyPI", name)]
        assert pkg["version"] == version, name
        assert pkg["purl"] == f"pkg:pypi/{name}@{version}"
        assert any("/usr/local/lib/python3.11/dist-packages/" in (loc.get("path") or "")
                   for loc in pkg["locations"])
        if pip_layer is not None:
            assert layers_of(pkg) == {pip_layer}, name
    # six was installed by the pip layer and uninstalled (whiteouts) by a later layer
    assert ("PyPI", "six") not in pkgs
    assert not any(p["name"] == "six" for p in doc["packages"])


def _check_go(doc: dict[str, Any], go_layer: str | None) -> None:
    go = {p["name"]: p for p in doc["packages"] if p["ecosystem"] == "Go"}
    assert "stdlib" in go, sorted(go)
    assert go["stdlib"]["version"].lstrip("v").removeprefix("go") == "1.19.8"
    assert "example.com/demo-server" in go
    for pkg in go.values():
        assert any(loc.get("path") == "/usr/local/bin/demo-server" for loc in pkg["locations"])
        if go_layer is not None:
            assert layers_of(pkg) == {go_layer}


def test_oci_layout(demo: DemoImage, demo_oci_sbom: dict[str, Any]) -> None:
    doc = demo_oci_sbom
    assert doc["target"]["kind"] == "image"
    assert doc["target"]["digest"] == demo.digest
    _check_debian(doc)
    _check_python(doc, demo.pip_diff_id)
    layers = doc["target"]["metadata"]["layers"]
    # packages name layers by diff_id; the layer list has both ids
    assert (layers[1]["diff_id"], layers[1]["digest"]) == (demo.pip_diff_id, demo.pip_layer)
    assert layers[1]["created_by"].startswith("RUN /bin/sh -c pip install")
    assert doc["findings"] == []


def test_go_binary(demo: DemoImage, demo_oci_sbom: dict[str, Any]) -> None:
    _check_go(demo_oci_sbom, demo.go_diff_id)


def test_docker_archive(demo: DemoImage, demo_oci_sbom: dict[str, Any]) -> None:
    doc = sbom_json(demo.docker_ref)
    _check_debian(doc)
    _check_python(doc, demo.pip_diff_id)
    # one layer id whatever the input: the same packages at the same paths in the same layers
    # (diff_ids) from a docker-archive (uncompressed layers) as from an OCI layout (gzip blobs)
    assert ({(p["purl"], json.dumps(p["locations"], sort_keys=True)) for p in doc["packages"]}
            == {(p["purl"], json.dumps(p["locations"], sort_keys=True)) for p in demo_oci_sbom["packages"]})


def test_oci_archive_made_by_skopeo(demo: DemoImage, demo_oci_sbom: dict[str, Any], tmp_path: Path) -> None:
    archive = tmp_path / "demo-oci.tar"
    subprocess.run(["skopeo", "copy", "-q", demo.oci_ref, f"oci-archive:{archive}:demo:1"],
                   check=True, capture_output=True)
    doc = sbom_json(f"oci-archive:{archive}")
    _check_python(doc, demo.pip_diff_id)
    assert {p["purl"] for p in doc["packages"]} == {p["purl"] for p in demo_oci_sbom["packages"]}
    # a bare path is detected as well
    assert sbom_json(str(archive))["target"]["digest"] == doc["target"]["digest"]


def test_rootfs_dir(demo_rootfs: Path, demo_oci_sbom: dict[str, Any]) -> None:
    doc = sbom_json(f"dir:{demo_rootfs}")
    assert doc["target"]["kind"] == "rootfs"
    _check_debian(doc)
    _check_python(doc, None)
    assert {p["purl"] for p in doc["packages"]} == {p["purl"] for p in demo_oci_sbom["packages"]}


def test_table_output(demo: DemoImage) -> None:
    proc = run_cli("sbom", demo.oci_ref)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "OS: debian 12" in out
    for name in ("django", "requests", "urllib3", "pyyaml", "jinja2", "libssl3"):
        assert f" {name} " in out, name
    assert demo.pip_diff_id[7:19] in out  # short layer id (diff_id) next to the Python packages
    assert " six " not in out
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal


def test_output_file_and_errors(demo: DemoImage, tmp_path: Path) -> None:
    out = tmp_path / "sbom.json"
    proc = run_cli("sbom", demo.oci_ref, "--format", "json", "--output", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    assert any(p["name"] == "django" for p in json.loads(out.read_text())["packages"])

    for args, needle in (
        (("sbom", str(tmp_path / "missing.tar")), "no such file"),
        (("sbom", demo.oci_ref, "--format", "sarif"), "unknown format 'sarif' for sbom"),
        (("sbom", f"oci:{demo.oci_dir}:nope"), "nope"),
        (("sbom", demo.oci_ref, "--platform", "amd64"), "--platform"),
        (("sbom", demo.oci_ref, "--output", str(tmp_path / "no" / "dir" / "x.json")), "does not exist"),
    ):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("seawall: error:") and needle in lines[0], proc.stderr
        assert "Traceback" not in proc.stderr
