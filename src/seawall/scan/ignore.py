""".seawallignore: accepted findings, each with an optional expiry date and reason.

Two forms are read:

* lines (like .trivyignore): `ID [exp:YYYY-MM-DD] [# reason]`, one per line;
* YAML: a list (or `ignore:` / `vulnerabilities:` / `misconfigurations:` / `secrets:` lists)
  of `{id, expires: YYYY-MM-DD, reason, paths: [glob...], package: name}`.

An ID matches a finding's rule (advisory or check id), any alias of its vulnerability, or the
finding's stable `id`. Expired entries no longer suppress anything and produce a warning.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seawall.core import Finding
from seawall.core.errors import InputError

MAX_IGNORE_FILE = 4 * 1024 * 1024
DEFAULT_IGNORE_FILE = ".seawallignore"


@dataclass(slots=True)
class IgnoreEntry:
    id: str
    expires: dt.date | None = None
    reason: str | None = None
    paths: list[str] = field(default_factory=list)
    package: str | None = None
    source_line: int | None = None

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def matches(self, finding: Finding) -> bool:
        ids = {finding.rule, finding.id}
        if finding.vulnerability is not None:
            ids.add(finding.vulnerability.id)
            ids.update(finding.vulnerability.aliases)
        if self.id not in ids:
            return False
        if self.package and (finding.package is None or finding.package.name != self.package):
            return False
        if self.paths:
            path = finding.location.path or ""
            if not any(fnmatch.fnmatchcase(path, pat) for pat in self.paths):
                return False
        return True


@dataclass(slots=True)
class IgnoreResult:
    kept: list[Finding]
    suppressed: list[tuple[Finding, IgnoreEntry]]
    warnings: list[str]


def _parse_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise InputError(f"{where}: bad expiry date {str(value)[:40]!r} (use YYYY-MM-DD)") from exc


def _from_yaml(data: Any, name: str) -> list[IgnoreEntry]:
    items: list[Any] = []
    if isinstance(data, dict):
        for key in ("ignore", "vulnerabilities", "misconfigurations", "secrets", "findings"):
            value = data.get(key) or []
            if not isinstance(value, list):
                raise InputError(f"{name}: `{key}` must be a list")
            items.extend(value)
    elif isinstance(data, list):
        items = data
    entries: list[IgnoreEntry] = []
    for i, item in enumerate(items, 1):
        where = f"{name}: entry {i}"
        if isinstance(item, str):
            entries.append(IgnoreEntry(id=item.strip()))
            continue
        if not isinstance(item, dict) or not item.get("id"):
            raise InputError(f"{where}: each entry needs an `id`")
        expires = item.get("expires", item.get("expired_at", item.get("exp")))
        paths = item.get("paths") or []
        if isinstance(paths, str):
            paths = [paths]
        entries.append(IgnoreEntry(
            id=str(item["id"]).strip(),
            expires=_parse_date(expires, where) if expires else None,
            reason=str(item["reason"]) if item.get("reason") else
            (str(item["statement"]) if item.get("statement") else None),
            paths=[str(p) for p in paths],
            package=str(item["package"]) if item.get("package") else None))
    return entries


def _from_lines(text: str, name: str) -> list[IgnoreEntry]:
    entries: list[IgnoreEntry] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line, _, comment = raw.partition("#")
        parts = line.split()
        if not parts:
            continue
        entry = IgnoreEntry(id=parts[0], reason=comment.strip() or None, source_line=number)
        for token in parts[1:]:
            key, sep, value = token.partition(":")
            if not sep:
                key, sep, value = token.partition("=")
            if key in ("exp", "expires") and sep:
                entry.expires = _parse_date(value, f"{name}:{number}")
            elif key in ("path", "paths") and sep:
                entry.paths.append(value)
            elif key == "package" and sep:
                entry.package = value
            else:
                raise InputError(f"{name}:{number}: unknown field {token[:40]!r} "
                                 "(use: ID [exp:YYYY-MM-DD] [# reason])")
        entries.append(entry)
    return entries


def load_ignore_file(path: Path) -> list[IgnoreEntry]:
    name = str(path)
    try:
        if path.stat().st_size > MAX_IGNORE_FILE:
            raise InputError(f"{name}: ignore file larger than {MAX_IGNORE_FILE} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"ignore file not found: {name}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ignore file {name}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if isinstance(data, (dict, list)):
        return _from_yaml(data, name)
    return _from_lines(text, name)


def apply_ignores(findings: Iterable[Finding], entries: list[IgnoreEntry],
                  today: dt.date | None = None) -> IgnoreResult:
    today = today or dt.date.today()
    active = [e for e in entries if not e.expired(today)]
    warnings = [f"ignore entry {e.id} expired on {e.expires}; it no longer suppresses findings"
                for e in entries if e.expired(today)]
    kept: list[Finding] = []
    suppressed: list[tuple[Finding, IgnoreEntry]] = []
    for finding in findings:
        hit = next((e for e in active if e.matches(finding)), None)
        if hit is None:
            kept.append(finding)
        else:
            suppressed.append((finding, hit))
    return IgnoreResult(kept=kept, suppressed=suppressed, warnings=warnings)
