"""Semantic Versioning 2.0.0 precedence (npm, crates.io, and the base of Go module versions).

Build metadata (`+...`) is ignored; a version with a pre-release sorts before the release;
pre-release identifiers compare numerically when numeric, lexically (ASCII) otherwise, numeric
before alphanumeric, and a longer list wins when all shared identifiers are equal.
npm tolerates a leading `v`/`=` and surrounding spaces, as node-semver does in loose mode.
"""

from __future__ import annotations

import re
from functools import lru_cache

from seawall.vulndb.versions.base import MAX_VERSION_LEN

_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)

SemverKey = tuple[int, int, int, tuple[object, ...]]


def _pre_key(pre: str | None) -> tuple[object, ...]:
    if pre is None:
        return (1,)  # no pre-release: after every pre-release
    parts: list[object] = [0]
    for ident in pre.split("."):
        parts.append((0, int(ident)) if ident.isdigit() else (1, ident))
    return tuple(parts)


def semver_key(version: str, *, loose: bool = False) -> SemverKey | None:
    text = version.strip()
    if len(text) > MAX_VERSION_LEN:
        return None
    if loose:
        text = text.lstrip("=v").strip()
    m = _SEMVER.match(text)
    if m is None:
        return None
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), _pre_key(m.group(4)))


class SemverScheme:
    """Strict SemVer 2.0.0 (crates.io, generic SEMVER ranges)."""

    name = "semver"

    @staticmethod
    @lru_cache(maxsize=65536)
    def key(version: str) -> SemverKey | None:
        return semver_key(version)


class NpmScheme:
    """node-semver: SemVer with a tolerated leading `v` / `=`."""

    name = "npm"

    @staticmethod
    @lru_cache(maxsize=65536)
    def key(version: str) -> SemverKey | None:
        return semver_key(version, loose=True)
