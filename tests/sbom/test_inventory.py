"""The inventory glue: one pass, deduplicated and sorted packages, per-layer progress."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools.imagebuild import Image, Layer
from seawall.core import Location, Package
from seawall.image import SourceOptions, open_image
from seawall.scan.inventory import LayerProgress, dedupe, inventory

METADATA = b"Metadata-Version: 2.1\nName: %s\nVersion: %s\n\n"


def _image(tmp_path: Path) -> Path:
    img = Image(work=tmp_path / "work")
    site = "usr/lib/python3/dist-packages"
    img.add(Layer.files("ADD base", {
        "etc/os-release": b'ID=debian\nVERSION_ID="12"\n',
        f"{site}/idna-2.10.dist-info/METADATA": METADATA % (b"idna", b"2.10"),
        f"{site}/six-1.15.0.dist-info/METADATA": METADATA % (b"six", b"1.15.0")}))
    img.add(Layer.files("RUN pip install Requests==2.25.0", {
        f"{site}/requests-2.25.0.dist-info/METADATA": METADATA % (b"Requests", b"2.25.0"),
        f"opt/venv/{site}/idna-2.10.dist-info/METADATA": METADATA % (b"idna", b"2.10")}))
    img.add(Layer.files("RUN pip uninstall six", {}, whiteouts=(f"{site}/six-1.15.0.dist-info",)))
    img.write_oci(tmp_path / "oci", "t")
    return tmp_path / "oci"


def test_inventory_one_pass(tmp_path: Path) -> None:
    oci = _image(tmp_path)
    seen: list[int | None] = []
    opts = SourceOptions()
    with open_image(f"oci:{oci}:t", opts) as src:
        layers = src.layers()
        inv = inventory(src, opts.limits, extra_visitors=[
            LayerProgress(lambda layer: seen.append(layer.index if layer else None))])
    assert inv.os is not None and inv.os.id == "debian"
    assert [(p.name, p.version) for p in inv.packages] == [("idna", "2.10"), ("requests", "2.25.0")]
    idna = inv.packages[0]
    # two copies of the same release: one package, both locations (sorted by path)
    assert [loc.path for loc in idna.locations] == [
        "/opt/venv/usr/lib/python3/dist-packages/idna-2.10.dist-info/METADATA",
        "/usr/lib/python3/dist-packages/idna-2.10.dist-info/METADATA"]
    assert inv.packages[1].layer == layers[1].diff_id
    assert inv.config.history and inv.files.get("/etc/os-release") is not None
    # the pass goes top layer first, each layer once (the top layer holds only whiteouts and
    # directories, which are no visitor's business, so it may not be announced)
    assert seen in ([2, 1, 0], [1, 0])


def test_dedupe_is_stable_and_merges() -> None:
    a = Package("B", "1", "PyPI", "pkg:pypi/b@1", [Location(path="/z")])
    b = Package("a", "2", "npm", "pkg:npm/a@2", [Location(path="/y")])
    c = Package("B", "1", "PyPI", "pkg:pypi/b@1", [Location(path="/a"), Location(path="/z")],
                licenses=["MIT"], source_name="b-src")
    out = dedupe([a, b, c])
    assert [(p.ecosystem, p.name) for p in out] == [("npm", "a"), ("PyPI", "B")]
    assert [loc.path for loc in out[1].locations] == ["/a", "/z"]
    assert out[1].licenses == ["MIT"] and out[1].source_name == "b-src"
    assert dedupe([c, b, a])[1].locations == out[1].locations


@pytest.mark.skipif(sys.platform != "linux", reason="needs a pty")
def test_progress_only_on_a_terminal(tmp_path: Path) -> None:
    oci = _image(tmp_path)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "seawall", "sbom", f"oci:{oci}:t", "-f", "json"],
                            stdout=subprocess.PIPE, stderr=slave, env={**os.environ, "COLUMNS": "100"})
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    chunks = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.returncode == 0
    assert b"reading layers" in b"".join(chunks)  # the bar went to the terminal on stderr
    assert [p["name"] for p in json.loads(out)["packages"]] == ["idna", "requests"]  # stdout stays clean
