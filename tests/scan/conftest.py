"""Fixtures for the scan tests: the real demo image and an advisory DB of the shipped data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from devtools.demo_image import DemoImage, build_demo
from tests.conftest import run_cli

# the fake AWS key pair planted in the demo image (AWS's documented example)
FAKE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture(scope="session")
def demo() -> DemoImage:
    for tool in ("mmdebstrap", "go"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run `make system-deps` (devtools/system-deps.sh)")
    # `pip install --root STAGE --prefix /usr/local` of the demo's old releases would otherwise
    # uninstall the same packages (PyYAML, requests, urllib3 ...) from the running venv
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PIP_IGNORE_INSTALLED", "1")
        return build_demo()


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The advisory data shipped with seawall (real OSV PyPI + Go snapshots), imported once."""
    from seawall import vulndb

    path = tmp_path_factory.mktemp("vulndb") / "vulndb.sqlite"
    vulndb.import_paths(vulndb.shipped_feed_paths(), path)
    return path


def scan(
    ref: str, db: Path, *extra: str, env: dict[str, str] | None = None, expect: int | None = 0
) -> tuple[Any, str, int]:
    """`seawall scan image REF --format json` as a user runs it; returns (doc, stderr, exit code)."""
    proc = run_cli("scan", "image", ref, "--db", str(db), "--format", "json", *extra, env=env)
    if expect is not None:
        assert proc.returncode == expect, proc.stderr[-3000:]
    return (json.loads(proc.stdout) if proc.stdout.strip() else None), proc.stderr, proc.returncode


@pytest.fixture(scope="session")
def demo_scan(demo: DemoImage, demo_db: Path) -> dict[str, Any]:
    doc, _, _ = scan(demo.oci_ref, demo_db)
    return doc
