"""The detector interface and the helpers every detector uses to build findings."""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Protocol

import polars as pl
import yaml

from seawall.checks import CheckSpec, specs_from_mapping_of_ids
from seawall.core.models import Finding, FindingKind, Location, Resource, Severity
from seawall.network.attribution import in_ranges, ipv4_ranges
from seawall.network.baseline import Baseline
from seawall.network.context import Context as NetContext
from seawall.network.engine import Collected
from seawall.network.intel import Intel
from seawall.network.inventory import Inventory, split_key
from seawall.network.options import NetworkOptions
from seawall.secrets import SecretScanner, redact_text

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_V4 = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}$"


@dataclass
class Context:
    data: Collected
    options: NetworkOptions
    inventory: Inventory
    baseline: Baseline | None
    intel: Intel
    location: str | None
    env: NetContext = field(default_factory=NetContext)  # organisation context, infrastructure

    def is_infra(self, addr: str) -> bool:
        """A well-known infrastructure address: by range, or by a name seen for it."""
        return self.env.is_infra_address(addr) or any(
            self.env.is_infra_name(n) for n in self.data.names.get(addr, ()))

    def infra_among(self, addrs: pl.Series) -> list[str]:
        """The distinct addresses of `addrs` that `is_infra` (IPv4 in columns, the rest one by one)."""
        distinct = addrs.drop_nulls().unique()
        ranges = ipv4_ranges(self.env.infra_networks)
        canonical = distinct.str.contains(_CANONICAL_V4)  # what ipaddress parses as IPv4
        v4 = distinct.filter(canonical)
        octets = v4.str.split_exact(".", 3).struct.unnest()
        ip = pl.lit(0, pl.UInt64)
        for name in octets.columns:
            ip = ip * 256 + pl.col(name).cast(pl.UInt64)
        hits: set[str] = set()
        if len(v4):
            hits.update(v4.filter(octets.select(in_ranges(ip, ranges).alias("hit"))["hit"]).to_list())
        hits.update(a for a in distinct.filter(~canonical).to_list() if self.env.is_infra_address(a))
        hits.update(a for a in set(self.data.names).intersection(distinct.to_list())
                    if any(self.env.is_infra_name(n) for n in self.data.names[a]))
        return sorted(hits)


class Detector(Protocol):
    rule: str

    def run(self, ctx: Context) -> list[Finding]: ...


@cache
def rules() -> dict[str, CheckSpec]:
    """The detectors' metadata (rules.yaml) through the one check spec loader (seawall.checks):
    severity, ATT&CK ids and references validated at load time."""
    text = resources.files("seawall.network").joinpath("rules.yaml").read_text(encoding="utf-8")
    specs = specs_from_mapping_of_ids(yaml.safe_load(text), "seawall/network/rules.yaml",
                                      default_kind=FindingKind.DETECTION)
    return {spec.id: spec for spec in specs}


def iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resource_of(key: str) -> Resource:
    kind, ns, name = split_key(key)
    workload = f"{ns}/{name}" if ns else name
    return Resource(type=kind, name=name, namespace=ns, workload=workload)


def label(key: str) -> str:
    kind, ns, name = split_key(key)
    if kind in ("External", "IPAddress", "InstanceMetadata"):
        return name
    return f"{kind} {ns + '/' if ns else ''}{name}"


def matches(key: str, patterns: tuple[str, ...]) -> bool:
    """`TYPE:NS/NAME` against globs like `Node:*`, `*:kube-system/*`."""
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def finding(
    rule_id: str,
    key: str,
    ctx: Context,
    evidence: str,
    *,
    count: int | None = None,
    first: int | None = None,
    last: int | None = None,
    severity: Severity | None = None,
    extra: dict[str, Any] | None = None,
) -> Finding:
    spec = rules()[rule_id]
    return Finding(
        kind=spec.kind,
        rule=rule_id,
        title=redact(spec.title),
        severity=severity or spec.severity,
        resource=resource_of(key),
        location=Location(path=ctx.location),
        evidence=redact(evidence),
        remediation=spec.remediation or None,
        references=list(spec.references),
        attack=list(spec.attack),
        count=count,
        first_seen=iso(first),
        last_seen=iso(last),
        extra=redact_values(extra or {}),
    )


@cache
def _scanner() -> SecretScanner:
    return SecretScanner()


def redact(text: str) -> str:
    """`text` through the one secret detector: names seen on the wire (DNS queries, HTTP hosts,
    SNI) can carry tokens and keys, and evidence is printed and exported."""
    return redact_text(text, _scanner())


def redact_values(value: Any) -> Any:
    """Every string inside `value` (dicts, lists) redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_values(v) for v in value]
    return value


def as_int(value: Any) -> int | None:
    """A Polars scalar (min/max/sum of a column) as int, None when empty."""
    return None if value is None else int(value)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


PROTO = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6", 132: "sctp"}


def proto_name(p: int | None) -> str:
    return PROTO.get(p, str(p)) if p is not None else "?"
