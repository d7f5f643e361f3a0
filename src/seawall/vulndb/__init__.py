"""The local vulnerability database: `open_db(path) -> VulnDB`, `VulnDB.match(packages, os)`.

Where it lives: `--db PATH`, else `$SEAWALL_DB`, else `user_cache_dir("seawall")/vulndb.sqlite`.
Built by `seawall db import PATH...` (files; no path = the advisory data shipped with seawall)
and `seawall db update` (downloads); both write a new file and swap it in atomically.
"""

from __future__ import annotations

import os as _os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from platformdirs import user_cache_dir

from seawall.core import Finding, OSInfo, Package, Skip
from seawall.core.errors import InputError
from seawall.vulndb.base import FeedLimits
from seawall.vulndb.importers import FileGroup, expand
from seawall.vulndb.match import Matcher, MatchStats
from seawall.vulndb.store import (
    SCHEMA_VERSION,
    FeedSource,
    FeedStats,
    build,
    check_schema,
    connect_ro,
    schema_of,
)

__all__ = ["DEFAULT_MAX_AGE", "FeedInfo", "ImportResult", "VulnDB", "default_db_path", "import_feeds",
           "import_paths", "open_db", "shipped_feed_paths", "stale_shipped_db"]

DEFAULT_MAX_AGE = timedelta(days=7)
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "data" / "advisories"


def default_db_path() -> Path:
    env = _os.environ.get("SEAWALL_DB")
    if env:
        return Path(env).expanduser()
    return Path(user_cache_dir("seawall")) / "vulndb.sqlite"


def resolve_db_path(path: Path | str | None) -> Path:
    return Path(path).expanduser() if path else default_db_path()


@dataclass(frozen=True, slots=True)
class FeedInfo:
    name: str
    kind: str
    source: str | None
    imported_at: datetime
    checked_at: datetime | None
    data_date: str | None
    advisories: int
    records: int
    etag: str | None
    last_modified: str | None

    @property
    def fresh_at(self) -> datetime:
        """How recent this feed's data is known to be: the last time its server confirmed it
        (downloads), else the newest advisory date in it (files)."""
        if self.checked_at is not None:
            return self.checked_at
        if self.data_date:
            try:
                parsed = datetime.fromisoformat(self.data_date.replace("Z", "+00:00").replace(" ", "T"))
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            except ValueError:
                pass
        return self.imported_at


