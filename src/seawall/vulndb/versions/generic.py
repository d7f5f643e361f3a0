"""Fallback for ecosystems without a scheme of their own: rpm-style segment comparison
(numbers numerically, letters lexically, separators ignored) — the same fallback OSV's
reference tooling uses for unknown ecosystems."""

from __future__ import annotations

from functools import cmp_to_key, lru_cache
from typing import Any

from seawall.vulndb.versions.base import MAX_VERSION_LEN
from seawall.vulndb.versions.rpm import rpmvercmp

_KEY = cmp_to_key(rpmvercmp)


class GenericScheme:
    name = "generic"

    @staticmethod
    @lru_cache(maxsize=65536)
    def key(version: str) -> Any | None:
        if len(version) > MAX_VERSION_LEN:
            return None
        text = version.strip()
        if not text or not any(c.isalnum() for c in text):
            return None
        return _KEY(text)
