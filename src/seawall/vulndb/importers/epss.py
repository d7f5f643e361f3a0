"""FIRST's EPSS scores (https://epss.cyentia.com/epss_scores-current.csv.gz), a CSV:

    #model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000
    cve,epss,percentile
    CVE-1999-0001,0.00383,0.73075

Streamed line by line (the daily file holds ~280,000 CVEs). A finding gets the highest score of
its CVEs (`vulnerability.epss`, `epss_percentile`), a prioritisation field next to KEV.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

from seawall.core.errors import InputError, LimitExceeded
from seawall.vulndb.base import EpssScore, FeedLimits
from seawall.vulndb.importers.common import open_text_stream

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$")
_DATE = re.compile(r"score_date:([0-9T:+\-.Z]{10,40})")
_MAX_LINE = 4096


class EpssImporter:
    kind = "epss"

    def sniff(self, path: Path, head: bytes) -> bool:
        text = head.lstrip()
        return path.is_file() and text.startswith((b"#model_version", b"cve,epss,percentile"))

    def feed_name(self, path: Path) -> str:
        return "epss"

    def read(self, path: Path, limits: FeedLimits) -> Iterator[EpssScore]:
        date: str | None = None
        header = False
        total = 0
        with open_text_stream(path, limits) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")
            lineno = 0
            while True:
                try:
                    line = text.readline(_MAX_LINE)
                except (UnicodeDecodeError, OSError, EOFError) as exc:
                    raise InputError(f"{path}: unreadable ({exc})") from None
                if not line:
                    break
                lineno += 1
                total += len(line)
                if total > limits.max_total_bytes:
                    raise LimitExceeded(f"{path}: over {limits.max_total_bytes} bytes")
                if len(line) >= _MAX_LINE and not line.endswith("\n"):
                    raise InputError(f"{path}:{lineno}: line longer than {_MAX_LINE} characters")
                line = line.strip()
                if not line:
                    continue
                if line.startswith("#"):
                    m = _DATE.search(line)
                    date = m.group(1) if m else date
                    continue
                if not header:
                    if line.replace(" ", "").lower() != "cve,epss,percentile":
                        raise InputError(f"{path}:{lineno}: expected the header 'cve,epss,percentile'")
                    header = True
                    continue
                parts = line.split(",")
                try:
                    cve, score, pct = parts[0].strip(), float(parts[1]), float(parts[2])
                except (IndexError, ValueError):
                    raise InputError(f"{path}:{lineno}: not 'CVE,score,percentile'") from None
                if len(parts) != 3 or not _CVE.match(cve) or not (0 <= score <= 1 and 0 <= pct <= 1):
                    raise InputError(f"{path}:{lineno}: not 'CVE,score,percentile' with scores in 0-1")
                yield EpssScore(cve, score, pct, date)
        if not header:
            raise InputError(f"{path}: no 'cve,epss,percentile' header: not an EPSS file")
