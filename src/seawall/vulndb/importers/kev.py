"""CISA's Known Exploited Vulnerabilities catalog (prioritisation, not package ranges).

https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json:
`{"title", "catalogVersion", "dateReleased", "count", "vulnerabilities": [{"cveID", "vendorProject",
"product", "vulnerabilityName", "dateAdded", "dueDate", "knownRansomwareCampaignUse", ...}]}`.
A finding whose CVE is listed gets `vulnerability.kev`; `seawall scan --fail-on-kev` gates on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seawall.core.errors import InputError
from seawall.vulndb.base import FeedLimits, KevEntry
from seawall.vulndb.importers.common import iter_json_array_at, open_text_stream

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")


def _str(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


class KevImporter:
    kind = "kev"

    def sniff(self, path: Path, head: bytes) -> bool:
        return path.is_file() and b'"vulnerabilities"' in head and (
            b'"catalogVersion"' in head or b"Known Exploited Vulnerabilities" in head)

    def feed_name(self, path: Path) -> str:
        return "cisa-kev"

    def read(self, path: Path, limits: FeedLimits) -> Iterator[KevEntry]:
        with open_text_stream(path, limits) as stream:
            for entry in iter_json_array_at(stream, "vulnerabilities", str(path), limits):
                if not isinstance(entry, dict) or not isinstance(entry.get("cveID"), str):
                    raise InputError(f"{path}: a KEV entry without 'cveID'")
                cve = entry["cveID"].strip()
                if not _CVE.match(cve):
                    continue
                yield KevEntry(cve=cve, date_added=_str(entry.get("dateAdded")),
                               due_date=_str(entry.get("dueDate")),
                               ransomware=_str(entry.get("knownRansomwareCampaignUse")),
                               name=_str(entry.get("vulnerabilityName")))
