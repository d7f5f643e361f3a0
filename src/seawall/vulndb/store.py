"""The SQLite store: schema, writing feeds into a new file, and the atomic swap.

Schema (one row per (advisory, ecosystem, package), ranges serialized compactly):
  meta(key, value)                         schema version, build time
  feeds(name, kind, source, imported_at, checked_at, data_date, advisories, records,
        etag, last_modified, size, sha256)
  advisories(feed, id, summary, severity, cvss, published, modified, refs, aliases, related)
                                           index (id): severity lookups by CVE / GHSA id
  aliases(alias, feed, id)                 every alias of every advisory, looked up by alias
  affected(ecosystem, name, feed, id, data, versions, severity)   index (ecosystem, name)
  ecosystems(ecosystem, feed, records)     which ecosystems the database covers (skips say so)
  kev(cve, feed, date_added, due_date, ransomware, name)          CISA KEV
  epss(cve, feed, score, percentile)                              FIRST EPSS
  cpe_match(vendor, product, feed, id, data)                      NVD's vulnerable application CPEs,
                                           one row per (product, advisory), clustered by product
`affected.data` is JSON: [[range type, [[event kind, version], ...]], ...] with event kinds
i(ntroduced), f(ixed), l(ast_affected), m (limit); `affected.versions` is the OSV `versions`
list minus the versions the ranges already cover (usually empty: NULL), decoded only when the
ranges do not match. `cpe_match.data` is JSON: [[rest of the criteria after the product, start,
start included, end, end included], ...] (seawall.vulndb.cpe evaluates it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import orjson

from seawall.core.errors import InputError, SeawallError
from seawall.vulndb.base import Advisory, Affected, CpeMatch, EpssScore, FeedLimits, Importer, KevEntry
from seawall.vulndb.cpe import CPE_ECOSYSTEM
from seawall.vulndb.names import canonical_version
from seawall.vulndb.ranges import uncovered_versions

SCHEMA_VERSION = 4
EVENT_CODES = {"introduced": "i", "fixed": "f", "last_affected": "l", "limit": "m"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feeds(
  name TEXT PRIMARY KEY, kind TEXT NOT NULL, source TEXT, imported_at REAL, checked_at REAL,
  data_date TEXT, advisories INTEGER, records INTEGER, etag TEXT, last_modified TEXT,
  size INTEGER, sha256 TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS advisories(
  feed TEXT NOT NULL, id TEXT NOT NULL, summary TEXT, severity TEXT, cvss TEXT, published TEXT,
  modified TEXT, refs TEXT, aliases TEXT, related TEXT, PRIMARY KEY(feed, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS advisories_id ON advisories(id);
CREATE TABLE IF NOT EXISTS aliases(
  alias TEXT NOT NULL, feed TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY(alias, feed, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS affected(
  ecosystem TEXT NOT NULL, name TEXT NOT NULL, feed TEXT NOT NULL, id TEXT NOT NULL,
  data BLOB NOT NULL, versions BLOB, severity TEXT);
CREATE INDEX IF NOT EXISTS affected_pkg ON affected(ecosystem, name);
CREATE TABLE IF NOT EXISTS ecosystems(
  ecosystem TEXT NOT NULL, feed TEXT NOT NULL, records INTEGER, PRIMARY KEY(ecosystem, feed)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kev(
  cve TEXT NOT NULL, feed TEXT NOT NULL, date_added TEXT, due_date TEXT, ransomware TEXT, name TEXT,
  PRIMARY KEY(cve, feed)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS epss(
  cve TEXT NOT NULL, feed TEXT NOT NULL, score REAL, percentile REAL, PRIMARY KEY(cve, feed)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cpe_match(
  vendor TEXT NOT NULL, product TEXT NOT NULL, feed TEXT NOT NULL, id TEXT NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY(vendor, product, feed, id)) WITHOUT ROWID;
"""


@dataclass(slots=True)
class FeedSource:
    """One feed to (re)import into the new database."""

    path: Path
    importer: Importer
    name: str
    source: str  # URL or path, shown by `db status`
    etag: str | None = None
    last_modified: str | None = None
    checked_at: float | None = None  # for downloads: when the server was last asked
    sha256: str | None = None


@dataclass(slots=True)
class FeedStats:
    name: str
    advisories: int
    records: int
    seconds: float


def connect_rw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")  # a private temp file: the swap is our journal
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-65536")
    return conn


