"""Fixtures for the SBOM tests: the demo image (real mmdebstrap base, cached under .cache/demo)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from devtools.demo_image import DemoImage, build_demo
from tests.conftest import run_cli


@pytest.fixture(scope="session")
def demo() -> DemoImage:
    for tool in ("mmdebstrap", "go", "skopeo", "umoci"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `make system-deps` (devtools/system-deps.sh)")
    return build_demo()


def sbom_json(ref: str, *extra: str) -> dict[str, Any]:
    """Run `seawall sbom REF --format json` as a user would and parse its output."""
    proc = run_cli("sbom", ref, "--format", "json", *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def packages_by_key(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(p["ecosystem"], p["name"]): p for p in doc["packages"]}


def layers_of(pkg: dict[str, Any]) -> set[str]:
    return {loc.get("layer") for loc in pkg.get("locations", [])}


@pytest.fixture(scope="session")
def demo_oci_sbom(demo: DemoImage) -> dict[str, Any]:
    return sbom_json(demo.oci_ref)


@pytest.fixture(scope="session")
def demo_rootfs(demo: DemoImage, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo image unpacked by umoci (a real OCI tool) into a root filesystem."""
    import subprocess

    bundle = tmp_path_factory.mktemp("bundle") / "b"
    subprocess.run(["umoci", "unpack", "--rootless", "--image", f"{demo.oci_dir}:{demo.tag}", str(bundle)],
                   check=True, capture_output=True)
    return bundle / "rootfs"
