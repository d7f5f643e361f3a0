"""Severity: from a CVSS vector (the `cvss` library: v2, v3.x, v4) or a feed's own rating."""

from __future__ import annotations

from functools import lru_cache

from cvss import CVSS2, CVSS3, CVSS4

from seawall.core import Severity


@lru_cache(maxsize=8192)
def from_cvss(vector: str) -> tuple[Severity, float] | None:
    """(severity, base score) of a CVSS vector; None when the vector does not parse."""
    try:
        if vector.startswith("CVSS:4"):
            c4 = CVSS4(vector)
            return Severity.parse(str(c4.severity)), float(c4.base_score)
        if vector.startswith("CVSS:3"):
            c3 = CVSS3(vector)
            return Severity.parse(str(c3.severities()[0])), float(c3.scores()[0])
        c2 = CVSS2(vector)
        score = float(c2.scores()[0])
    except Exception:
        return None
    # CVSS v2 has no rating scale of its own; NVD's: 0-3.9 low, 4-6.9 medium, 7-10 high
    return (Severity.HIGH if score >= 7 else Severity.MEDIUM if score >= 4 else Severity.LOW), score


@lru_cache(maxsize=256)
def from_rating(text: str | None) -> Severity:
    """A feed's word: GHSA (critical/high/moderate/low), Debian urgency, ALAS (critical/important/
    medium/low) -> our scale."""
    if not text:
        return Severity.UNKNOWN
    return Severity.parse(text)
