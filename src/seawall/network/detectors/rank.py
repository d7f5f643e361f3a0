"""What a SOC reads first: findings ranked (severity, then how much the workload did), and the
findings of one rule on bare addresses (no inventory to name their workload) folded per subnet
when there are too many of them to read one by one."""

from __future__ import annotations

import ipaddress
from collections import defaultdict

from seawall.core.models import Finding, Resource


def _weight(f: Finding) -> int:
    extra = f.extra or {}
    for key in ("target_count", "targets", "hosts"):
        value = extra.get(key)
        if isinstance(value, int):
            return value
        if isinstance(value, list):
            return len(value)
    return 0


def rank(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then the widest (targets, hosts), then the busiest (count)."""
    return sorted(findings, key=lambda f: (-f.severity.rank, -_weight(f), -(f.count or 0),
                                           f.resource.workload or "", f.rule))


def _subnet(addr: str) -> str | None:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def fold_addresses(findings: list[Finding], limit: int) -> list[Finding]:
    """One rule's findings: when more than `limit` are on bare internal addresses, those are
    folded into one finding per /24 (/64) subnet, with its hosts ranked in the evidence."""
    bare = [f for f in findings if f.resource.type == "IPAddress"]
    if len(bare) <= limit:
        return findings
    groups: dict[str, list[Finding]] = defaultdict(list)
    kept = [f for f in findings if f.resource.type != "IPAddress"]
    for f in bare:
        net = _subnet(f.resource.name)
        if net is None:
            kept.append(f)
        else:
            groups[net].append(f)
    for net, group in groups.items():
        group = rank(group)
        top = group[0]
        lines = [f"{g.resource.name}: {(g.evidence or '')[:160]}" for g in group[:5]]
        more = f"; and {len(group) - 5} more host(s)" if len(group) > 5 else ""
        kept.append(Finding(
            kind=top.kind, rule=top.rule, title=top.title, severity=top.severity,
            resource=Resource(type="Subnet", name=net, namespace=None, workload=net),
            location=top.location,
            evidence=f"{len(group)} host(s) of {net}: " + " | ".join(lines) + more,
            remediation=top.remediation, references=list(top.references), attack=list(top.attack),
            count=sum(g.count or 0 for g in group),
            first_seen=min((g.first_seen for g in group if g.first_seen), default=None),
            last_seen=max((g.last_seen for g in group if g.last_seen), default=None),
            extra={"hosts": len(group), "addresses": [g.resource.name for g in group[:50]],
                   "target_count": sum(_weight(g) for g in group)},
        ))
    return kept
