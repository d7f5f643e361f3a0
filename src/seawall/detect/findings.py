"""What the engine keeps per finding (an aggregate of matching events) and how it becomes a
`Finding`: the workload as a Resource, the first events as evidence, times in ISO 8601."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

import polars as pl

from seawall.core import Finding, FindingKind, Location, Resource, Severity
from seawall.detect.model import Rule
from seawall.detect.program import SEP
from seawall.secrets import SecretScanner, redact_text

EVIDENCE_BYTES = 2048
REDACT_MARGIN = 2048  # read beyond the cut when looking for secrets
_MORE = "\x00more:"  # (raw evidence: how many bytes the line had beyond the cut)
SAMPLES = 3

# (lines of the batch, line number of its first line, origin, whether lines are records of one document)
Context = tuple[Any, ...]


@dataclass(slots=True)
class Agg:
    """Events of one rule and workload (and dedupe key) close enough in time to be one finding."""

    rule: Rule
    workload: dict[str, Any]
    dkey: str
    count: int
    first: datetime | None
    last: datetime | None
    origin: str
    lineno: int | None
    record: int | None
    samples: list[str]
    emitted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    severity: Severity | None = None  # lowered by an allowlist entry (else the rule's)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    # (as strftime("%Y-%m-%dT%H:%M:%S.%fZ"), several times faster)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def resource_of(w: dict[str, Any]) -> Resource:
    """The workload columns of an event -> the finding's Resource (namespace/kind/name ...)."""
    wt, ns, kind = w.get("workload_type"), w.get("namespace"), w.get("workload_kind")
    name, cluster = w.get("workload_name"), w.get("cluster")
    cid, cname = w.get("container_id"), w.get("container_name")
    if wt == "k8s":
        if not kind and not name:
            return Resource(type="k8s:cluster", name="kube-apiserver", namespace=ns)
        return Resource(
            type=f"k8s:{kind or 'object'}",
            name=name or "*",
            namespace=ns,
            workload=f"{kind}/{name}" if name else kind,
        )
    if wt == "ecs":
        wname = name or cname or cid or cluster or "unknown"
        return Resource(
            type=f"ecs:{kind or 'task'}",
            name=wname,
            namespace=cluster,
            workload="/".join(x for x in (cluster, wname) if x),
        )
    if wt in ("ecr", "eks", "aws"):
        return Resource(
            type=f"{wt}:{kind or 'service'}", name=name or ns or "unknown", namespace=ns if name else None
        )
    label = cname or name or cid or "unknown"
    return Resource(
        type="container", name=label, namespace=ns, workload=f"container/{cid[:12]}" if cid else None
    )


_scanner: SecretScanner | None = None
_cased: list[str] = []
_keywords: list[str] = []
_keyed = "$^"  # (a pattern that matches nothing until the rules are read)
# what any rule that names its secret by the variable's name (generic-env-secret's key_regex:
# PASSWORD, SECRET, TOKEN, API_KEY ... as a word of NAME=VALUE) needs to find in a text
_ASSIGNED = r"(?:pass|secret|token|api_?key|access_?key|private_?key|credential|auth)[a-z0-9_]*="
_ASSIGNED_RE = re.compile(_ASSIGNED)
_KEYED_RE = lru_cache(maxsize=2)(re.compile)


def _detector() -> tuple[SecretScanner, list[str], list[str]]:
    """The scanner, its case-sensitive keywords and its lower-cased case-insensitive ones (the
    keywords of rules that name a secret by its key -- `password: ...`, `token=...` -- are in
    `_keyed` instead: they only count right before a `:` or `=`)."""
    global _scanner, _cased, _keywords, _keyed
    if _scanner is None:
        _scanner = SecretScanner()
        rules = _scanner.rules.rules
        _cased = sorted({k.decode() for r in rules if not r.ignore_case for k in r.keywords})
        keyed: set[str] = set()
        plain: set[str] = set()
        for r in rules:
            if not r.ignore_case:
                continue
            by_key = r.regex is not None and "key" in r.regex.groupindex
            for k in r.keywords:
                (keyed if by_key and not k.endswith((b"=", b":")) else plain).add(k.decode().lower())
        _keywords = sorted(plain)
        if any(r.regex is not None and "history" in r.scope and not r.keywords for r in rules):
            _cased = [""]  # (a rule without keywords runs on every text: so must the detector)
        if keyed:
            alternatives = "|".join(re.escape(k) for k in sorted(keyed))
            _keyed = rf"(?:{alternatives})[a-z0-9_.-]{{0,40}}[\"']?[ \t]*[:=]"
    return _scanner, _cased, _keywords


