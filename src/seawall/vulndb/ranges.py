"""OSV range evaluation: several introduced/fixed pairs, last_affected, limit, listed versions.

Ranges are stored compactly (seawall.vulndb.store): `[[type, [[code, version], ...]], ...]` with
codes i(ntroduced), f(ixed), l(ast_affected), m (limit). ECOSYSTEM ranges use the ecosystem's
version scheme, SEMVER ranges SemVer (or the ecosystem's own when it is SemVer-like); GIT ranges
only count through the record's `versions` list.
"""

from __future__ import annotations

from typing import Any

import orjson

from seawall.vulndb.names import canonical_version
from seawall.vulndb.versions import SCHEMES, VersionScheme, scheme_for

Prepared = tuple[list[tuple[str, str, Any]], list[Any]]


def range_scheme(rtype: str, eco_scheme: VersionScheme) -> VersionScheme | None:
    if rtype == "ECOSYSTEM":
        return eco_scheme
    if rtype == "SEMVER":
        return eco_scheme if eco_scheme.name in ("go", "npm", "semver") else SCHEMES["semver"]
    return None  # GIT and unknown types: only their `versions` list counts


def _event_order(e: tuple[str, str, Any]) -> tuple[bool, Any]:
    return (True, e[2]) if e[2] is not None else (False, 0)


def prepare_range(events: list[list[str]], scheme: VersionScheme) -> Prepared:
    """Parse and sort a range's events once: ([(code, version, key)], limit keys)."""
    parsed: list[tuple[str, str, Any]] = []
    limits: list[Any] = []
    for code, ver in events:
        if code == "i" and ver == "0":
            parsed.append((code, ver, None))
            continue
        key = scheme.key(ver)
        if key is None:
            continue  # an event we cannot read is not evidence either way
        if code == "m":
            limits.append(key)
        else:
            parsed.append((code, ver, key))
    if len(parsed) > 1:
        parsed.sort(key=_event_order)
    return parsed, limits


def walk_range(prepared: Prepared, vkey: Any, detail: bool = True) -> tuple[bool, str | None, str]:
    """OSV's evaluation over sorted events: (affected?, nearest fix above, short range text)."""
    parsed, limits = prepared
    vulnerable = False
    lower = "0"
    for code, ver, key in parsed:
        if code == "i":
            if key is None or vkey >= key:
                vulnerable = True
                lower = ver
        elif code == "f":
            if vkey >= key:
                vulnerable = False
        elif code == "l" and vkey > key:
            vulnerable = False
    if vulnerable and limits and all(vkey >= lim for lim in limits):
        vulnerable = False
    if not vulnerable or not detail:
        return vulnerable, None, ""
    upper = next(((code, ver) for code, ver, key in parsed
                  if key is not None and ((code == "f" and key > vkey) or (code == "l" and key >= vkey))),
                 None)
    text = f">={lower}" if lower != "0" else ""
    if upper is not None:
        text += (", " if text else "") + (f"<{upper[1]}" if upper[0] == "f" else f"<={upper[1]}")
    return True, upper[1] if upper and upper[0] == "f" else None, text or "all versions"


def evaluate_range(events: list[list[str]], scheme: VersionScheme, version: str
                   ) -> tuple[bool, str | None, str]:
    """(affected?, the nearest fix above the version, a short range text) per OSV's algorithm."""
    vkey = scheme.key(version)
    if vkey is None:
        return False, None, ""
    return walk_range(prepare_range(events, scheme), vkey)


def uncovered_versions(ranges: list[list[Any]], ecosystem: str, versions: list[str]) -> list[str]:
    """The listed versions that the ECOSYSTEM/SEMVER ranges do not already cover."""
    eco_scheme = scheme_for(ecosystem)
    prepared: list[tuple[VersionScheme, Prepared]] = []
    for rtype, events in ranges:
        scheme = range_scheme(rtype, eco_scheme)
        if scheme is not None:
            prepared.append((scheme, prepare_range(events, scheme)))
    if not prepared:
        return versions
    out: list[str] = []
    for version in versions:
        covered = False
        for scheme, prep in prepared:
            vkey = scheme.key(version)
            if vkey is not None and walk_range(prep, vkey, detail=False)[0]:
                covered = True
                break
        if not covered:
            out.append(version)
    return out


def evaluate_row(data: bytes, listed_blob: bytes | None, ecosystem: str, version: str
                 ) -> tuple[bool, list[str], str | None, str]:
    """(affected?, every fixed version of the row, nearest fix, evidence text)."""
    eco_scheme = scheme_for(ecosystem)
    fixed_all: list[str] = []
    hit = False
    next_fix: str | None = None
    evidence = ""
    for rtype, events in orjson.loads(data):
        scheme = range_scheme(rtype, eco_scheme)
        if scheme is None:
            continue
        fixed_all.extend(v for code, v in events if code == "f")
        if not hit:
            ok, fix, text = evaluate_range(events, scheme, version)
            if ok:
                hit, next_fix, evidence = True, fix, text
    if not hit and listed_blob and canonical_version(ecosystem, version) in orjson.loads(listed_blob):
        hit, evidence = True, "listed as an affected version"
        key = eco_scheme.key(version)
        above = [(k, v) for v in fixed_all if key is not None and (k := eco_scheme.key(v)) is not None
                 and k > key]
        if above:
            next_fix = min(above, key=lambda kv: kv[0])[1]
    return hit, fixed_all, next_fix, evidence
