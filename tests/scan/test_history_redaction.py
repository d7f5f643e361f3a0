"""Secrets in a layer's history line (build arguments, RUN commands) never reach any output.

The history line is shown as the layer's `created_by` (SBOM `target.metadata.layers`) and in
every package and finding location (`layer_created_by`: json, table, CycloneDX properties, SPDX
comments, SARIF messages ...). The image is a real OCI layout written by devtools.imagebuild,
with a real package (the venv's own idna METADATA) in the layer whose RUN line holds the
secrets, so every package location carries that line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import idna
import pytest

from devtools.imagebuild import Image, Layer
from tests.conftest import run_cli

GITHUB_TOKEN = "ghp_" + "R8kq2Zt7Vw4Lm9Xc3Bn6Hs1Jd5Fg0Pa2Qy7E"  # ghp_ + 36 characters
AWS_KEY_ID = "AKIAZ7Q3RT5WLKM2XN4P"
AWS_SECRET = "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"
ODD_KEY_ID = "AKIA0189ZQ3RT5WLKM18"  # digits 0, 1, 8, 9: outside AWS's base32, still a key id
SECRETS = (GITHUB_TOKEN, AWS_KEY_ID, AWS_SECRET, ODD_KEY_ID)
RUN_LINE = (f"|3 GITHUB_TOKEN={GITHUB_TOKEN} AWS_ACCESS_KEY_ID={AWS_KEY_ID} "
            f"AWS_SECRET_ACCESS_KEY={AWS_SECRET} /bin/sh -c pip install idna "
            f"&& aws configure set aws_secret_access_key {AWS_SECRET} "
            f"&& aws configure set aws_access_key_id {ODD_KEY_ID} # buildkit")


def _metadata() -> bytes:
    dist = Path(idna.__file__).parent.parent
    found = sorted(dist.glob("idna-*.dist-info/METADATA"))
    assert found, f"no idna dist-info under {dist}"
    return found[0].read_bytes()


@pytest.fixture(scope="module")
def leaky_image(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("leaky")
    img = Image(work=root / "work")
    img.add(Layer.files("/bin/sh -c #(nop) ADD file:0123abcd in / ",
                        {"etc/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'}))
    meta = _metadata()
    version = next(line.split(b":", 1)[1].strip().decode() for line in meta.splitlines()
                   if line.startswith(b"Version:"))
    run = img.add(Layer.files(RUN_LINE, {
        f"usr/local/lib/python3.11/site-packages/idna-{version}.dist-info/METADATA": meta}))
    img.step('CMD ["python3"]')
    oci = root / "oci"
    img.write_oci(oci, "1")
    return {"ref": f"oci:{oci}:1", "run_layer": run.diff_id}


def _clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"secret {secret[:4]}... printed in full"


@pytest.mark.parametrize("fmt", ["json", "table", "cyclonedx-json", "spdx-json"])
def test_sbom_never_prints_history_secrets(leaky_image: dict[str, Any], fmt: str) -> None:
    proc = run_cli("sbom", leaky_image["ref"], "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    _clean(proc.stdout + proc.stderr)
    assert "idna" in proc.stdout  # the package is there, with its (redacted) layer line


def test_sbom_json_shows_the_redacted_history(leaky_image: dict[str, Any]) -> None:
    proc = run_cli("sbom", leaky_image["ref"], "--format", "json")
    doc = json.loads(proc.stdout)
    layers = doc["target"]["metadata"]["layers"]
    run = next(layer for layer in layers if layer["diff_id"] == leaky_image["run_layer"])
    shown = run["created_by"]
    assert shown.startswith("|3 GITHUB_TOKEN=ghp_****") and "pip install idna" in shown
    assert "AKIA****" in shown and "q8Tz****" in shown
    pkg = next(p for p in doc["packages"] if p["name"] == "idna")
    loc = pkg["locations"][0]
    assert loc["layer"] == leaky_image["run_layer"]
    assert loc["layer_created_by"] == shown


def test_sbom_cyclonedx_carries_the_redacted_line(leaky_image: dict[str, Any]) -> None:
    cdx = run_cli("sbom", leaky_image["ref"], "--format", "cyclonedx-json").stdout
    props = [p["value"] for c in json.loads(cdx)["components"] for p in c.get("properties", [])
             if p["name"].endswith("layer_created_by")]
    assert props and all("ghp_****" in v for v in props)
    spdx = run_cli("sbom", leaky_image["ref"], "--format", "spdx-json").stdout
    assert leaky_image["run_layer"] in spdx  # SPDX comments name the layer (not its history line)


@pytest.mark.parametrize("fmt", ["json", "jsonl", "table", "sarif", "cyclonedx-json", "ocsf"])
def test_scan_never_prints_history_secrets(leaky_image: dict[str, Any], demo_db: Path, fmt: str) -> None:
    proc = run_cli("scan", "image", leaky_image["ref"], "--db", str(demo_db), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    _clean(proc.stdout + proc.stderr)
    if fmt == "json":
        doc = json.loads(proc.stdout)
        rules = {f["rule"] for f in doc["findings"] if f["kind"] == "secret"}
        assert "github-pat" in rules  # found, and shown redacted
        pkg = next(p for p in doc["packages"] if p["name"] == "idna")
        assert "ghp_****" in pkg["locations"][0]["layer_created_by"]
