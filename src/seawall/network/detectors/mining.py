"""Crypto-mining pools: mining ports to the internet, and pool names seen in DNS/SNI/Host."""

from __future__ import annotations

import re

import polars as pl

from seawall.core.models import Finding, Severity
from seawall.network.detectors.base import Context, finding

POOL_NAMES = re.compile(
    r"(^|\.)(x?pool|pool\d*|mining|mine)[.-]|\.pool\.|xmr|monero|nanopool|minexmr|supportxmr|hashvault|"
    r"moneroocean|c3pool|f2pool|2miners|ethermine|nicehash|minergate|hashcity|herominers|unmineable|"
    r"kryptex|cryptonight|stratum"
)


class CryptoMining:
    rule = "net-crypto-mining"

    def run(self, ctx: Context) -> list[Finding]:
        o = ctx.options
        edges = ctx.data.edges.filter(
            pl.col("c_int") & ~pl.col("s_int") & (pl.col("flows") > pl.col("rejects"))
        )
        hits: dict[str, list[str]] = {}
        named: set[str] = set()
        span: dict[str, list[int]] = {}

        def seen(key: str, first: int | None, last: int | None) -> None:
            s = span.setdefault(key, [first or 0, last or 0])
            s[0] = min(s[0], first or s[0])
            s[1] = max(s[1], last or s[1])

        pools = [a for a, names in ctx.data.names.items() if any(POOL_NAMES.search(n.lower()) for n in names)]
        edges = edges.filter(pl.col("s_port").is_in(list(o.mining_ports)) | pl.col("s_addr").is_in(pools))
        for r in edges.iter_rows(named=True):
            names = [n for n in ctx.data.names.get(r["s_addr"], ()) if POOL_NAMES.search(n.lower())]
            if names:
                hits.setdefault(r["c_key"], []).append(f"{r['s_addr']}:{r['s_port']} ({names[0]})")
                named.add(r["c_key"])
                seen(r["c_key"], r["first"], r["last"])
            elif r["s_port"] in o.mining_ports:
                hits.setdefault(r["c_key"], []).append(f"{r['s_addr']}:{r['s_port']} (mining-pool port)")
                seen(r["c_key"], r["first"], r["last"])
        for r in ctx.data.dns.iter_rows(named=True):
            if POOL_NAMES.search(str(r["qname"]).lower()):
                hits.setdefault(r["src_key"], []).append(f"DNS query {r['qname']}")
                named.add(r["src_key"])
                seen(r["src_key"], r["first"], r["last"])
        return [
            finding(
                self.rule,
                key,
                ctx,
                "; ".join(sorted(set(lines))[:10]),
                count=len(lines),
                first=span[key][0] or None,
                last=span[key][1] or None,
                severity=Severity.HIGH if key in named else Severity.MEDIUM,
            )
            for key, lines in sorted(hits.items())
        ]
