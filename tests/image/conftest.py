"""Fixtures for the image tests: a real registry (TLS + htpasswd), an isolated HOME/TMPDIR."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.registry import Registry, available, running_registry


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """A real distribution registry on 127.0.0.1 with a self-signed cert and bcrypt htpasswd."""
    reason = available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with running_registry() as reg:
        yield reg


@pytest.fixture()
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """HOME and TMPDIR inside tmp_path (so "nothing written outside" can be checked); returns the sandbox."""
    sandbox = tmp_path / "sandbox"
    home, tmp = sandbox / "home", sandbox / "tmp"
    home.mkdir(parents=True)
    tmp.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.delenv("SEAWALL_REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("SEAWALL_REGISTRY_PASSWORD", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    yield sandbox
    tempfile.tempdir = None
