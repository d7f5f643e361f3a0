"""OSV: a per-ecosystem `all.zip` (as published at osv-vulnerabilities.storage.googleapis.com)
or a directory of OSV JSON files, whatever ecosystems they hold (PyPI, Go, npm, Maven,
crates.io, RubyGems, Debian:*, Ubuntu:*, Alpine:*, Red Hat:*, Rocky Linux:*, AlmaLinux:*,
SUSE:*, openSUSE:*, Wolfi, Chainguard ...). Schema: https://ossf.github.io/osv-schema/

Distribution records name their CVEs in `upstream` (Ubuntu, Debian, Red Hat, SUSE) or, without
aliases, in `related` (Rocky, Alma): kept as `Advisory.related` (seawall.vulndb.merge folds
bundles into per-CVE findings). A USN names its CVEs and their CVSS vectors per package in
`database_specific.cves_map`; those are read too. A record without affected packages but with a
severity (a GHSA record of another ecosystem, a severity-only export) is kept for its severity.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seawall.bounded import read_capped as read_bounded
from seawall.core.errors import InputError
from seawall.vulndb.base import Advisory, Affected, FeedLimits, Range
from seawall.vulndb.importers.common import iter_dir_json, iter_zip_json, parse_json
from seawall.vulndb.names import OS_ECOSYSTEMS, canonical_ecosystem, normalize_name
from seawall.vulndb.severity import from_cvss

_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
_CVSS_ORDER = {"CVSS_V4": 0, "CVSS_V3": 1, "CVSS_V2": 2}
# "Moderate: ruby:3.3 security update" (RHSA, RLSA, ALSA summaries carry Red Hat's impact)
_IMPACT = re.compile(r"^(Critical|Important|Moderate|Low):\s")
_RATING_TYPES = ("Ubuntu", "Debian")  # OSV `severity` entries that are a distribution's word


def _summary(doc: dict[str, Any]) -> str | None:
    text = doc.get("summary") or doc.get("details") or ""
    if not isinstance(text, str):
        return None
    line = text.strip().split("\n\n", 1)[0].replace("\n", " ").strip()
    return line[:300] or None


def _cvss(entries: Any) -> str | None:
    if not isinstance(entries, list):
        return None
    found: list[tuple[int, str]] = []
    for e in entries:
        if isinstance(e, dict) and isinstance(e.get("score"), str) and e.get("type") in _CVSS_ORDER:
            found.append((_CVSS_ORDER[e["type"]], e["score"]))
    return min(found)[1] if found else None


def _rating(*sections: Any) -> str | None:
    for section in sections:
        if isinstance(section, dict):
            value = section.get("severity") or section.get("urgency")
            if isinstance(value, str) and value.strip():
                return value.strip().lower()
    return None


def _word(entries: Any) -> str | None:
    """A distribution's own rating in OSV `severity` (`{"type": "Ubuntu", "score": "medium"}`)."""
    if isinstance(entries, list):
        for e in entries:
            if isinstance(e, dict) and e.get("type") in _RATING_TYPES and isinstance(e.get("score"), str):
                return str(e["score"]).strip().lower() or None
    return None


def _cves_map(section: Any, ids: list[str], vectors: list[str]) -> None:
    cves_map = section.get("cves_map") if isinstance(section, dict) else None
    for cve in cves_map.get("cves") or [] if isinstance(cves_map, dict) else []:
        if isinstance(cve, dict) and isinstance(cve.get("id"), str):
            if cve["id"] not in ids:
                ids.append(cve["id"])
            if (vector := _cvss(cve.get("severity"))) is not None:
                vectors.append(vector)


def _highest(vectors: list[str]) -> str | None:
    scored = [(parsed[1], v) for v in vectors if (parsed := from_cvss(v)) is not None]
    return max(scored)[1] if scored else None


def _ids(value: Any, own: str) -> list[str]:
    if not isinstance(value, list):
        return []
    return [a for a in value if isinstance(a, str) and a and a != own]


