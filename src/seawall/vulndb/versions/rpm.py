"""RPM versions: `[epoch:]version[-release]` compared with rpmvercmp (rpm's lib/rpmvercmp.c).

rpmvercmp walks both strings in segments: separators (anything but letters, digits, `~`, `^`)
are skipped; `~` sorts before anything, even the end; `^` sorts after the end but before
anything else; a numeric segment is newer than an alphabetic one; numbers compare numerically
(leading zeros ignored), letters by strcmp.
"""

from __future__ import annotations

import re
from functools import cmp_to_key, lru_cache
from typing import Any

from seawall.vulndb.versions.base import MAX_VERSION_LEN

_SEGMENT = re.compile(r"[A-Za-z]+|[0-9]+")


def _isalnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def rpmvercmp(a: str, b: str) -> int:
    if a == b:
        return 0
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        while i < la and not _isalnum(a[i]) and a[i] not in "~^":
            i += 1
        while j < lb and not _isalnum(b[j]) and b[j] not in "~^":
            j += 1
        # tilde: older than anything, even the end
        if (i < la and a[i] == "~") or (j < lb and b[j] == "~"):
            if not (i < la and a[i] == "~"):
                return 1
            if not (j < lb and b[j] == "~"):
                return -1
            i += 1
            j += 1
            continue
        # caret: newer than the end, older than any other segment
        if (i < la and a[i] == "^") or (j < lb and b[j] == "^"):
            if i >= la:
                return -1
            if j >= lb:
                return 1
            if a[i] != "^":
                return 1
            if b[j] != "^":
                return -1
            i += 1
            j += 1
            continue
        if not (i < la and j < lb):
            break
        ma = _SEGMENT.match(a, i)
        mb = _SEGMENT.match(b, j)
        if ma is None or mb is None:  # pragma: no cover - separators were skipped above
            break
        sa, sb = ma.group(), mb.group()
        a_num, b_num = sa[0].isdigit(), sb[0].isdigit()
        # segments of different kinds: numeric is newer
        if a_num != b_num:
            return 1 if a_num else -1
        if a_num:
            na, nb = int(sa), int(sb)
            if na != nb:
                return 1 if na > nb else -1
        elif sa != sb:
            return 1 if sa > sb else -1
        i, j = ma.end(), mb.end()
    if i >= la and j >= lb:
        return 0
    # whichever has segments left is newer
    return -1 if i >= la else 1


def split_evr(evr: str) -> tuple[int, str, str] | None:
    text = evr.strip()
    if not text:
        return None
    epoch = 0
    if ":" in text:
        epoch_text, text = text.split(":", 1)
        if epoch_text == "":
            epoch = 0
        elif not epoch_text.isdigit():
            return None
        else:
            epoch = int(epoch_text)
    version, _, release = text.rpartition("-") if "-" in text else (text, "", "")
    if not version:
        return None
    return epoch, version, release


def evr_cmp(a: tuple[int, str, str], b: tuple[int, str, str]) -> int:
    if a[0] != b[0]:
        return 1 if a[0] > b[0] else -1
    r = rpmvercmp(a[1], b[1])
    if r:
        return r
    # a missing release matches any release (rpm's behaviour for dependency ranges)
    if not a[2] or not b[2]:
        return 0
    return rpmvercmp(a[2], b[2])


_EVR_KEY = cmp_to_key(evr_cmp)


class RpmScheme:
    name = "rpm"

    @staticmethod
    @lru_cache(maxsize=65536)
    def key(version: str) -> Any | None:
        if len(version) > MAX_VERSION_LEN:
            return None
        evr = split_evr(version)
        return None if evr is None else _EVR_KEY(evr)
