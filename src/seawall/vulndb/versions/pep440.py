"""PEP 440 (PyPI), by `packaging` — the reference implementation pip uses."""

from __future__ import annotations

from functools import lru_cache

from packaging.version import InvalidVersion, Version

from seawall.vulndb.versions.base import MAX_VERSION_LEN


class Pep440Scheme:
    name = "pep440"

    @staticmethod
    @lru_cache(maxsize=65536)
    def key(version: str) -> Version | None:
        if len(version) > MAX_VERSION_LEN:
            return None
        try:
            return Version(version)
        except (InvalidVersion, TypeError, ValueError):
            return None
