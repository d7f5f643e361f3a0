"""The one interface every version scheme implements.

A scheme turns a version string into a sortable key (or None when the string is not a valid
version in that scheme). Keys of one scheme compare with each other with the usual operators;
keys of different schemes are never compared.
"""

from __future__ import annotations

from functools import cmp_to_key
from typing import Any, Protocol

MAX_VERSION_LEN = 256  # longer strings are not versions: never parsed, counted as invalid


class VersionScheme(Protocol):
    """`key(version)` -> a sortable value, or None when the version is invalid in this scheme."""

    name: str

    def key(self, version: str) -> Any | None: ...


def compare(scheme: VersionScheme, a: str, b: str) -> int:
    """-1, 0 or 1; raises ValueError when either version is invalid (tests and tools use this)."""
    ka, kb = scheme.key(a), scheme.key(b)
    if ka is None or kb is None:
        raise ValueError(f"invalid {scheme.name} version: {a if ka is None else b!r}")
    return (ka > kb) - (ka < kb)


def key_from_cmp(cmp: Any) -> Any:
    """cmp_to_key, typed loosely: for schemes defined by a comparison function."""
    return cmp_to_key(cmp)
