"""Matching stored packages against the advisory DB, and the DB's fingerprint (what changed
when `seawall db update` ran)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from typing import Any

from seawall.core import Finding, FindingKind, Location, OSInfo, Package, Resource


def db_fingerprint(db: Any) -> str:
    """A stable hash of the DB's feeds (name, import/check times, advisory and record counts,
    validators): it changes exactly when `db import` or `db update` changed the data."""
    parts = [
        f"{f.name}|{f.imported_at.timestamp()}|{f.checked_at.timestamp() if f.checked_at else ''}|"
        f"{f.advisories}|{f.records}|{f.etag or ''}|{f.last_modified or ''}"
        for f in db.feeds()
    ]
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()


def match(db: Any, packages: Sequence[Package], os_info: OSInfo | None, resource: Resource) -> list[Finding]:
    """One finding per (package, vulnerability), pinned to `resource`, located at the package."""
    out: list[Finding] = []
    for f in db.match(list(packages), os_info):
        if f.kind is FindingKind.VULNERABILITY:
            f = dataclasses.replace(f, resource=resource)
        if f.package is not None and f.location.path is None and f.package.locations:
            loc = f.package.locations[0]
            f = dataclasses.replace(
                f, location=Location(path=loc.path, layer=loc.layer, layer_created_by=loc.layer_created_by)
            )
        out.append(f)
    return out


def open_vulndb(path: Any) -> tuple[Any, list[str]]:
    """The advisory DB (importing the shipped data on a first run, as `seawall scan` does)."""
    from seawall import vulndb

    warnings: list[str] = []
    db_path = vulndb.resolve_db_path(path)
    if not db_path.exists():
        feeds = vulndb.shipped_feed_paths()
        db_path.parent.mkdir(parents=True, exist_ok=True)
        count = sum(s.advisories for s in vulndb.import_paths(feeds, db_path))
        warnings.append(
            f"no advisory database at {db_path}: imported the advisories shipped with seawall "
            f"({count} advisories, no network); run `seawall db update` for the full feeds"
        )
    db = vulndb.open_db(db_path)
    stale = db.staleness_warning()
    if stale:
        warnings.append(stale)
    return db, warnings


def vuln_id(f: Finding) -> str:
    return f.rule
