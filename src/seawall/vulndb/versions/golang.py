"""Go module versions and Go toolchain versions.

Module versions are SemVer with a mandatory `v` prefix (`v1.2.3`, `v2.0.0+incompatible`,
pseudo-versions such as `v0.0.0-20210226172049-e18ecbb05110`, which are ordinary SemVer
pre-releases and so sort correctly). OSV's Go ranges drop the `v` (`1.2.3`), and the standard
library (`stdlib`, `toolchain`) uses Go release names: `go1.19.8`, `go1.20`, `go1.21rc2`,
`go1.19beta1`, which map to `1.19.8`, `1.20.0`, `1.21.0-rc.2`, `1.19.0-beta.1` — the mapping the
Go vulnerability database itself uses.
"""

from __future__ import annotations

import re
from functools import lru_cache

from seawall.vulndb.versions.base import MAX_VERSION_LEN
from seawall.vulndb.versions.semver import SemverKey, semver_key

_GO_RELEASE = re.compile(r"^(?:go)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(rc|beta|alpha)(\d+))?$")


def go_toolchain_to_semver(version: str) -> str | None:
    """`go1.19.8` -> `1.19.8`; `go1.21rc2` -> `1.21.0-rc.2`; None when not a Go release name."""
    if len(version) > MAX_VERSION_LEN:
        return None
    m = _GO_RELEASE.match(version.strip())
    if m is None:
        return None
    major, minor, patch, pre, pre_n = m.groups()
    text = f"{int(major)}.{int(minor or 0)}.{int(patch or 0)}"
    if pre:
        text += f"-{pre}.{int(pre_n)}"
    return text


def go_key(version: str) -> SemverKey | None:
    text = version.strip()
    if text.startswith("go"):
        converted = go_toolchain_to_semver(text)
        return semver_key(converted) if converted else None
    if text.startswith("v"):
        text = text[1:]
    key = semver_key(text)  # +incompatible is build metadata: ignored, as Go does
    if key is not None:
        return key
    # Go release names without "go" (`1.20`, `1.21rc2`) as some tools report them
    converted = go_toolchain_to_semver(text)
    return semver_key(converted) if converted else None


class GoScheme:
    name = "go"

    @staticmethod
    @lru_cache(maxsize=65536)
    def key(version: str) -> SemverKey | None:
        return go_key(version)
