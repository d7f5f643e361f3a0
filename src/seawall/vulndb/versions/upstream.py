"""Upstream release versions, as NVD writes them in CPE match criteria and as binaries report them.

NVD compares versions of every product with one loose rule set; this scheme reads the forms that
occur for the software seawall finds without a package database (runtimes, servers, libraries):
  - dotted numbers, missing trailing parts equal to zero: `7.0` = `7.0.0` < `7.0.15` < `7.881`;
  - OpenSSL's letter releases, after the plain release: `1.1.1` < `1.1.1w` < `1.1.1x`, and
    `1.0.2z` < `1.0.2za` < `1.0.2zj`;
  - pre-releases before the release: `dev` < `alpha`/`a` < `beta`/`b` < `rc`/`c`/`pre`/`preview`
    (`3.0.0-alpha1`, `8.0.0-rc1`, `3.12.0rc1`, `2.0-beta9`, `2.6.0-rc1`);
  - patch releases after it: `9.8p7`, `9.3-p2`, `1.0.post1`;
  - a leading `v` and build metadata (`17.0.8+7`) are ignored.
A single letter with no number after the digits (`1.1.1a`) is an OpenSSL letter, not an alpha.
Anything else (`r22`, NGINX Plus releases; `1.2.3-4`, a distribution revision) is not a version
here: it never matches.
"""

from __future__ import annotations

import re
from functools import lru_cache

from seawall.vulndb.versions.base import MAX_VERSION_LEN

_VERSION = re.compile(
    r"^(?P<rel>\d+(?:\.\d+)*)"
    r"(?P<letters>[a-z]{1,2}(?![a-z0-9]))?"
    r"(?:[-._~]?(?P<pre>alpha|beta|preview|pre|rc|dev|a|b|c)[-._]?(?P<prenum>\d+(?:\.\d+)*)?)?"
    r"(?:[-._]?(?P<post>patch|post|pl|p)[-._]?(?P<postnum>\d+))?$")
_PRE_RANK = {"dev": 0, "alpha": 1, "a": 1, "beta": 2, "b": 2, "c": 3, "rc": 3, "pre": 3, "preview": 3}
_KEYWORD_LETTERS = {"rc": "rc", "pre": "pre", "dev": "dev"}  # `2.6.0rc`: a pre-release, not letters

UpstreamKey = tuple[tuple[int, ...], str, int, int, tuple[int, ...], int]


def upstream_key(version: str) -> UpstreamKey | None:
    text = version.strip().lower()
    if not text or len(text) > MAX_VERSION_LEN:
        return None
    text = text.split("+", 1)[0]
    if text[:1] == "v":
        text = text[1:]
    m = _VERSION.match(text)
    if m is None:
        return None
    parts = [int(p) for p in m.group("rel").split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    letters = m.group("letters") or ""
    pre = m.group("pre")
    if letters in _KEYWORD_LETTERS and pre is None:
        letters, pre = "", _KEYWORD_LETTERS[letters]
    if pre is not None:
        prenum = tuple(int(p) for p in m.group("prenum").split(".")) if m.group("prenum") else ()
        phase, rank = 0, _PRE_RANK[pre]
    else:
        prenum, phase, rank = (), 1, 0
    post = int(m.group("postnum")) if m.group("post") else -1
    return (tuple(parts), letters, phase, rank, prenum, post)


class UpstreamScheme:
    name = "upstream"

    @staticmethod
    @lru_cache(maxsize=65536)
    def key(version: str) -> UpstreamKey | None:
        return upstream_key(version)