def parse_advisory(doc: Any, what: str) -> Advisory | None:
    """One OSV document -> Advisory (None when withdrawn or affecting nothing)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise InputError(f"{what}: not an OSV record (no 'id')")
    if doc.get("withdrawn"):
        return None
    affected_in = doc.get("affected") or []
    if not isinstance(affected_in, list):
        raise InputError(f"{what}: 'affected' is not a list")
    affected: list[Affected] = []
    mapped: list[str] = []  # Ubuntu's database_specific.cves_map: CVE ids ...
    mapped_cvss: list[str] = []  # ... and their vectors
    for entry in affected_in:
        if not isinstance(entry, dict):
            continue
        pkg = entry.get("package") or {}
        eco, name = pkg.get("ecosystem"), pkg.get("name")
        if not isinstance(eco, str) or not isinstance(name, str) or not eco or not name:
            continue
        eco = canonical_ecosystem(eco)
        ranges: list[Range] = []
        for rng in entry.get("ranges") or []:
            if not isinstance(rng, dict) or not isinstance(rng.get("type"), str):
                continue
            events: list[tuple[str, str]] = []
            for ev in rng.get("events") or []:
                if not isinstance(ev, dict):
                    continue
                for kind in _EVENT_KINDS:
                    value = ev.get(kind)
                    if isinstance(value, str):
                        events.append((kind, value))
            if events:
                ranges.append(Range(rng["type"], events))
        versions = [v for v in entry.get("versions") or [] if isinstance(v, str)]
        if not ranges and not versions:
            continue
        affected.append(Affected(eco, normalize_name(eco, name), ranges, versions,
                                 _rating(entry.get("ecosystem_specific"), entry.get("database_specific"))
                                 or None))
        if entry.get("severity") and not doc.get("severity"):
            doc = {**doc, "severity": entry["severity"]}
        _cves_map(entry.get("database_specific"), mapped, mapped_cvss)
    cvss = _cvss(doc.get("severity")) or _highest(mapped_cvss)
    summary = _summary(doc)
    rating = _rating(doc.get("database_specific")) or _word(doc.get("severity"))
    if rating is None and summary and (m := _IMPACT.match(summary)):
        rating = m.group(1).lower()
    if not affected and cvss is None and rating is None:
        return None
    own = doc["id"]
    aliases = _ids(doc.get("aliases"), own)
    # `related` means "not the same vulnerability" in OSV; distributions without `upstream`
    # (Rocky, Alma) use it for the CVEs an advisory fixes, so only theirs are read
    os_record = any(a.ecosystem.split(":", 1)[0] in OS_ECOSYSTEMS for a in affected)
    related = _ids(doc.get("upstream"), own) or (
        _ids(doc.get("related"), own) if os_record and not aliases else [])
    if not any(r.startswith("CVE-") for r in related):
        related += [c for c in mapped if c not in related and c != own]
    refs = [r["url"] for r in doc.get("references") or []
            if isinstance(r, dict) and isinstance(r.get("url"), str)][:8]
    return Advisory(
        id=own, affected=affected, aliases=aliases, summary=summary, severity=rating, cvss_vector=cvss,
        published=doc.get("published") if isinstance(doc.get("published"), str) else None,
        modified=doc.get("modified") if isinstance(doc.get("modified"), str) else None,
        references=refs, related=related)


class OsvImporter:
    kind = "osv"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return any(path.rglob("*.json"))
        if head[:4] == b"PK\x03\x04":
            return True
        text = head.lstrip()
        return text.startswith(b"{") and b'"id"' in text and (
            b'"affected"' in text or b'"modified"' in text or b'"schema_version"' in text
            or b'"aliases"' in text or b'"details"' in text)

    def feed_name(self, path: Path) -> str:
        """`osv:<Ecosystem>` from the first record (the base ecosystem, `Debian:12` -> Debian)."""
        for _, doc in self._iter(path, FeedLimits(), peek=True):
            if isinstance(doc, dict):
                for entry in doc.get("affected") or []:
                    eco = (entry.get("package") or {}).get("ecosystem") if isinstance(entry, dict) else None
                    if isinstance(eco, str) and eco:
                        return "osv:" + canonical_ecosystem(eco).split(":", 1)[0]
        return f"osv:{path.stem}"

    def _iter(self, path: Path, limits: FeedLimits, peek: bool = False) -> Iterator[tuple[str, Any]]:
        if path.is_dir():
            yield from iter_dir_json(path, limits)
        elif zipfile.is_zipfile(path):
            yield from iter_zip_json(path, limits)
        else:
            with path.open("rb") as fh:
                data = read_bounded(fh, limits.max_member_bytes, str(path))
            doc = parse_json(data, str(path))
            for i, item in enumerate(doc if isinstance(doc, list) else [doc]):
                yield f"{path.name}[{i}]", item

    def read(self, path: Path, limits: FeedLimits) -> Iterator[Advisory]:
        seen = 0
        for name, doc in self._iter(path, limits):
            seen += 1
            advisory = parse_advisory(doc, f"{path}:{name}")
            if advisory is not None:
                yield advisory
        if not seen:
            raise InputError(f"{path}: no OSV JSON records in it")
