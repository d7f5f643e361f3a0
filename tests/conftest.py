"""Shared test fixtures: the repo root, the shared data folder, a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SEAWALL_SHARED", REPO.parent / "shared"))
CACHE = REPO / ".cache"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared data folder not found at {SHARED} (set SEAWALL_SHARED)")
    return SHARED


def run_cli(*args: str, env: dict[str, str] | None = None, input: bytes | None = None,
            timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run `python -m seawall ARGS` as a user would, capturing text output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "seawall", *args], capture_output=True,
                          text=True, env=full_env, input=input.decode() if input else None,
                          timeout=timeout, check=False)


@pytest.fixture()
def cli():
    return run_cli


# Tests that build images from Debian/PyPI packages or a Go toolchain, or that start a registry
# or other server processes, are marked so that `make test-fast` can leave them out: by their
# fixtures here (one place), or explicitly with @pytest.mark.slow / toolchain / network.
TOOLCHAIN_FIXTURES = {"demo", "demo_oci_sbom", "demo_rootfs", "demo_scan", "demo_db", "cat_cache",
                      "dep_parser_testdata"}
NETWORK_FIXTURES = {"registry"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & TOOLCHAIN_FIXTURES:
            item.add_marker(pytest.mark.toolchain)
        if names & NETWORK_FIXTURES:
            item.add_marker(pytest.mark.network)