def _newest_date(current: str | None, candidate: str | None) -> str | None:
    if not candidate or candidate.startswith("0001"):
        return current
    if current is None or candidate > current:
        return candidate
    return current


def write_feed(conn: sqlite3.Connection, feed: FeedSource, limits: FeedLimits) -> FeedStats:
    """Replace every row of `feed.name` with the feed's content (inside the caller's transaction)."""
    start = time.perf_counter()
    for table in ("affected", "aliases", "advisories", "ecosystems", "kev", "epss", "cpe_match", "feeds"):
        column = "name" if table == "feeds" else "feed"
        conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (feed.name,))  # noqa: S608
    try:
        n_adv, n_aff, data_date = _write_rows(conn, feed, limits)
    except SeawallError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        raise InputError(f"{feed.path}: malformed {feed.importer.kind} feed ({type(exc).__name__}: "
                         f"{str(exc)[:200]})") from None
    if data_date is None:
        data_date = datetime.fromtimestamp(feed.path.stat().st_mtime, UTC).isoformat()
    size = feed.path.stat().st_size if feed.path.is_file() else None
    now = time.time()
    conn.execute("INSERT OR REPLACE INTO feeds VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                 (feed.name, feed.importer.kind, feed.source, now, feed.checked_at, data_date, n_adv,
                  n_aff, feed.etag, feed.last_modified, size, feed.sha256))
    return FeedStats(feed.name, n_adv, n_aff, time.perf_counter() - start)


class _Rows:
    """Rows of one feed, written in batches."""

    SQL: ClassVar[dict[str, str]] = {
           "advisories": "INSERT OR IGNORE INTO advisories VALUES (?,?,?,?,?,?,?,?,?,?)",
           "aliases": "INSERT OR IGNORE INTO aliases VALUES (?,?,?)",
           "affected": "INSERT INTO affected VALUES (?,?,?,?,?,?,?)",
           "kev": "INSERT OR REPLACE INTO kev VALUES (?,?,?,?,?,?)",
           "epss": "INSERT OR REPLACE INTO epss VALUES (?,?,?,?)",
           "cpe_match": "INSERT OR REPLACE INTO cpe_match VALUES (?,?,?,?,?)"}

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.rows: dict[str, list[tuple[object, ...]]] = {table: [] for table in self.SQL}
        self.pending = 0

    def add(self, table: str, row: tuple[object, ...]) -> None:
        self.rows[table].append(row)
        self.pending += 1
        if self.pending >= 5000:
            self.flush()

    def flush(self) -> None:
        for table, rows in self.rows.items():
            if rows:
                self.conn.executemany(self.SQL[table], rows)
                rows.clear()
        self.pending = 0


def _json_list(items: list[str]) -> str | None:
    return orjson.dumps(items).decode() if items else None


def _write_rows(conn: sqlite3.Connection, feed: FeedSource,
                limits: FeedLimits) -> tuple[int, int, str | None]:
    n_adv = n_aff = 0
    data_date: str | None = None
    rows = _Rows(conn)
    ecosystems: dict[str, int] = {}
    for record in feed.importer.read(feed.path, limits):
        n_adv += 1
        if isinstance(record, KevEntry):
            data_date = _newest_date(data_date, record.date_added)
            rows.add("kev", (record.cve, feed.name, record.date_added, record.due_date, record.ransomware,
                             record.name))
            continue
        if isinstance(record, EpssScore):
            data_date = _newest_date(data_date, record.date)
            rows.add("epss", (record.cve, feed.name, record.score, record.percentile))
            continue
        adv: Advisory = record
        data_date = _newest_date(_newest_date(data_date, adv.published), adv.modified)
        rows.add("advisories", (feed.name, adv.id, adv.summary, adv.severity, adv.cvss_vector, adv.published,
                                adv.modified, _json_list(adv.references), _json_list(adv.aliases),
                                _json_list(adv.related)))
        for alias in adv.aliases:
            rows.add("aliases", (alias, feed.name, adv.id))
        for aff in adv.affected:
            n_aff += 1
            ecosystems[aff.ecosystem] = ecosystems.get(aff.ecosystem, 0) + 1
            data, versions = _encode(aff)
            rows.add("affected", (aff.ecosystem, aff.name, feed.name, adv.id, data, versions, aff.severity))
        if adv.cpes:
            for (vendor, product), crits in _cpe_rows(adv.cpes).items():
                n_aff += 1
                ecosystems[CPE_ECOSYSTEM] = ecosystems.get(CPE_ECOSYSTEM, 0) + 1
                rows.add("cpe_match", (vendor, product, feed.name, adv.id, orjson.dumps(crits)))
    rows.flush()
    conn.executemany("INSERT OR REPLACE INTO ecosystems VALUES (?,?,?)",
                     [(eco, feed.name, n) for eco, n in ecosystems.items()])
    return n_adv, n_aff, data_date


