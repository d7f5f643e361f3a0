"""A secret added in one layer and deleted (whiteout, opaque dir) or overwritten in a later one is
still in the image for anyone who pulls it: `seawall scan` reports it with the layer that holds
it. The SBOM stays the final view: a package removed by a whiteout is not listed.

Images are real OCI layouts written by devtools.imagebuild; the package is the venv's own idna
METADATA."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import idna
import pytest

from devtools.imagebuild import Image, Layer
from tests.conftest import run_cli

KEY_ID = "AKIAZ7Q3RT5WLKM2XN4P"
SECRET = "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"
ENV_FILE = f"# deploy credentials\nAWS_ACCESS_KEY_ID={KEY_ID}\nAWS_SECRET_ACCESS_KEY={SECRET}\n".encode()
OS_RELEASE = b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


def _metadata() -> tuple[str, bytes]:
    found = sorted(Path(idna.__file__).parent.parent.glob("idna-*.dist-info/METADATA"))
    assert found
    return found[0].parent.name, found[0].read_bytes()


def _build(root: Path, delete: Layer) -> dict[str, Any]:
    dist, meta = _metadata()
    img = Image(work=root / "work")
    base = img.add(Layer.files("/bin/sh -c #(nop) ADD file:0123abcd in / ", {"etc/os-release": OS_RELEASE}))
    add = img.add(Layer.files("COPY . /app # buildkit", {
        "app/.env": ENV_FILE, "app/main.py": b"print('hi')\n",
        f"app/lib/{dist}/METADATA": meta}))
    rm = img.add(delete)
    img.step('CMD ["python3", "/app/main.py"]')
    img.write_oci(root / "oci", "1")
    return {"ref": f"oci:{root / 'oci'}:1", "base": base.diff_id, "add": add.diff_id, "rm": rm.diff_id}


@pytest.fixture(scope="module")
def whiteout_image(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _build(tmp_path_factory.mktemp("wh"), Layer.files(
        "RUN /bin/sh -c rm -rf /app/.env /app/lib # buildkit", {"app/main.py": b"print('hi')\n"},
        whiteouts=("app/.env", "app/lib")))


@pytest.fixture(scope="module")
def opaque_image(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _build(tmp_path_factory.mktemp("opq"), Layer.files(
        "RUN /bin/sh -c rm -rf /app/* && echo ok > /app/main.py # buildkit", {"app/main.py": b"ok\n"},
        opaque=("app",)))


def _scan(ref: str, *extra: str) -> dict[str, Any]:
    proc = run_cli("scan", "image", ref, "--scanners", "secret,config", "--format", "json", *extra)
    assert proc.returncode == 0, proc.stderr
    assert KEY_ID not in proc.stdout + proc.stderr and SECRET not in proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def _secrets(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["kind"] == "secret"]


@pytest.mark.parametrize("image", ["whiteout_image", "opaque_image"])
def test_secret_in_a_deleted_file_is_found_in_the_layer_that_holds_it(
        image: str, request: pytest.FixtureRequest) -> None:
    img = request.getfixturevalue(image)
    found = _secrets(_scan(img["ref"]))
    assert [(f["rule"], f["severity"], f["location"]["path"], f["location"]["line"], f["location"]["layer"])
            for f in found] == [("aws-access-key", "critical", "/app/.env", 2, img["add"])]
    f = found[0]
    assert f["title"].startswith("Deleted in a later layer, still in the image: AWS access key")
    assert f["evidence"].startswith("AKIA**** + q8Tz****")
    assert f["evidence"].endswith(f"; still in layer {img['add']}, deleted by layer {img['rm']}")
    assert f["extra"]["hidden"] == "deleted" and f["extra"]["hidden_by_layer"] == img["rm"]
    assert f["location"]["layer_created_by"] == "COPY . /app # buildkit"


@pytest.mark.parametrize("fmt", ["table", "sarif", "ocsf", "jsonl"])
def test_deleted_secret_is_redacted_in_every_format(whiteout_image: dict[str, Any], fmt: str) -> None:
    proc = run_cli("scan", "image", whiteout_image["ref"], "--scanners", "secret", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert KEY_ID not in out and SECRET not in out
    assert "AKIA****" in out


@pytest.mark.parametrize("image", ["whiteout_image", "opaque_image"])
def test_catalogers_see_only_the_final_files(image: str, request: pytest.FixtureRequest) -> None:
    img = request.getfixturevalue(image)
    proc = run_cli("sbom", img["ref"], "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [p["name"] for p in doc.get("packages", [])] == []  # idna was deleted with /app/lib


def test_package_kept_when_not_deleted(tmp_path: Path) -> None:
    """The control: without the deleting layer's whiteout the package and the secret are final."""
    img = _build(tmp_path, Layer.files("RUN /bin/sh -c true # buildkit", {"tmp/x": b"x"}))
    doc = json.loads(run_cli("sbom", img["ref"], "--format", "json").stdout)
    assert [p["name"] for p in doc["packages"]] == ["idna"]
    found = _secrets(_scan(img["ref"]))
    assert [(f["rule"], f["location"]["layer"]) for f in found] == [("aws-access-key", img["add"])]
    assert "hidden" not in found[0].get("extra", {}) and "later layer" not in found[0]["title"]


def test_overwritten_copy_is_one_finding_naming_both_layers(tmp_path: Path) -> None:
    img = _build(tmp_path, Layer.files("RUN /bin/sh -c chmod 600 /app/.env # buildkit",
                                       {"app/.env": ENV_FILE}))
    found = _secrets(_scan(img["ref"]))
    assert len(found) == 1, found
    f = found[0]
    assert f["location"]["layer"] == img["rm"] and "hidden" not in f["extra"]  # the final copy
    assert f["extra"]["also_in_layers"] == [img["add"]]


def test_a_different_secret_in_an_overwritten_copy_is_reported(tmp_path: Path) -> None:
    rotated = ENV_FILE.replace(SECRET.encode(), b"Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8Nn7M")
    img = _build(tmp_path, Layer.files("RUN /bin/sh -c rotate-keys # buildkit", {"app/.env": rotated}))
    found = sorted(_secrets(_scan(img["ref"])), key=lambda f: f["location"]["layer"] == img["add"])
    assert [(f["location"]["layer"], f.get("extra", {}).get("hidden")) for f in found] == [
        (img["rm"], None), (img["add"], "replaced")]
    assert found[1]["title"].startswith("Replaced in a later layer, still in the image: ")
