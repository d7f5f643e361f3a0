"""Fixtures for the vulnerability database tests: a database built from the shipped real data."""

from __future__ import annotations

from pathlib import Path

import pytest

from seawall.vulndb import import_paths, shipped_feed_paths

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def shipped_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The advisories seawall ships (PyPI + Go OSV zips, Alpine secdb), imported once."""
    db = tmp_path_factory.mktemp("vulndb") / "vulndb.sqlite"
    import_paths(shipped_feed_paths(), db)
    return db
