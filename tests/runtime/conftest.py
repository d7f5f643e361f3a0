"""Fixtures for the runtime tests: Podman running the demo image, an advisory DB, test inputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.podman import Podman, podman_unavailable, running_podman
from tests.conftest import CACHE

DEMO_TAG = "localhost/demo:1"


@pytest.fixture(scope="session")
def podman(demo) -> Iterator[Podman]:  # type: ignore[no-untyped-def]
    """Podman (own storage root, API socket) with the demo image loaded."""
    reason = podman_unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with running_podman() as pm:
        pm.run("load", "-q", "-i", str(demo.docker_archive), timeout=600)
        yield pm


@pytest.fixture(scope="session")
def runtime_inputs() -> dict[str, Path]:
    """A real .deb (Debian's `hello`) and an old wheel with known advisories (PyJWT 1.5.0), cached."""
    area = CACHE / "runtime"
    area.mkdir(parents=True, exist_ok=True)
    debs = sorted(area.glob("hello_*.deb"))
    if not debs:
        subprocess.run(
            ["apt-get", "download", "hello"], cwd=area, capture_output=True, check=True, timeout=300
        )
        debs = sorted(area.glob("hello_*.deb"))
    wheel = area / "PyJWT-1.5.0-py2.py3-none-any.whl"
    if not wheel.is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "PyJWT==1.5.0",
                "-d",
                str(area),
                "-q",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return {"deb": debs[-1], "wheel": wheel}


@pytest.fixture(scope="session")
def vulndb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from seawall import vulndb as vdb

    path = tmp_path_factory.mktemp("vulndb") / "vulndb.sqlite"
    vdb.import_paths(vdb.shipped_feed_paths(), path)
    return path


@pytest.fixture(scope="session")
def demo():  # type: ignore[no-untyped-def]
    from devtools.demo_image import build_demo

    for tool in ("mmdebstrap", "go"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `make system-deps` (devtools/system-deps.sh)")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_IGNORE_INSTALLED", "1")
        return build_demo()
