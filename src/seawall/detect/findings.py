"""What the engine keeps per finding (an aggregate of matching events) and how it becomes a
`Finding`: the workload as a Resource, the first events as evidence, times in ISO 8601."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from seawall.core import Finding, FindingKind, Location, Resource, Severity
from seawall.detect.model import Rule
from seawall.detect.program import SEP
from seawall.secrets import SecretScanner, redact_text

EVIDENCE_BYTES = 2048
REDACT_MARGIN = 2048  # read beyond the cut when looking for secrets
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
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


@lru_cache(maxsize=4096)
def redact(text: str) -> str:
    """`text` with every secret the one secret detector (seawall.secrets) finds in it redacted:
    bearer tokens, Authorization headers, AWS keys, passwords in URLs and query strings, private
    keys, JWTs and kubeconfig tokens, passwords in configuration-like text."""
    global _scanner
    if _scanner is None:
        _scanner = SecretScanner()
    return redact_text(text, _scanner)


def evidence(line: bytes) -> str:
    """An event as a finding quotes it: secrets redacted, cut at EVIDENCE_BYTES (redaction reads a
    margin beyond the cut, so that a secret the cut falls into is still found and hidden)."""
    text = redact(line[: EVIDENCE_BYTES + REDACT_MARGIN].decode("utf-8", "replace"))
    if len(text) > EVIDENCE_BYTES or len(line) > EVIDENCE_BYTES + REDACT_MARGIN:
        text = text[:EVIDENCE_BYTES] + f"... [{max(len(line) - EVIDENCE_BYTES, 1)} more bytes]"
    return text


def samples(ctx: Context, rows: list[int]) -> list[str]:
    lines = ctx[0]
    return [evidence(lines[r]) for r in rows[:SAMPLES]]


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
