"""Debian package versions (Debian Policy 5.6.12): `[epoch:]upstream[-revision]`.

Comparison, per part: the leading non-digit run is compared character by character where
`~` sorts before everything (even the end of the part), then the end, then letters, then all
non-letters; then the leading digit run is compared numerically (empty = 0); repeat.
The key built here realises that order as nested tuples.
"""

from __future__ import annotations

import re
from functools import lru_cache

from seawall.vulndb.versions.base import MAX_VERSION_LEN

_VALID_UPSTREAM = re.compile(r"^[0-9A-Za-z.+~:-]*$")
_VALID_REVISION = re.compile(r"^[0-9A-Za-z.+~]*$")
_SPLIT = re.compile(r"(\d+)")


def _char_weight(ch: str) -> int:
    if ch == "~":
        return -1
    if ch.isalpha():
        return ord(ch)
    return ord(ch) + 256


def _part_key(text: str) -> tuple[object, ...]:
    out: list[object] = []
    pieces = _SPLIT.split(text)  # alternates non-digit, digit, non-digit, ...
    for i in range(0, len(pieces), 2):
        nondigit = pieces[i]
        digits = pieces[i + 1] if i + 1 < len(pieces) else ""
        if i and not nondigit and not digits:
            continue  # the empty tail after a final digit run
        out.append((*(_char_weight(c) for c in nondigit), 0))
        out.append(int(digits) if digits else 0)
    out.append((0,))
    return tuple(out)


DpkgKey = tuple[int, tuple[object, ...], tuple[object, ...]]


def dpkg_key(version: str) -> DpkgKey | None:
    text = version.strip()
    if not text or len(text) > MAX_VERSION_LEN:
        return None
    epoch = 0
    if ":" in text:
        epoch_text, text = text.split(":", 1)
        if not epoch_text.isdigit():
            return None
        epoch = int(epoch_text)
    upstream, revision = (text.rsplit("-", 1) if "-" in text else (text, ""))
    # dpkg only warns when upstream does not start with a digit, and still compares
    if not upstream or not _VALID_UPSTREAM.match(upstream) or not _VALID_REVISION.match(revision):
        return None
    return (epoch, _part_key(upstream), _part_key(revision))


class DpkgScheme:
    name = "dpkg"

    @staticmethod
    @lru_cache(maxsize=65536)
    def key(version: str) -> DpkgKey | None:
        return dpkg_key(version)
