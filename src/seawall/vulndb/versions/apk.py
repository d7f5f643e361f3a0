"""Alpine apk versions: `digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}`.

A re-implementation of apk-tools' version comparison (src/version.c): tokens are compared in
order; suffixes `_alpha` < `_beta` < `_pre` < `_rc` < (none) < `_cvs` < `_svn` < `_git` <
`_hg` < `_p`; digits after the first compare as strings when either has a leading zero;
when one version runs out first it is older, unless the other continues with a pre-release
suffix.
"""

from __future__ import annotations

import re
from functools import cmp_to_key, lru_cache
from typing import Any

from seawall.vulndb.versions.base import MAX_VERSION_LEN

(TOKEN_INITIAL_DIGIT, TOKEN_DIGIT, TOKEN_LETTER, TOKEN_SUFFIX, TOKEN_SUFFIX_NO,
 TOKEN_COMMIT_HASH, TOKEN_REVISION_NO, TOKEN_END, TOKEN_INVALID) = range(9)

_SUFFIXES = {"alpha": 0, "beta": 1, "pre": 2, "rc": 3, "cvs": 5, "svn": 6, "git": 7, "hg": 8, "p": 9}
SUFFIX_NONE = 4

_DIGITS = re.compile(r"\d+")
_LETTERS = re.compile(r"[a-z]*")
_HEX = re.compile(r"[0-9a-fA-F]*")

Token = tuple[int, int, str]  # (token type, number or suffix rank, text)


def tokenize(version: str) -> list[Token]:
    """The token list; the last token is TOKEN_END or TOKEN_INVALID."""
    out: list[Token] = []
    m = _DIGITS.match(version, 0)
    if m is None:
        return [(TOKEN_INVALID, 0, "")]
    out.append((TOKEN_INITIAL_DIGIT, int(m.group()), m.group()))
    pos, prev, n = m.end(), TOKEN_INITIAL_DIGIT, len(version)
    while True:
        if pos >= n:
            out.append((TOKEN_END, 0, ""))
            return out
        ch = version[pos]
        tok: Token
        if "a" <= ch <= "z":
            if prev > TOKEN_DIGIT:
                break
            tok = (TOKEN_LETTER, ord(ch), ch)
            pos += 1
        elif ch == "." or ch.isdigit():
            if ch == ".":
                if prev > TOKEN_DIGIT:
                    break
                pos += 1
            if prev in (TOKEN_INITIAL_DIGIT, TOKEN_DIGIT):
                kind = TOKEN_DIGIT
            elif prev == TOKEN_SUFFIX:
                kind = TOKEN_SUFFIX_NO
            else:
                break
            m = _DIGITS.match(version, pos)
            if m is None:
                break
            tok = (kind, int(m.group()), m.group())
            pos = m.end()
        elif ch == "_":
            if prev > TOKEN_SUFFIX_NO:
                break
            m = _LETTERS.match(version, pos + 1)
            name = m.group() if m else ""
            if name not in _SUFFIXES:
                break
            tok = (TOKEN_SUFFIX, _SUFFIXES[name], name)
            pos = pos + 1 + len(name)
        elif ch == "~":
            if prev >= TOKEN_COMMIT_HASH:
                break
            m = _HEX.match(version, pos + 1)
            if m is None or not m.group():
                break
            tok = (TOKEN_COMMIT_HASH, 0, m.group())
            pos = m.end()
        elif ch == "-":
            if prev >= TOKEN_REVISION_NO or not version.startswith("-r", pos):
                break
            m = _DIGITS.match(version, pos + 2)
            if m is None:
                break
            tok = (TOKEN_REVISION_NO, int(m.group()), m.group())
            pos = m.end()
        else:
            break
        out.append(tok)
        prev = tok[0]
    out.append((TOKEN_INVALID, 0, ""))
    return out


def _token_cmp(a: Token, b: Token) -> int:
    kind = a[0]
    if kind == TOKEN_DIGIT and (a[2].startswith("0") or b[2].startswith("0")):
        return (a[2] > b[2]) - (a[2] < b[2])
    if kind in (TOKEN_INITIAL_DIGIT, TOKEN_DIGIT, TOKEN_SUFFIX_NO, TOKEN_REVISION_NO,
                TOKEN_LETTER, TOKEN_SUFFIX):
        return (a[1] > b[1]) - (a[1] < b[1])
    return (a[2] > b[2]) - (a[2] < b[2])


def apk_compare_tokens(ta: list[Token], tb: list[Token]) -> int:
    i = 0
    while True:
        a, b = ta[i], tb[i]
        if a[0] != b[0] or a[0] >= TOKEN_END:
            break
        r = _token_cmp(a, b)
        if r:
            return r
        i += 1
    if a[0] == b[0]:
        return 0
    if a[0] == TOKEN_SUFFIX and a[1] < SUFFIX_NONE:
        return -1
    if b[0] == TOKEN_SUFFIX and b[1] < SUFFIX_NONE:
        return 1
    if a[0] > b[0]:
        return -1
    return 1


def apk_compare(a: str, b: str) -> int:
    return apk_compare_tokens(tokenize(a), tokenize(b))


def apk_valid(version: str) -> bool:
    return tokenize(version)[-1][0] == TOKEN_END


_KEY = cmp_to_key(apk_compare_tokens)


class ApkScheme:
    name = "apk"

    @staticmethod
    @lru_cache(maxsize=65536)
    def key(version: str) -> Any | None:
        if len(version) > MAX_VERSION_LEN:
            return None
        tokens = tokenize(version.strip())
        if tokens[-1][0] != TOKEN_END:
            return None
        return _KEY(tokens)
