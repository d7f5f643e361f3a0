"""Maven versions, ordered as Maven's ComparableVersion (maven-artifact, 3.x).

The version is split on `.`, `-` and digit/letter transitions into nested lists of integer
and string items; `-` (and a digit/letter transition) opens a sub-list. Trailing "null" items
(0, "", "final", "ga", "release") are dropped. Qualifiers order:
alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp, and unknown
qualifiers after those, lexically. `a1`/`b1`/`m1` are alpha-1/beta-1/milestone-1.
"""

from __future__ import annotations

from functools import cmp_to_key, lru_cache
from typing import Any

from seawall.vulndb.versions.base import MAX_VERSION_LEN

_QUALIFIERS = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"]
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_RELEASE_INDEX = str(_QUALIFIERS.index(""))


class _Str:
    __slots__ = ("value",)

    def __init__(self, value: str, followed_by_digit: bool) -> None:
        if followed_by_digit and len(value) == 1:
            value = {"a": "alpha", "b": "beta", "m": "milestone"}.get(value, value)
        self.value = _ALIASES.get(value, value)

    def comparable(self) -> str:
        try:
            return str(_QUALIFIERS.index(self.value))
        except ValueError:
            return f"{len(_QUALIFIERS)}-{self.value}"

    def is_null(self) -> bool:
        return self.value == ""


class _List(list["Item"]):
    def is_null(self) -> bool:
        return len(self) == 0

    def normalize(self) -> None:
        for i in range(len(self) - 1, -1, -1):
            item = self[i]
            if _is_null(item):
                del self[i]
            elif not isinstance(item, _List):
                break


Item = int | _Str | _List


def _is_null(item: Item) -> bool:
    if isinstance(item, int):
        return item == 0
    return item.is_null()


def _cmp(a: Item | None, b: Item | None) -> int:
    """a.compareTo(b) of ComparableVersion's items; a is never None."""
    if isinstance(a, int):
        if b is None:
            return 0 if a == 0 else 1
        if isinstance(b, int):
            return (a > b) - (a < b)
        return 1  # 1.1 > 1-sp, 1.1 > 1-1
    if isinstance(a, _Str):
        if b is None:
            ca, cb = a.comparable(), _RELEASE_INDEX
        elif isinstance(b, int | _List):
            return -1
        else:
            ca, cb = a.comparable(), b.comparable()
        return (ca > cb) - (ca < cb)
    assert isinstance(a, _List)
    if b is None:
        if not a:
            return 0
        return _cmp(a[0], None)
    if isinstance(b, int):
        return -1
    if isinstance(b, _Str):
        return 1
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else None
        right = b[i] if i < len(b) else None
        r = (0 if right is None else -_cmp(right, None)) if left is None else _cmp(left, right)
        if r:
            return r
    return 0


def _parse_item(text: str, is_digit: bool) -> Item:
    if is_digit:
        return int(text)
    return _Str(text, False)


def parse(version: str) -> _List:
    version = version.lower()
    items = _List()
    current = items
    stack = [current]
    is_digit = False
    start = 0
    for i, ch in enumerate(version):
        if ch == ".":
            current.append(0 if i == start else _parse_item(version[start:i], is_digit))
            start = i + 1
        elif ch == "-":
            current.append(0 if i == start else _parse_item(version[start:i], is_digit))
            start = i + 1
            sub = _List()
            current.append(sub)
            current = sub
            stack.append(current)
        elif ch.isdigit():
            if not is_digit and i > start:
                current.append(_Str(version[start:i], True))
                start = i
                sub = _List()
                current.append(sub)
                current = sub
                stack.append(current)
            is_digit = True
        else:
            if is_digit and i > start:
                current.append(_parse_item(version[start:i], True))
                start = i
                sub = _List()
                current.append(sub)
                current = sub
                stack.append(current)
            is_digit = False
    if len(version) > start:
        current.append(_parse_item(version[start:], is_digit))
    while stack:
        stack.pop().normalize()
    return items


_KEY = cmp_to_key(_cmp)


class MavenScheme:
    name = "maven"

    @staticmethod
    @lru_cache(maxsize=65536)
    def key(version: str) -> Any | None:
        if len(version) > MAX_VERSION_LEN:
            return None
        text = version.strip()
        if not text or any(c.isspace() for c in text):
            return None
        return _KEY(parse(text))
