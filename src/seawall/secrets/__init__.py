"""The one secret detector: bounded regexes (rules as data in rules.yaml) over text and files,
and redaction. Used by image scans, image history, posture checks, detection evidence and every
export, so that no output prints a full secret.

    scanner = SecretScanner()
    for match in scanner.scan_text(text, scope="env"): ...
    safe = redact_text(text, scanner)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from seawall.checks import CheckSpec, spec_from_mapping
from seawall.core import FindingKind, Severity
from seawall.core.errors import InputError

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
    value_stop: re.Pattern[str] | None = None  # values a name-judged rule never reports (durations ...)
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


RULES_ORIGIN = "seawall/secrets/rules.yaml"


def _spec(raw: Any, origin: str, default_severity: str | None = None) -> CheckSpec:
    """A rule's metadata through the one check spec loader (seawall.checks): title, severity,
    remediation and references validated against the published lists like every other check."""
    if isinstance(raw, dict) and default_severity is not None and "severity" not in raw:
        raw = {**raw, "severity": default_severity}
    return spec_from_mapping(raw, origin, default_kind=FindingKind.SECRET)


def parse_rules(data: dict[str, Any], origin: str = RULES_ORIGIN, *, config: bool = False) -> SecretRules:
    """The rules of a rules file. Rules marked `config_only` (the looser names and formats of
    configuration values) are included only when `config` is true (configuration audits)."""
    rules: list[SecretRule] = []
    for raw in data.get("rules", []):
        spec = _spec(raw, origin, default_severity="medium")
        if raw.get("config_only") and not config:
            continue
        ignore_case = bool(raw.get("ignore_case", False))
        regex = raw.get("regex")
        keywords = [str(k) for k in raw.get("keywords", [])]
        if ignore_case:
            keywords = [k.lower() for k in keywords]
        scope = frozenset(raw.get("scope", SCOPES))
        rules.append(SecretRule(
            id=spec.id, title=spec.title, severity=spec.severity,
            regex=_compile(regex, ignore_case, spec.id) if regex else None,
            keywords=tuple(k.encode() for k in keywords),
            ignore_case=ignore_case,
            scope=scope,
            paths=re.compile(raw["paths"]) if raw.get("paths") else None,
            key_regex=re.compile(raw["key_regex"]) if raw.get("key_regex") else None,
            key_stop=re.compile(raw["key_stop"]) if raw.get("key_stop") else None,
            stoplist=frozenset(str(s).lower() for s in raw.get("stoplist", [])),
            value_stop=re.compile(raw["value_stop"]) if raw.get("value_stop") else None,
            min_classes=int(raw.get("min_classes", 1)),
            remediation=spec.remediation or None,
            references=spec.references,
        ))
    pairs = []
    for p in data.get("pairs", []):
        spec = _spec(p, origin)
        pairs.append(PairRule(
            id=spec.id, title=spec.title, severity=spec.severity, first=str(p["first"]),
            second=str(p["second"]), max_lines=int(p.get("max_lines", 10)),
            remediation=spec.remediation or None, references=spec.references))
    skip = [str(s) for s in data.get("skip_paths", [])]
    return SecretRules(
        rules=tuple(rules), pairs=tuple(pairs),
        skip_prefixes=tuple(s for s in skip if not s.startswith("*")),
        skip_substrings=tuple(s[1:] for s in skip if s.startswith("*")),
        skip_extensions=tuple(str(e).lower() for e in data.get("skip_extensions", [])),
        max_file_size=int(data.get("max_file_size", 5 * 1024 * 1024)),
        sniff_size=int(data.get("sniff_size", 8192)),
        skip_unmodified_conffiles=bool(data.get("skip_unmodified_conffiles", True)),
    )


@lru_cache(maxsize=1)
def _rules_data() -> dict[str, Any]:
    """rules.yaml, read once per process with libyaml's C loader (PyYAML's pure-Python one took
    about 0.2 s, paid by every verb that redacts or scans)."""
    text = resources.files("seawall.secrets").joinpath("rules.yaml").read_text("utf-8")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader, C or Python)
    if not isinstance(data, dict):
        raise InputError(f"{RULES_ORIGIN}: expected a mapping")
    return data


@lru_cache(maxsize=1)
def default_rules() -> SecretRules:
    """The rules of image scans, history, evidence and exports (rules.yaml without `config_only`)."""
    return parse_rules(_rules_data())


@lru_cache(maxsize=1)
def config_rules() -> SecretRules:
    """Every rule of rules.yaml, the `config_only` ones too: configuration audits (environment
    variables of pods and task definitions, Dockerfile ENV/ARG, ConfigMap data)."""
    return parse_rules(_rules_data(), config=True)


def _is_placeholder(value: str, rule: SecretRule) -> bool:
    low = value.lower().strip("\"'")
    if low in rule.stoplist or not low:
        return True
    if low[0] in "$%<{[(" or low.endswith((">", "}}", "}")):
        return True  # ${VAR}, $VAR, %(x)s, <password>, {{ .Values.x }}
    if len(set(low)) <= 2:  # ****, xxxx, 0000, ...
        return True
    if rule.value_stop is not None and rule.value_stop.fullmatch(value.strip("\"'")):
        return True  # a setting, not a secret: TOKEN_LIFETIME=24h, SECRET_ROTATION=P30D
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
        for am in ASSIGNMENT.finditer(out):
            key, value = am.group(1), am.group(2)
            if rule.key_regex.search(key) and not _is_placeholder(value, rule) and len(value) >= 4 \
                    and REDACTED not in value:
                out = out.replace(f"{key}={value}", f"{key}={redact(value)}")
    return out


ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|[^\s;&|]+)")
