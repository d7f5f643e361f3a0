"""Egress to addresses and names on a threat-intelligence list."""

from __future__ import annotations

import polars as pl

from seawall.core.models import Finding
from seawall.network.detectors.base import Context, finding, human_bytes


class ThreatIntel:
    rule = "net-threat-intel"

    def run(self, ctx: Context) -> list[Finding]:
        if not len(ctx.intel):
            return []
        edges = ctx.data.edges.filter(pl.col("c_int") & ~pl.col("s_int"))
        hits: dict[str, list[tuple[str, str, dict[str, int]]]] = {}
        verdicts: dict[str, str | None] = {}
        for r in edges.iter_rows(named=True):
            addr = r["s_addr"]
            if addr not in verdicts:
                v = ctx.intel.match_ip(addr)
                if v is None:
                    for name in ctx.data.names.get(addr, ()):
                        v = ctx.intel.match_name(name)
                        if v:
                            v = f"{v} (name {name})"
                            break
                verdicts[addr] = v
            if verdicts[addr]:
                hits.setdefault(r["c_key"], []).append(
                    (
                        addr,
                        str(verdicts[addr]),
                        {
                            "port": r["s_port"],
                            "flows": r["flows"],
                            "bytes": r["bytes"],
                            "first": r["first"],
                            "last": r["last"],
                        },
                    )
                )
        for r in ctx.data.dns.iter_rows(named=True):
            v = ctx.intel.match_name(r["qname"])
            if v:
                hits.setdefault(r["src_key"], []).append(
                    (
                        r["qname"],
                        f"{v} (DNS query)",
                        {"port": 53, "flows": r["count"], "bytes": 0, "first": r["first"], "last": r["last"]},
                    )
                )
        out = []
        for c_key, group in sorted(hits.items()):
            lines = [
                f"{addr}:{s['port']} listed by {why} ({s['flows']} flows, {human_bytes(s['bytes'])})"
                for addr, why, s in group[:10]
            ]
            out.append(
                finding(
                    self.rule,
                    c_key,
                    ctx,
                    "; ".join(lines),
                    count=sum(s["flows"] for _, _, s in group),
                    first=min(s["first"] for _, _, s in group if s["first"] is not None),
                    last=max(s["last"] for _, _, s in group if s["last"] is not None),
                    extra={"indicators": sorted({a for a, _, _ in group})[:50]},
                )
            )
        return out
