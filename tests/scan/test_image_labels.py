"""`seawall scan image` carries the image's labels (OCI config `Labels`) in the report's
`target.metadata.labels`: kept as the config has them, a value over 1 KiB cut with a mark saying
how long it was, at most 100 labels (the rest a warning), and a secret in a label (an AWS key, a
label whose name says password) never printed in full. The image is a real OCI layout written by
devtools.imagebuild with a real package (the venv's own idna METADATA)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.imagebuild import Image, Layer
from seawall.scan.labels import MAX_LABELS
from tests.conftest import run_cli
from tests.scan.test_history_redaction import AWS_KEY_ID, AWS_SECRET, _metadata

TITLE = "<img src=x onerror=alert(1)>\x1b[31m"
LONG = "A" * 5 * 1024
PASSWORD = "Zq8vR2mT7wLp4Kx9"


def _image(root: Path, labels: dict[str, str]) -> str:
    img = Image(work=root / "work")
    img.add(Layer.files("/bin/sh -c #(nop) ADD file:0123abcd in / ",
                        {"etc/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'}))
    meta = _metadata()
    version = next(line.split(b":", 1)[1].strip().decode() for line in meta.splitlines()
                   if line.startswith(b"Version:"))
    img.add(Layer.files("/bin/sh -c pip install idna", {
        f"usr/local/lib/python3.11/site-packages/idna-{version}.dist-info/METADATA": meta}))
    img.labels = labels
    oci = root / "oci"
    img.write_oci(oci, "1")
    return f"oci:{oci}:1"


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _image(tmp_path_factory.mktemp("labelled"), {
        "org.opencontainers.image.title": TITLE,
        "org.opencontainers.image.version": "1.4.2",
        "org.example.description": LONG,
        "org.example.deploy": f"aws configure set aws_access_key_id {AWS_KEY_ID} "
                              f"aws_secret_access_key={AWS_SECRET}",
        "db_password": PASSWORD,
        f"org.example.{AWS_KEY_ID}": "a key id as a label's name",
    })


def _scan(ref: str, fmt: str = "json") -> Any:
    proc = run_cli("scan", "image", ref, "--offline", "--scanners", "secret,config", "--format", fmt)
    assert proc.returncode in (0, 1), proc.stderr
    return proc


def test_the_report_carries_the_labels(labelled: str) -> None:
    proc = _scan(labelled)
    labels = json.loads(proc.stdout)["target"]["metadata"]["labels"]
    assert set(labels) == {"org.opencontainers.image.title", "org.opencontainers.image.version",
                           "org.example.description", "org.example.deploy", "db_password",
                           "org.example.AKIA****"}
    assert labels["org.opencontainers.image.title"] == TITLE  # intact in JSON; escaped by who shows it
    assert labels["org.opencontainers.image.version"] == "1.4.2"
    # 5 KiB: the first KiB and a mark with the full length
    assert labels["org.example.description"] == "A" * 1024 + "…[cut: 5120 bytes]"


def test_a_secret_in_a_label_is_redacted(labelled: str) -> None:
    outputs = {fmt: _scan(labelled, fmt).stdout for fmt in ("json", "table", "sarif")}
    for fmt, out in outputs.items():
        for secret in (AWS_KEY_ID, AWS_SECRET, PASSWORD):
            assert secret not in out, f"{fmt}: secret {secret[:4]}... printed in full"
    labels = json.loads(outputs["json"])["target"]["metadata"]["labels"]
    deploy = labels["org.example.deploy"]
    assert deploy.startswith("aws configure set aws_access_key_id AKIA****") and "q8Tz****" in deploy
    assert labels["db_password"].endswith("****") and len(labels["db_password"]) < len(PASSWORD)


def test_at_most_100_labels(tmp_path: Path) -> None:
    ref = _image(tmp_path, {f"l{n:03d}": str(n) for n in range(130)})
    proc = _scan(ref)
    doc = json.loads(proc.stdout)
    labels = doc["target"]["metadata"]["labels"]
    assert len(labels) == MAX_LABELS and labels["l099"] == "99" and "l100" not in labels
    assert any("130 labels, the first 100 kept" in w for w in doc["warnings"]), doc["warnings"]
