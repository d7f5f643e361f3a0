"""Layer-exact attribution on a real image with `apt-get install` in three layers (see
tests/catalog/images.py): every Debian package must name the layer that installed it, as the
dpkg status of each build step says, although the status file itself was rewritten by the last
step; the same from an OCI layout and from a docker-archive (one layer id: the diff_id)."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from tests.catalog.images import AptLayersImage, apt_layers_image
from tests.conftest import run_cli

pytestmark = [pytest.mark.toolchain, pytest.mark.slow]


@pytest.fixture(scope="module")
def apt_image() -> AptLayersImage:
    if shutil.which("mmdebstrap") is None:
        pytest.fail("mmdebstrap is missing: run `make system-deps` (devtools/system-deps.sh)")
    return apt_layers_image()


def _sbom(ref: str, fmt: str = "json") -> Any:
    proc = run_cli("sbom", ref, "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def oci_doc(apt_image: AptLayersImage) -> dict[str, Any]:
    return _sbom(apt_image.oci_ref)  # type: ignore[no-any-return]


def _debs(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{p['name']}:{p['arch']}": p for p in doc["packages"] if p["ecosystem"] == "Debian"}


def test_every_debian_package_names_the_layer_that_installed_it(apt_image: AptLayersImage,
                                                                oci_doc: dict[str, Any]) -> None:
    debs = _debs(oci_doc)
    truth = apt_image.installed_in
    assert set(debs) == set(truth)
    per_layer = [sum(1 for i in truth.values() if i == n) for n in range(len(apt_image.diff_ids))]
    assert all(count > 0 for count in per_layer), per_layer  # each step installed packages
    wrong = {key: (p["locations"][0].get("layer"), apt_image.diff_ids[truth[key]])
             for key, p in debs.items() if p["locations"][0].get("layer") != apt_image.diff_ids[truth[key]]}
    assert not wrong, f"{len(wrong)} of {len(debs)} in the wrong layer: {sorted(wrong)[:10]}"
    # the status file's own layer (what every package got before) is right only for the last step
    status_layer = apt_image.diff_ids[-1]
    before = sum(1 for key in debs if apt_image.diff_ids[truth[key]] != status_layer)
    assert before == per_layer[0] + per_layer[1] and before > len(debs) // 2
    curl = debs["curl:amd64"]
    assert curl["locations"][0]["path"] == "/var/lib/dpkg/status"
    assert curl["locations"][0]["layer_created_by"].startswith("RUN /bin/sh -c apt-get install -y "
                                                               "--no-install-recommends curl")
    assert curl["metadata"]["layer_evidence"] == "/var/lib/dpkg/info/curl.list"
    layers = oci_doc["target"]["metadata"]["layers"]
    assert [entry["diff_id"] for entry in layers] == apt_image.diff_ids


def test_same_layers_from_a_docker_archive(apt_image: AptLayersImage, oci_doc: dict[str, Any]) -> None:
    docker = _sbom(apt_image.docker_ref)

    def where(doc: dict[str, Any]) -> set[tuple[str, str]]:
        return {(p["purl"], json.dumps(p["locations"], sort_keys=True)) for p in doc["packages"]}

    assert where(docker) == where(oci_doc)


def test_nothing_twice_and_cpes_for_every_package(oci_doc: dict[str, Any]) -> None:
    """nginx-light's /usr/sbin/nginx belongs to the deb: no binary package beside it. Every
    package has a CPE (vendor and product from the NVD dictionary where its name is not)."""
    assert not [p for p in oci_doc["packages"] if p["ecosystem"] == "Binary"]
    without = [p["name"] for p in oci_doc["packages"] if not p.get("cpes")]
    assert not without
    debs = _debs(oci_doc)
    curl = debs["curl:amd64"]
    upstream = curl["version"].split(":")[-1].rsplit("-", 1)[0]
    assert curl["cpes"][0] == f"cpe:2.3:a:haxx:curl:{upstream}:*:*:*:*:*:*:*"
    assert debs["libssl3:amd64"]["cpes"][0].startswith("cpe:2.3:a:openssl:openssl:3.0.")
    assert debs["nginx:amd64"]["cpes"][0].startswith("cpe:2.3:a:f5:nginx:1.22.1:")
    assert debs["libc6:amd64"]["cpes"][0].startswith("cpe:2.3:a:gnu:glibc:2.36:")


def test_dependencies_and_licenses(apt_image: AptLayersImage, oci_doc: dict[str, Any]) -> None:
    """dpkg's Depends (alternatives and virtual packages resolved to what is installed) in JSON,
    CycloneDX `dependencies` and SPDX DEPENDS_ON; DEP-5 licenses as SPDX ids."""
    debs = _debs(oci_doc)
    by_purl = {p["purl"]: p["name"] for p in oci_doc["packages"]}
    assert {by_purl[d] for d in debs["curl:amd64"]["dependencies"]} >= {"libc6", "libcurl4", "zlib1g"}
    assert "nginx" in {by_purl[d] for d in debs["nginx-light:all"]["dependencies"]}
    assert "nginx-common" in {by_purl[d] for d in debs["nginx:amd64"]["dependencies"]}
    assert "GPL-2.0-or-later" in debs["bash:amd64"]["licenses"] or "GPL-3.0-or-later" in debs["bash:amd64"][
        "licenses"]
    assert "Apache-2.0" in debs["libssl3:amd64"]["licenses"]
    bom = _sbom(apt_image.oci_ref, "cyclonedx-json")
    refs = {c["bom-ref"]: c for c in bom["components"]}
    depends = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    curl_ref = next(r for r, c in refs.items() if c["name"] == "curl")
    assert {refs[r]["name"] for r in depends[curl_ref]} >= {"libc6", "libcurl4", "zlib1g"}
    assert refs[curl_ref]["cpe"].startswith("cpe:2.3:a:haxx:curl:")
    spdx = _sbom(apt_image.oci_ref, "spdx-json")
    names = {p["SPDXID"]: p["name"] for p in spdx["packages"]}
    curl_deps = {names[r["relatedSpdxElement"]] for r in spdx["relationships"]
                 if r["relationshipType"] == "DEPENDS_ON" and names.get(r["spdxElementId"]) == "curl"}
    assert curl_deps >= {"libc6", "libcurl4", "zlib1g"}
    curl_pkg = next(p for p in spdx["packages"] if p["name"] == "curl")
    assert {"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
            "referenceLocator": debs["curl:amd64"]["cpes"][0]} in curl_pkg["externalRefs"]
    from tests.sbom.test_formats import _spdx_validate

    _spdx_validate(spdx)
