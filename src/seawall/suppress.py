"""Suppressions: the one format of accepted findings, honoured by every verb (`--ignore-file`,
default `./.seawallignore`), by the service and by posture policies' exceptions.

Two forms are read:

* lines (like .trivyignore): `ID [exp:YYYY-MM-DD] [path:GLOB] [package:NAME] [resource:GLOB]
  [# reason]`, one per line;
* YAML: a list (or `ignore:` / `vulnerabilities:` / `misconfigurations:` / `secrets:` /
  `detections:` / `findings:` lists) of `{id, expires: YYYY-MM-DD, reason, paths: [glob...],
  package: name, resource: glob, kind: vulnerability|misconfiguration|secret|detection|exposure}`.

An ID matches a finding's rule (advisory, check or rule id), any alias of its vulnerability
(CVE, GHSA ...), or the finding's stable `id`; `*` matches any finding (then narrow it with
`resource`, `paths`, `package` or `kind`). `resource` globs match `TYPE/NAMESPACE/NAME` (as
`k8s:Deployment/shop/frontend`), the bare name and the workload. Expired entries no longer
suppress anything and produce a warning.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seawall.core import Finding, Report
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
    resource: str | None = None  # glob on TYPE/NAMESPACE/NAME, the name or the workload
    kind: str | None = None

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def matches(self, finding: Finding) -> bool:
        if self.id != "*":
            ids = {finding.rule, finding.id}
            if finding.vulnerability is not None:
                ids.add(finding.vulnerability.id)
                ids.update(finding.vulnerability.aliases)
            if self.id not in ids:
                return False
        if self.kind and finding.kind.value != self.kind:
            return False
        if self.package and (finding.package is None or finding.package.name != self.package):
            return False
        if self.resource and not any(fnmatch.fnmatchcase(key, self.resource)
                                     for key in resource_keys(finding)):
            return False
        if self.paths:
            path = finding.location.path or ""
            if not any(fnmatch.fnmatchcase(path, pat) for pat in self.paths):
                return False
        return True


def resource_keys(finding: Finding) -> list[str]:
    """The names a `resource` glob is matched against: TYPE/NAMESPACE/NAME, NAME, the workload."""
    r = finding.resource
    keys = ["/".join(x for x in (r.type, r.namespace, r.name) if x), r.name]
    if r.workload:
        keys.append(r.workload)
    return keys


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
        for key in ("ignore", "vulnerabilities", "misconfigurations", "secrets", "detections", "findings"):
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
            package=str(item["package"]) if item.get("package") else None,
            resource=str(item["resource"]) if item.get("resource") else None,
            kind=_kind(item.get("kind"), where)))
    return entries


_KINDS = ("vulnerability", "misconfiguration", "secret", "detection", "exposure")


def _kind(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if str(value) not in _KINDS:
        raise InputError(f"{where}: unknown kind {str(value)[:40]!r} (use {', '.join(_KINDS)})")
    return str(value)


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
            elif key == "resource" and sep:
                entry.resource = value
            elif key == "kind" and sep:
                entry.kind = _kind(value, f"{name}:{number}")
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


def default_ignore_file() -> Path | None:
    """`./.seawallignore` when it exists (Trivy's habit with .trivyignore)."""
    path = Path(DEFAULT_IGNORE_FILE)
    return path if path.is_file() else None


def apply_to_report(report: Report, entries: list[IgnoreEntry], today: dt.date | None = None) -> int:
    """Drop the suppressed findings of `report` (counted in its metadata, expiries warned)."""
    if not entries:
        return 0
    result = apply_ignores(report.findings, entries, today)
    report.findings = result.kept
    report.warnings.extend(result.warnings)
    if result.suppressed:
        metadata = report.target.metadata
        metadata["suppressed"] = metadata.get("suppressed", 0) + len(result.suppressed)
    return len(result.suppressed)
