"""Severity, CISA KEV and EPSS for findings, looked up in batches after matching.

Severity order (`VulnerabilityInfo.severity_source` says which one applied):
  1. the matching advisory itself: its CVSS vector, else its feed's rating (set by merge);
  2. a GitHub reviewed advisory (GHSA) known by one of the finding's ids, imported from any OSV
     feed: its CVSS vector, else its `database_specific.severity`;
  3. an NVD or CVE-record entry for one of the finding's CVE ids: its CVSS vector.
A group with several CVEs takes the highest. Nothing is guessed: without any of these the
severity stays `unknown`.
KEV: the finding is marked when any of its CVEs is in the catalog; EPSS: the highest score of
its CVEs. Each lookup is one indexed query per 500 ids, and skipped when its table is empty.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from seawall.core import Finding, Severity
from seawall.vulndb.severity import from_cvss, from_rating

_BATCH = 500
_SCORE_KINDS = ("nvd", "cve")

_BY_ID = ("SELECT v.id, v.id, f.kind, v.severity, v.cvss FROM advisories v JOIN feeds f ON f.name = v.feed "
          "WHERE v.id IN ({})")
_BY_ALIAS = ("SELECT a.alias, v.id, f.kind, v.severity, v.cvss FROM aliases a "
             "JOIN advisories v ON v.feed = a.feed AND v.id = a.id JOIN feeds f ON f.name = v.feed "
             "WHERE a.alias IN ({})")


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), _BATCH):
        yield items[i:i + _BATCH]


def _has_rows(conn: sqlite3.Connection, table: str) -> bool:
    try:
        return conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None  # noqa: S608
    except sqlite3.Error:
        return False


def _ids(finding: Finding) -> list[str]:
    v = finding.vulnerability
    return [v.id, *v.aliases] if v is not None else []


class Enricher:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.scores = (conn.execute("SELECT 1 FROM feeds WHERE kind IN ('nvd', 'cve') LIMIT 1").fetchone()
                       is not None or conn.execute(
                           "SELECT 1 FROM advisories WHERE id >= 'GHSA-' AND id < 'GHSA.' "
                           "AND (cvss IS NOT NULL OR severity IS NOT NULL) LIMIT 1").fetchone() is not None)
        self.kev = _has_rows(conn, "kev")
        self.epss = _has_rows(conn, "epss")

    def _query(self, sql: str, ids: Iterable[str]) -> list[tuple[Any, ...]]:
        unique = sorted(set(ids))
        rows: list[tuple[Any, ...]] = []
        for chunk in _chunks(unique):
            rows.extend(self.conn.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall())
        return rows

    def apply(self, findings: list[Finding]) -> None:
        vulns = [f for f in findings if f.vulnerability is not None]
        if not vulns:
            return
        unknown = [f for f in vulns if f.severity is Severity.UNKNOWN]
        if unknown and self.scores:
            self._severities(unknown)
        cves = {i for f in vulns for i in _ids(f) if i.startswith("CVE-")}
        if cves and self.kev:
            self._kev(vulns, cves)
        if cves and self.epss:
            self._epss(vulns, cves)

    def _severities(self, findings: list[Finding]) -> None:
        wanted = {i for f in findings for i in _ids(f)}
        # per id: (rank, severity, score, vector, source); rank 0 = GHSA, 1 = NVD/CVE
        best: dict[str, tuple[int, Severity, float, str | None, str]] = {}
        rows = self._query(_BY_ID, wanted) + self._query(_BY_ALIAS, wanted)
        for key, vid, kind, rating, cvss in rows:
            if str(vid).startswith("GHSA-"):
                rank, source = 0, "ghsa"
            elif kind in _SCORE_KINDS:
                rank, source = 1, kind
            else:
                continue
            parsed = from_cvss(cvss) if cvss else None
            if parsed is not None:
                candidate = (rank, parsed[0], parsed[1], cvss, source)
            else:
                sev = from_rating(rating)
                if sev is Severity.UNKNOWN:
                    continue
                candidate = (rank, sev, -1.0, None, source)
            current = best.get(key)
            if current is None or (candidate[0], -candidate[2]) < (current[0], -current[2]):
                best[key] = candidate
        for f in findings:
            found = [best[i] for i in _ids(f) if i in best]
            if not found:
                continue
            top_rank = min(c[0] for c in found)
            rank, sev, score, vector, source = max((c for c in found if c[0] == top_rank),
                                                   key=lambda c: (c[2], c[1].rank))
            v = f.vulnerability
            assert v is not None
            f.severity = sev
            v.severity_source = source
            if vector is not None and v.cvss_vector is None:
                v.cvss_vector, v.cvss_score = vector, score

    def _kev(self, findings: list[Finding], cves: set[str]) -> None:
        rows = self._query("SELECT cve, date_added, due_date, ransomware FROM kev WHERE cve IN ({})", cves)
        kev = {r[0]: r for r in rows}
        for f in findings:
            hits = sorted(i for i in _ids(f) if i in kev)
            if hits and f.vulnerability is not None:
                first = kev[hits[0]]
                f.vulnerability.kev = {"cves": hits, "date_added": first[1], "due_date": first[2],
                                       "ransomware": first[3]}
                # visible in every format, the table included, not only in JSON's vulnerability.kev
                note = f"known exploited (CISA KEV, added {first[1]})" if first[1] else \
                    "known exploited (CISA KEV)"
                f.evidence = f"{f.evidence}; {note}" if f.evidence else note

    def _epss(self, findings: list[Finding], cves: set[str]) -> None:
        rows = self._query("SELECT cve, score, percentile FROM epss WHERE cve IN ({})", cves)
        epss = {r[0]: (float(r[1]), float(r[2])) for r in rows}
        for f in findings:
            scores = [epss[i] for i in _ids(f) if i in epss]
            if scores and f.vulnerability is not None:
                f.vulnerability.epss, f.vulnerability.epss_percentile = max(scores)