def _cpe_rows(cpes: list[CpeMatch]) -> dict[tuple[str, str], list[list[object]]]:
    out: dict[tuple[str, str], list[list[object]]] = {}
    for c in cpes:
        out.setdefault((c.vendor, c.product), []).append(
            [c.rest, c.start, int(c.start_incl), c.end, int(c.end_incl)])
    return out


def _encode(aff: Affected) -> tuple[bytes, bytes | None]:
    ranges = [[r.type, [[EVENT_CODES[k], v] for k, v in r.events]] for r in aff.ranges]
    versions = aff.versions
    if versions and ranges:
        versions = uncovered_versions(ranges, aff.ecosystem, versions)
    # stored in canonical form, compared with the installed version's canonical form
    versions = [canonical_version(aff.ecosystem, v) for v in versions]
    return orjson.dumps(ranges), (orjson.dumps(versions) if versions else None)


def temp_path_for(db_path: Path) -> Path:
    return db_path.with_name(f".{db_path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")


def build(db_path: Path, feeds: Iterable[FeedSource], limits: FeedLimits,
          touch: Iterable[tuple[str, float]] = ()) -> list[FeedStats]:
    """A new database = the old one with `feeds` replaced, written to a temp file in the same
    directory and swapped in with os.replace: a failure at any point leaves the old file as it was.
    `touch` records (feed name, checked_at) for feeds whose server said "not modified".
    """
    db_path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(db_path)
    tmp = temp_path_for(db_path)
    stats: list[FeedStats] = []
    conn: sqlite3.Connection | None = None
    try:
        if db_path.exists() and schema_of(db_path) == str(SCHEMA_VERSION):
            shutil.copyfile(db_path, tmp)  # keep the other feeds; an older schema is rebuilt
        conn = connect_rw(tmp)
        conn.executescript(SCHEMA)
        conn.execute("BEGIN")
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('built_at', ?)", (str(time.time()),))
        for feed in feeds:
            stats.append(write_feed(conn, feed, limits))
        for name, checked in touch:
            conn.execute("UPDATE feeds SET checked_at = ? WHERE name = ?", (checked, name))
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
        conn.close()
        conn = None
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, db_path)
        _fsync_dir(db_path.parent)
    except sqlite3.Error as exc:
        raise SeawallError(f"cannot write the vulnerability database next to {db_path}: {exc}") from None
    except OSError as exc:
        raise SeawallError(f"cannot write the vulnerability database {db_path}: {exc}") from None
    finally:
        if conn is not None:
            conn.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return stats


def _remove_stale_temps(db_path: Path, older_than: float = 3600.0) -> None:
    """Temp files left by a killed import/update (an hour old: no live run is that slow)."""
    now = time.time()
    patterns = (f".{db_path.name}.*.tmp", ".download-*.tmp")
    for pattern in patterns:
        for stale in db_path.parent.glob(pattern):
            with contextlib.suppress(OSError):
                if now - stale.stat().st_mtime > older_than:
                    stale.unlink()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def connect_ro(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA cache_size=-32768")
        conn.execute("SELECT 1 FROM meta LIMIT 1")
    except sqlite3.Error as exc:
        raise InputError(f"{path}: not a seawall vulnerability database ({exc})") from None
    return conn


def schema_of(path: Path) -> str:
    """The schema version of a seawall database; InputError when the file is not one
    (so a mistyped --db never gets overwritten)."""
    conn = connect_ro(path)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error as exc:
        raise InputError(f"{path}: not a seawall vulnerability database ({exc})") from None
    finally:
        conn.close()
    return str(row[0]) if row else "?"


def check_schema(path: Path) -> None:
    found = schema_of(path)
    if found != str(SCHEMA_VERSION):
        raise InputError(f"{path}: database schema {found} is not {SCHEMA_VERSION}; "
                         "run `seawall db import` or `seawall db update` to rebuild it")
