"""Debian security tracker JSON (https://security-tracker.debian.org/tracker/data/json).

`{source_package: {CVE-ID: {"description": ..., "scope": ..., "releases": {codename:
{"status": "resolved"|"open"|"undetermined", "fixed_version": ..., "urgency": ...,
"repositories": {codename: version}}}}}}`. Keyed on the SOURCE package; matched on the
package's source name/version and the image's Debian release (ecosystem `Debian:12`).
`resolved` with fixed_version "0" = never affected; `open` = affected, no fix yet;
`undetermined` is skipped (no verdict yet: reporting it would be a guess).
The document is ~100 MB: it is streamed one source package at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from seawall.core.errors import InputError
from seawall.vulndb.base import ECOSYSTEM, Advisory, Affected, FeedLimits, Range
from seawall.vulndb.distros import CODENAMES
from seawall.vulndb.importers.common import iter_json_object_items, open_text_stream


class DebianTrackerImporter:
    kind = "debian-tracker"

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.is_file() and b'"releases"' in head and (b'"status"' in head or b'"urgency"' in head) \
            and head.lstrip()[:1] == b"{"

    def feed_name(self, path: Path) -> str:
        return "debian-tracker"

    def read(self, path: Path, limits: FeedLimits) -> Iterator[Advisory]:
        with open_text_stream(path, limits) as stream:
            for source, cves in iter_json_object_items(stream, str(path), limits):
                if not isinstance(cves, dict):
                    raise InputError(f"{path}: {source!r}: expected an object of CVE entries")
                name = source.strip().lower()
                for vid, entry in cves.items():
                    if not isinstance(entry, dict):
                        continue
                    releases = entry.get("releases")
                    if not isinstance(releases, dict):
                        continue
                    affected: list[Affected] = []
                    for codename, rel in releases.items():
                        if not isinstance(rel, dict):
                            continue
                        status = rel.get("status")
                        fixed = rel.get("fixed_version")
                        if status == "resolved" and isinstance(fixed, str) and fixed and fixed != "0":
                            events = [("introduced", "0"), ("fixed", fixed)]
                        elif status == "open":
                            events = [("introduced", "0")]
                        else:
                            continue
                        urgency = rel.get("urgency")
                        ecosystem = f"Debian:{CODENAMES.get(codename, codename)}"
                        affected.append(Affected(ecosystem, name, [Range(ECOSYSTEM, events)],
                                                 severity=_urgency(urgency)))
                    if affected:
                        desc = entry.get("description")
                        yield Advisory(id=vid, affected=affected,
                                       summary=desc[:300] if isinstance(desc, str) else None,
                                       references=[f"https://security-tracker.debian.org/tracker/{vid}"])


def _urgency(value: object) -> str | None:
    """Debian urgencies: unimportant, low, medium, high (a trailing `*` marks a guess)."""
    if not isinstance(value, str):
        return None
    text = value.strip().rstrip("*").strip().lower()
    if text in ("unimportant", "end-of-life"):
        return "low" if text == "unimportant" else None
    if text in ("low", "medium", "high"):
        return text
    return None