@lru_cache(maxsize=4096)
def redact(text: str) -> str:
    """`text` with every secret the one secret detector (seawall.secrets) finds in it redacted:
    bearer tokens, Authorization headers, AWS keys, passwords in URLs and query strings, private
    keys, JWTs and kubeconfig tokens, passwords in configuration-like text."""
    scanner, cased, keywords = _detector()
    low = text.lower()
    if (
        not any(k in text for k in cased)
        and not any(k in low for k in keywords)
        and _KEYED_RE(_keyed).search(low) is None
        and _ASSIGNED_RE.search(low) is None
    ):
        return text  # (no rule could find anything: every rule needs a keyword or an assignment)
    return redact_text(text, scanner)


def redact_many(texts: list[str]) -> list[str]:
    """`redact` for many texts at once: one vectorized pass finds the texts holding any keyword
    of any secret rule (the rules run only where a keyword is; `_ASSIGNED` stands for the rules
    that go by a variable's name), and only those go through the detector."""
    if not texts:
        return []
    scanner, cased, keywords = _detector()
    series = pl.Series(texts, dtype=pl.String)
    low = series.str.to_lowercase()
    maybe = (
        series.str.contains_any(cased)
        | low.str.contains_any(keywords)
        | low.str.contains(_keyed)
        | low.str.contains(_ASSIGNED)
    )
    out = list(texts)
    for i in maybe.arg_true().to_list():
        out[i] = redact_text(texts[i], scanner)
    return out


def raw_evidence(line: bytes) -> str:
    """The text of an event as a finding may quote it, before redaction: the evidence plus a
    margin, so that a secret the cut falls into is still found (see `finish_evidence`)."""
    text = line[: EVIDENCE_BYTES + REDACT_MARGIN].decode("utf-8", "replace")
    if len(line) > EVIDENCE_BYTES:
        text += f"{_MORE}{len(line) - EVIDENCE_BYTES}"
    return text


def finish_evidence(texts: list[str]) -> list[str]:
    """Raw evidence texts redacted, then cut at EVIDENCE_BYTES (with how much more there was)."""
    out = []
    for raw, shown in zip(texts, redact_many([t.partition(_MORE)[0] for t in texts]), strict=True):
        _, cut, more = raw.partition(_MORE)
        out.append(shown[:EVIDENCE_BYTES] + f"... [{more} more bytes]" if cut else shown)
    return out


def evidence(line: bytes) -> str:
    """An event as a finding quotes it: secrets redacted, cut at EVIDENCE_BYTES."""
    return finish_evidence([raw_evidence(line)])[0]


def samples(ctx: Context, rows: list[int]) -> list[str]:
    lines = ctx[0]
    return finish_evidence([raw_evidence(lines[r]) for r in rows[:SAMPLES]])


def location(ctx: Context, row: int) -> tuple[str, int | None, int | None]:
    """(origin, line, record) of one event of a batch."""
    if len(ctx) > 4 and ctx[4] is not None:  # a batch of several inputs: each row's own place
        loc: tuple[str, int | None, int | None] = ctx[4][row]
        return loc
    _, first_lineno, origin, document = ctx[:4]
    if document:
        return (origin, None, first_lineno + row)
    return (origin, first_lineno + row, None)


def to_finding(agg: Agg, source: str) -> Finding:
    rule = agg.rule
    extra: dict[str, Any] = {"source": source, "rule_origin": rule.origin}
    if len(agg.samples) > 1:
        extra["events"] = agg.samples
    if agg.record is not None:
        extra["record"] = agg.record
    if agg.dkey and rule.dedupe_by:
        extra["key"] = {k: redact(v) for k, v in zip(rule.dedupe_by, agg.dkey.split(SEP), strict=False)}
    for name, value in agg.extra.items():  # (threshold, sequence and first-seen keys are event values)
        extra[name] = (
            {k: redact(v) if k == "key" and isinstance(v, str) else v for k, v in value.items()}
            if isinstance(value, dict)
            else value
        )
    resource = resource_of(agg.workload)
    resource = replace(resource, name=redact(resource.name))
    return Finding(
        kind=FindingKind.DETECTION,
        rule=rule.id,
        title=redact(rule.title),
        severity=agg.severity or rule.severity,
        resource=resource,
        location=Location(path=agg.origin, line=agg.lineno),
        evidence=agg.samples[0] if agg.samples else None,
        remediation=rule.remediation,
        references=list(rule.references),
        attack=list(rule.attack),
        count=agg.count,
        first_seen=iso(agg.first),
        last_seen=iso(agg.last),
        extra=extra,
    )
