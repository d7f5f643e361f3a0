"""Secrets in image files, in ENV and in history lines.

Rules are data (`secret_rules.yaml`). A file is scanned once, as bytes: binaries (a NUL in the
first bytes), large files and package-managed paths are skipped; each rule's regex runs only
when one of its keywords occurs in the file. The secret itself never leaves this module:
findings carry `redact(secret)` (its first characters + "****") and a line number.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import IO, Any

import yaml

from seawall.core import Finding, FindingKind, Location, Resource, Severity
from seawall.core.errors import InputError
from seawall.image.base import EntryKind, FileEntry, Hidden, HiddenHow, LayerInfo

REDACTED = "****"
MAX_MATCHES_PER_RULE = 100  # findings of one rule in one file
MAX_TRIES_PER_RULE = 10_000  # regex matches of one rule looked at in one file
SCOPES = ("file", "env", "history")


def redact(secret: str) -> str:
    """First 4 characters + ****; shorter secrets show at most a quarter of themselves."""
    shown = 4 if len(secret) >= 16 else max(0, len(secret) // 4)
    return secret[:shown] + REDACTED


@dataclass(frozen=True, slots=True)
class SecretRule:
    id: str
    title: str
    severity: Severity
    regex: re.Pattern[bytes] | None
    keywords: tuple[bytes, ...]
    ignore_case: bool = False
    scope: frozenset[str] = frozenset(SCOPES)
    paths: re.Pattern[str] | None = None
    key_regex: re.Pattern[str] | None = None
    key_stop: re.Pattern[str] | None = None
    stoplist: frozenset[str] = frozenset()
    min_classes: int = 1
    remediation: str | None = None
    references: tuple[str, ...] = ()

    def applies_to(self, path: str) -> bool:
        return self.paths is None or self.paths.search(path) is not None


@dataclass(frozen=True, slots=True)
class PairRule:
    id: str
    title: str
    severity: Severity
    first: str
    second: str
    max_lines: int
    remediation: str | None = None
    references: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SecretRules:
    rules: tuple[SecretRule, ...]
    pairs: tuple[PairRule, ...]
    skip_prefixes: tuple[str, ...]
    skip_substrings: tuple[str, ...]
    skip_extensions: tuple[str, ...]
    max_file_size: int
    sniff_size: int
    skip_unmodified_conffiles: bool = True

    def by_id(self, rule_id: str) -> SecretRule | None:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        return None

    def skips(self, path: str) -> bool:
        if path.startswith(self.skip_prefixes) or path.lower().endswith(self.skip_extensions):
            return True
        return any(s in path for s in self.skip_substrings)


@dataclass(slots=True)
class SecretMatch:
    """One secret found. `secret` is held only to pair and de-duplicate; never rendered."""

    rule: str
    title: str
    severity: Severity
    line: int
    secret: str = field(repr=False)
    key: str | None = None
    remediation: str | None = None
    references: tuple[str, ...] = ()
    partner: str | None = field(default=None, repr=False)
    partner_line: int | None = None

    @property
    def evidence(self) -> str:
        shown = redact(self.secret)
        if self.partner is not None:
            shown = f"{shown} + {redact(self.partner)}"
        return f"{self.key}={shown}" if self.key else shown


def _compile(pattern: str, ignore_case: bool, rule_id: str) -> re.Pattern[bytes]:
    flags = re.MULTILINE | (re.IGNORECASE if ignore_case else 0)
    try:
        return re.compile(pattern.encode(), flags)
    except re.error as exc:
        raise InputError(f"secret rule {rule_id}: bad regex: {exc}") from exc


def parse_rules(data: dict[str, Any]) -> SecretRules:
    rules: list[SecretRule] = []
    for raw in data.get("rules", []):
        ignore_case = bool(raw.get("ignore_case", False))
        regex = raw.get("regex")
        keywords = [str(k) for k in raw.get("keywords", [])]
        if ignore_case:
            keywords = [k.lower() for k in keywords]
        scope = frozenset(raw.get("scope", SCOPES))
        rules.append(SecretRule(
            id=str(raw["id"]), title=str(raw["title"]),
            severity=Severity.parse(str(raw.get("severity", "medium"))),
            regex=_compile(regex, ignore_case, raw["id"]) if regex else None,
            keywords=tuple(k.encode() for k in keywords),
            ignore_case=ignore_case,
            scope=scope,
            paths=re.compile(raw["paths"]) if raw.get("paths") else None,
            key_regex=re.compile(raw["key_regex"]) if raw.get("key_regex") else None,
            key_stop=re.compile(raw["key_stop"]) if raw.get("key_stop") else None,
            stoplist=frozenset(str(s).lower() for s in raw.get("stoplist", [])),
            min_classes=int(raw.get("min_classes", 1)),
            remediation=raw.get("remediation"),
            references=tuple(raw.get("references", [])),
        ))
    pairs = tuple(PairRule(
        id=str(p["id"]), title=str(p["title"]), severity=Severity.parse(str(p["severity"])),
        first=str(p["first"]), second=str(p["second"]), max_lines=int(p.get("max_lines", 10)),
        remediation=p.get("remediation"), references=tuple(p.get("references", [])),
    ) for p in data.get("pairs", []))
    skip = [str(s) for s in data.get("skip_paths", [])]
    return SecretRules(
        rules=tuple(rules), pairs=pairs,
        skip_prefixes=tuple(s for s in skip if not s.startswith("*")),
        skip_substrings=tuple(s[1:] for s in skip if s.startswith("*")),
        skip_extensions=tuple(str(e).lower() for e in data.get("skip_extensions", [])),
        max_file_size=int(data.get("max_file_size", 5 * 1024 * 1024)),
        sniff_size=int(data.get("sniff_size", 8192)),
        skip_unmodified_conffiles=bool(data.get("skip_unmodified_conffiles", True)),
    )


@lru_cache(maxsize=1)
def default_rules() -> SecretRules:
    text = resources.files("seawall.scan").joinpath("secret_rules.yaml").read_text("utf-8")
    return parse_rules(yaml.safe_load(text))


def _is_placeholder(value: str, rule: SecretRule) -> bool:
    low = value.lower().strip("\"'")
    if low in rule.stoplist or not low:
        return True
    if low[0] in "$%<{[(" or low.endswith((">", "}}", "}")):
        return True  # ${VAR}, $VAR, %(x)s, <password>, {{ .Values.x }}
    if len(set(low)) <= 2:  # ****, xxxx, 0000, ...
        return True
    return _char_classes(value) < rule.min_classes


def _char_classes(value: str) -> int:
    return (any(c.islower() for c in value) + any(c.isupper() for c in value)
            + any(c.isdigit() for c in value) + any(not c.isalnum() for c in value))


class SecretScanner:
    """Applies the rules to one text (a file's bytes, an ENV list, a history line)."""

    def __init__(self, rules: SecretRules | None = None) -> None:
        self.rules = rules or default_rules()
        # keyword -> indexes of the rules it triggers (case-sensitive and lowered haystacks)
        self._kw_cs: dict[bytes, list[int]] = {}
        self._kw_ci: dict[bytes, list[int]] = {}
        self._always: list[int] = []
        for i, rule in enumerate(self.rules.rules):
            if rule.regex is None:
                continue
            if not rule.keywords:
                self._always.append(i)
            table = self._kw_ci if rule.ignore_case else self._kw_cs
            for k in rule.keywords:
                table.setdefault(k, []).append(i)
        # case-sensitive keywords: one regex pass finds them all (longest first); a keyword found
        # also stands for every keyword inside it ("OPENSSH PRIVATE KEY" holds "PRIVATE KEY")
        self._cs_rules: dict[bytes, set[int]] = {
            k: {i for sub, idx in self._kw_cs.items() if sub in k for i in idx} for k in self._kw_cs}
        ordered = sorted(self._kw_cs, key=len, reverse=True)
        self._cs_union = re.compile(b"|".join(re.escape(k) for k in ordered)) if ordered else None

    def _candidates(self, data: bytes) -> list[int]:
        """Rules whose keywords occur in `data` (one regex pass, then a few lowered searches)."""
        hit: set[int] = set(self._always)
        if self._cs_union is not None:
            found: set[bytes] = set()
            for n, m in enumerate(self._cs_union.finditer(data)):
                found.add(m.group())
                if n >= 256:  # a keyword over and over: finish with one search per keyword
                    found.update(k for k in self._kw_cs if k not in found and k in data)
                    break
            for k in found:
                hit.update(self._cs_rules[k])
        if self._kw_ci:
            lowered = data.lower()
            for k, idx in self._kw_ci.items():
                if k in lowered:
                    hit.update(idx)
        return sorted(hit)

    def scan_bytes(self, data: bytes, path: str = "", scope: str = "file") -> list[SecretMatch]:
        found: list[tuple[int, int, SecretMatch]] = []  # (start, end, match)
        candidates = self._candidates(data)
        if not candidates:
            return []
        for i in candidates:
            rule = self.rules.rules[i]
            if rule.regex is None or scope not in rule.scope:
                continue
            if scope == "file" and not rule.applies_to(path):
                continue
            has_key = "key" in rule.regex.groupindex
            pos, line, kept = 0, 1, 0
            for tried, m in enumerate(rule.regex.finditer(data)):
                if tried >= MAX_TRIES_PER_RULE or kept >= MAX_MATCHES_PER_RULE:
                    break  # hostile or degenerate input: enough of this rule in this file
                secret = m.group("secret").decode("utf-8", "replace").strip()
                key = None
                if has_key:
                    key = m.group("key").decode("utf-8", "replace")
                    if rule.key_stop is not None and rule.key_stop.search(key):
                        continue
                if rule.stoplist and _is_placeholder(secret, rule):
                    continue
                start, end = m.span("secret")
                line += data.count(b"\n", pos, start)  # incremental: matches come in order
                pos = start
                kept += 1
                found.append((start, end, SecretMatch(
                    rule=rule.id, title=rule.title, severity=rule.severity, line=line,
                    secret=secret, key=key, remediation=rule.remediation,
                    references=rule.references)))
        return self._finish(found)

    def scan_env(self, env: Sequence[str]) -> list[SecretMatch]:
        """ENV entries `KEY=VALUE`; line = index + 1 (so pairs work across variables)."""
        found: list[tuple[int, int, SecretMatch]] = []
        offset = 0
        for index, item in enumerate(env):
            key, sep, value = item.partition("=")
            data = item.encode("utf-8", "replace")
            for match in self.scan_bytes(data, scope="env"):
                match.line = index + 1
                found.append((offset + 0, offset + len(data), match))
            if sep:
                for rule in self.rules.rules:
                    if "env" not in rule.scope or rule.key_regex is None:
                        continue
                    if rule.key_regex.search(key) and not _is_placeholder(value, rule) \
                            and len(value) >= 4:
                        found.append((offset, offset + len(data), SecretMatch(
                            rule=rule.id, title=rule.title, severity=rule.severity,
                            line=index + 1, secret=value, key=key,
                            remediation=rule.remediation, references=rule.references)))
            offset += len(data) + 1
        return self._finish(found)

    def scan_text(self, text: str, scope: str = "history") -> list[SecretMatch]:
        return self.scan_bytes(text.encode("utf-8", "replace"), scope=scope)

    def _finish(self, found: list[tuple[int, int, SecretMatch]]) -> list[SecretMatch]:
        """Drop generic matches that overlap a specific one; pair rules; stable order."""
        specific = [(s, e, m) for s, e, m in found if not m.rule.startswith("generic-")]
        kept = list(specific)
        for s, e, m in found:
            if not m.rule.startswith("generic-"):
                continue
            if any(s < e2 and s2 < e for s2, e2, _ in specific):
                continue
            if any(m.secret in o.secret or o.secret in m.secret for _, _, o in specific):
                continue
            kept.append((s, e, m))
        matches = [m for _, _, m in sorted(kept, key=lambda t: (t[2].line, t[0], t[2].rule))]
        return self._pair(matches)

    def _pair(self, matches: list[SecretMatch]) -> list[SecretMatch]:
        for pair in self.rules.pairs:
            seconds = [m for m in matches if m.rule == pair.second]
            consumed: list[SecretMatch] = []
            for first in [m for m in matches if m.rule == pair.first]:
                candidates = [s for s in seconds if not any(s is c for c in consumed)
                              and abs(s.line - first.line) <= pair.max_lines]
                if not candidates:
                    continue
                second = min(candidates, key=lambda s: abs(s.line - first.line))
                consumed.append(second)
                first.rule, first.title, first.severity = pair.id, pair.title, pair.severity
                first.partner, first.partner_line = second.secret, second.line
                first.remediation, first.references = pair.remediation, pair.references
            matches = [m for m in matches if not any(m is c for c in consumed)]
        return matches


def secret_finding(match: SecretMatch, resource: Resource, location: Location,
                   source: str) -> Finding:
    return Finding(
        kind=FindingKind.SECRET, rule=match.rule, title=match.title, severity=match.severity,
        resource=resource, location=location, evidence=match.evidence,
        remediation=match.remediation, references=list(match.references),
        extra={"source": source})


_Copy = tuple[FileEntry, SecretMatch, Hidden | None]  # one copy of a secret: file, match, why hidden


class SecretsVisitor:
    """A FileVisitor: scans each eligible file of the image once — the final files, and (like
    Trivy, which scans every layer) the files an upper layer deleted or replaced: their bytes are
    still in the image for anyone who pulls it (`wants_hidden`, see seawall.image.base).

    It also reads dpkg's status file for the `Conffiles` lists: matches in a conffile whose
    MD5 is still the packaged one are the distribution's sample values, dropped at the end."""

    wants_hidden = True

    def __init__(self, scanner: SecretScanner | None = None) -> None:
        self.scanner = scanner or SecretScanner()
        self.rules = self.scanner.rules
        # (entry, matches, md5, why hidden or None for a final file), in the order of the pass:
        # for one path the final copy comes first, then the hidden copies top-down
        self.results: list[tuple[FileEntry, list[SecretMatch], str, Hidden | None]] = []
        self.conffiles: dict[str, str] = {}
        self.files_scanned = 0
        self.bytes_scanned = 0

    def wants(self, entry: FileEntry) -> bool:
        if entry.path == DPKG_STATUS and self.rules.skip_unmodified_conffiles:
            return entry.kind is EntryKind.FILE
        return (entry.kind is EntryKind.FILE and 0 < entry.size <= self.rules.max_file_size
                and not self.rules.skips(entry.path))

    def visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        if entry.path == DPKG_STATUS:
            self.conffiles = parse_conffiles(content.read(MAX_STATUS_BYTES))
            return
        self._scan(entry, content, None)

    def visit_hidden(self, entry: FileEntry, content: IO[bytes], hidden: Hidden) -> None:
        if entry.path == DPKG_STATUS:
            return  # only the final status file says which conffiles are unmodified
        self._scan(entry, content, hidden)

    def _scan(self, entry: FileEntry, content: IO[bytes], hidden: Hidden | None) -> None:
        head = content.read(self.rules.sniff_size)
        if b"\0" in head:
            return
        data = head + content.read(self.rules.max_file_size + 1 - len(head))
        if len(data) > self.rules.max_file_size:
            return
        self.files_scanned += 1
        self.bytes_scanned += len(data)
        matches = self.scanner.scan_bytes(data, entry.path)
        if matches:
            self.results.append((entry, matches, hashlib.md5(data, usedforsecurity=False).hexdigest(),
                                 hidden))

    def findings(self, resource: Resource) -> list[Finding]:
        """One finding per (path, rule, secret): in the topmost layer that holds it, with the
        other layers that hold the same secret at that path in `extra.also_in_layers`."""
        groups: dict[tuple[str, str, str, str | None], list[_Copy]] = {}
        for entry, matches, md5, hidden in self.results:
            if self.conffiles.get(entry.path) == md5:
                continue  # an unmodified file of an OS package
            for m in matches:
                groups.setdefault((entry.path, m.rule, m.secret, m.partner), []).append((entry, m, hidden))
        out: list[Finding] = []
        for copies in groups.values():
            entry, m, hidden = copies[0]
            also = [c[0].layer.digest for c in copies[1:] if c[0].layer is not None]
            out.append(self._finding(entry, m, hidden, also, resource))
        return out

    def _finding(self, entry: FileEntry, m: SecretMatch, hidden: Hidden | None, also: list[str],
                 resource: Resource) -> Finding:
        layer = entry.layer
        loc = Location(path=entry.path, line=m.line, layer=layer.digest if layer else None,
                       layer_created_by=redact_text(layer.created_by, self.scanner)
                       if layer and layer.created_by else None)
        f = secret_finding(m, resource, loc, "file")
        if hidden is not None and layer is not None:
            verb = "deleted" if hidden.how is HiddenHow.DELETED else "replaced"
            f.title = f"{verb.capitalize()} in a later layer, still in the image: {m.title}"
            f.evidence = f"{m.evidence}; still in layer {layer.digest}, {verb} by layer {hidden.by.digest}"
            f.extra.update({"hidden": hidden.how.value, "hidden_by_layer": hidden.by.digest,
                            "still_in_layer": layer.digest})
        if also:
            f.extra["also_in_layers"] = also
        return f


DPKG_STATUS = "/var/lib/dpkg/status"
MAX_STATUS_BYTES = 64 * 1024 * 1024
_CONFFILE_LINE = re.compile(rb"^ (/\S+) ([0-9a-f]{32})(?: \S+)*$", re.MULTILINE)


def parse_conffiles(status: bytes) -> dict[str, str]:
    """path -> md5 of every conffile that dpkg's status lists (` /etc/x.conf <md5>` lines)."""
    return {m.group(1).decode("utf-8", "replace"): m.group(2).decode()
            for m in _CONFFILE_LINE.finditer(status)}


def config_secret_findings(env: Sequence[str], history: Iterable[tuple[int, str, LayerInfo | None]],
                           resource: Resource, scanner: SecretScanner | None = None,
                           ) -> tuple[list[Finding], list[str]]:
    """Secrets in ENV and history lines. Returns (findings, names of ENV keys with secrets)."""
    scanner = scanner or SecretScanner()
    findings: list[Finding] = []
    env_keys: list[str] = []
    seen: set[str] = set()
    for m in scanner.scan_env(env):
        key = env[m.line - 1].partition("=")[0] if 0 < m.line <= len(env) else None
        if key:
            env_keys.append(key)
        if m.partner_line and 0 < m.partner_line <= len(env):
            env_keys.append(env[m.partner_line - 1].partition("=")[0])
        seen.add(m.secret)
        if m.partner:
            seen.add(m.partner)
        findings.append(Finding(
            kind=FindingKind.SECRET, rule=m.rule, title=f"{m.title} (in ENV)",
            severity=m.severity, resource=resource, location=Location(path=None),
            evidence=f"ENV {key}: {m.evidence}" if key else m.evidence,
            remediation=m.remediation, references=list(m.references),
            extra={"source": "config.env", "env": key} if key else {"source": "config.env"}))
    for index, created_by, layer in history:
        # `ENV K=V` and build arguments (`|2 NPM_TOKEN=... /bin/sh -c ...`) as ENV entries, so
        # variables whose name says secret are found here too; then every rule on the line
        assignments = [f"{k}={v.strip(chr(34) + chr(39))}" for k, v in _ASSIGNMENT.findall(created_by)]
        for m in [*scanner.scan_env(assignments), *scanner.scan_text(created_by)]:
            if m.secret in seen:
                continue  # the same value already reported from ENV
            seen.add(m.secret)
            findings.append(Finding(
                kind=FindingKind.SECRET, rule=m.rule, title=f"{m.title} (in image history)",
                severity=m.severity, resource=resource,
                location=Location(layer=layer.digest if layer else None,
                                  layer_created_by=redact_text(created_by, scanner)),
                evidence=m.evidence, remediation=m.remediation, references=list(m.references),
                extra={"source": "config.history", "history_index": index}))
    return findings, sorted(set(env_keys))


def redact_text(text: str, scanner: SecretScanner | None = None) -> str:
    """`text` with every secret any rule finds in it replaced by its redacted form."""
    scanner = scanner or SecretScanner()
    out = text
    for m in scanner.scan_text(text, scope="history"):
        for value in (m.secret, m.partner):
            if value:
                out = out.replace(value, redact(value))
    # ENV-style assignments inside RUN/ENV lines: KEY=VALUE where the key names a secret
    for rule in scanner.rules.rules:
        if rule.key_regex is None:
            continue
        for am in _ASSIGNMENT.finditer(out):
            key, value = am.group(1), am.group(2)
            if rule.key_regex.search(key) and not _is_placeholder(value, rule) and len(value) >= 4 \
                    and REDACTED not in value:
                out = out.replace(f"{key}={value}", f"{key}={redact(value)}")
    return out


_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s;&|]+)")