class VulnDB:
    """A read-only view of the database file, safe to keep open while an update swaps it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect_ro(path)
        self.stats = MatchStats()
        self._ecosystems: frozenset[str] | None = None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> VulnDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ecosystems(self) -> frozenset[str]:
        """The ecosystems the database holds advisories for (`Debian:12`, `PyPI` ...)."""
        if self._ecosystems is None:
            self._ecosystems = frozenset(r[0] for r in self.conn.execute(
                "SELECT DISTINCT ecosystem FROM ecosystems"))
        return self._ecosystems

    @property
    def skips(self) -> list[Skip]:
        """What the last `match` could not look at, and why (with counts)."""
        return self.stats.skips

    def match(self, packages: Sequence[Package], os: OSInfo | None) -> list[Finding]:
        """One finding per (package, vulnerability); stats (incl. invalid versions and skips) in
        `.stats`."""
        try:
            known = self.ecosystems()
        except sqlite3.Error as exc:
            raise InputError(f"{self.path}: vulnerability database unreadable ({exc})") from None
        matcher = Matcher(self.conn, known)
        try:
            findings = matcher.match(packages, os)
        except sqlite3.Error as exc:
            raise InputError(f"{self.path}: vulnerability database unreadable ({exc})") from None
        self.stats = matcher.stats
        return findings

    def feeds(self) -> list[FeedInfo]:
        rows = self.conn.execute(
            "SELECT name, kind, source, imported_at, checked_at, data_date, advisories, records, etag, "
            "last_modified FROM feeds ORDER BY name").fetchall()
        return [FeedInfo(r[0], r[1], r[2], datetime.fromtimestamp(r[3], UTC),
                         datetime.fromtimestamp(r[4], UTC) if r[4] else None, r[5], r[6], r[7], r[8], r[9])
                for r in rows]

    def age(self) -> timedelta | None:
        """Age of the stalest feed (see FeedInfo.fresh_at); None for an empty database."""
        feeds = self.feeds()
        if not feeds:
            return None
        oldest = min(f.fresh_at for f in feeds)
        return max(timedelta(0), datetime.now(UTC) - oldest)

    def staleness_warning(self, max_age: timedelta = DEFAULT_MAX_AGE) -> str | None:
        """The one-line warning a scan prints when the data is older than `max_age`."""
        age = self.age()
        if age is None:
            return f"the vulnerability database {self.path} holds no feeds; run `seawall db update`"
        if age > max_age:
            stale = [f.name for f in self.feeds() if datetime.now(UTC) - f.fresh_at > max_age]
            return (f"the vulnerability database is {age.days} days old ({', '.join(stale[:5])}); "
                    "run `seawall db update` for current advisories")
        return None


def open_db(path: Path | None = None) -> VulnDB:
    """Open the database at `path` (default: --db / $SEAWALL_DB / the user cache dir)."""
    db_path = resolve_db_path(path)
    if not db_path.is_file():
        raise InputError(f"no vulnerability database at {db_path}; run `seawall db import` (offline, "
                         "the advisories shipped with seawall) or `seawall db update`")
    check_schema(db_path)
    return VulnDB(db_path)


def stale_shipped_db(path: Path) -> bool:
    """True when `path` is a database of an older schema built only from the data shipped with
    seawall (the one a scan imports on first use): it can be rebuilt offline without losing
    anything a user downloaded."""
    try:
        if schema_of(path) == str(SCHEMA_VERSION):
            return False
        conn = connect_ro(path)
    except InputError:
        return False
    try:
        sources = [r[0] or "" for r in conn.execute("SELECT source FROM feeds")]
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    shipped = str(SHIPPED_DIR)
    return bool(sources) and all(s.startswith(shipped) for s in sources)


def shipped_feed_paths() -> list[Path]:
    """The advisory files shipped in seawall/data/advisories (real snapshots, with licenses).
    Directory names are identifiers (`v3_11`) so that setuptools ships them as package data."""
    zips = sorted((SHIPPED_DIR / "osv").glob("*.zip"))
    secdb = sorted((SHIPPED_DIR / "alpine").glob("v*/*.json"))
    nvd = sorted((SHIPPED_DIR / "nvd").glob("*.json"))  # severity (CVSS) only, keyed by CVE id
    return [*zips, *secdb, *nvd]


@dataclass(slots=True)
class ImportResult:
    stats: list[FeedStats]
    ignored: list[Path]  # files in the given directories that are no feed seawall knows


def import_feeds(paths: Sequence[Path], db: Path | None = None,
                 limits: FeedLimits | None = None) -> ImportResult:
    """Import feed files/directories (every file's type detected by content) into a new database
    and swap it in; files in a directory that are no known feed are returned, not imported."""
    db_path = resolve_db_path(db)
    limits = limits or FeedLimits()
    sources: list[FeedSource] = []
    ignored: list[Path] = []
    groups: dict[str, FileGroup] = {}
    for path in paths:
        found = expand(Path(path), limits)
        ignored.extend(found.ignored)
        for name, importer, where in found.feeds:
            if isinstance(importer, FileGroup) and name in groups:  # single records of one kind: one feed
                groups[name].files.extend(importer.files)
                continue
            if isinstance(importer, FileGroup):
                groups[name] = importer
            sources.append(FeedSource(path=where, importer=importer, name=name, source=str(where.resolve())))
    names = [s.name for s in sources]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise InputError(f"two inputs are the same feed ({', '.join(sorted(dupes))}); import one of them")
    return ImportResult(build(db_path, sources, limits), ignored)


def import_paths(paths: Sequence[Path], db: Path | None = None,
                 limits: FeedLimits | None = None) -> list[FeedStats]:
    """`import_feeds`, returning the per-feed statistics."""
    return import_feeds(paths, db, limits).stats
