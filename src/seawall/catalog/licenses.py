"""License names as packages declare them, mapped to SPDX license ids.

Debian's DEP-5 copyright files say `GPL-2+`, `Expat`, `BSD-3-clause`, `GPL-2+ or Artistic`;
Alpine and RPM `GPLv2+`, `ASL 2.0`; Maven poms `The Apache Software License, Version 2.0` or a
URL. `normalize_license` gives the SPDX id or expression (`GPL-2.0-or-later`, `MIT`,
`GPL-2.0-or-later OR Artistic-1.0-Perl`) and keeps a name it cannot map unchanged (formats
write it as a `LicenseRef-`). The table is data: licenses.yaml beside this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from importlib import resources

import yaml
from cyclonedx import spdx as spdx_ids

# GPL-2, GPL-2+, GPL-2.0, GPL-2.0+, GPLv2+, GPL-2.0-only, LGPL-2.1+, AGPL-3, GFDL-1.3+ ...
_GNU = re.compile(r"^(?P<family>A?GPL|LGPL|GFDL)[\s\-]?v?(?P<major>\d)(?:\.(?P<minor>\d))?"
                  r"(?P<plus>\+|-or-later|\s+or\s+later)?(?:-only)?$", re.IGNORECASE)
_OPERATORS = re.compile(r"\s+(or|and)\s+", re.IGNORECASE)
_MAX = 200


@cache
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    text = resources.files("seawall.catalog").joinpath("licenses.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    names = {str(k).strip().lower(): str(v) for k, v in (doc.get("names") or {}).items()}
    urls = {str(k).strip().lower(): str(v) for k, v in (doc.get("urls") or {}).items()}
    return names, urls


def _gnu(text: str) -> str | None:
    m = _GNU.match(text)
    if not m:
        return None
    family = m.group("family").upper()
    minor = m.group("minor") or "0"
    version = f"{m.group('major')}.{minor}"
    if family == "LGPL" and m.group("major") == "2" and not m.group("minor"):
        version = "2.0"
    suffix = "-or-later" if m.group("plus") else "-only"
    candidate = f"{family}-{version}{suffix}"
    return candidate if spdx_ids.fixup_id(candidate) else None


def _one(text: str) -> str | None:
    """One license name -> an SPDX id, or None."""
    key = text.strip().strip("()").strip()
    if not key:
        return None
    gnu = _gnu(key)
    if gnu:
        return gnu
    names, urls = _tables()
    mapped = names.get(key.lower())
    if mapped:
        return mapped
    if key.lower().startswith(("http://", "https://")):
        bare = key.lower().split("://", 1)[1].rstrip("/")
        return urls.get(bare) or urls.get(bare.removeprefix("www."))
    fixed = spdx_ids.fixup_id(key)
    if fixed and not fixed.endswith("+"):  # GPL-2.0+ style ids are deprecated: handled above
        return fixed
    return None


def normalize_license(text: str) -> str:
    """The SPDX id or expression for one declared license, or the text unchanged."""
    text = text.strip()
    if not text or len(text) > _MAX:
        return text
    one = _one(text)
    if one:
        return one
    parts = _OPERATORS.split(text)
    if len(parts) >= 3:  # a DEP-5 expression: 'GPL-2+ or Artistic', 'MIT and BSD-3-clause'
        out = []
        for i, part in enumerate(parts):
            if i % 2:
                out.append(part.upper())
                continue
            mapped = _one(part)
            if mapped is None:
                return text
            out.append(f"({mapped})" if " " in mapped else mapped)
        return " ".join(out)
    return text


def normalize_licenses(texts: Iterable[str]) -> list[str]:
    """Each declared license mapped (see `normalize_license`), in order, once each."""
    out: list[str] = []
    for text in texts:
        mapped = normalize_license(text)
        if mapped and mapped not in out:
            out.append(mapped)
    return out
