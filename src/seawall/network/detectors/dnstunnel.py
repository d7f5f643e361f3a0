"""DNS tunneling: long high-entropy labels, or many unique subdomains under one domain."""

from __future__ import annotations

import math
from collections import Counter

import polars as pl

from seawall.core.models import Finding
from seawall.network.detectors.base import Context, as_int, finding

_IGNORED = (".arpa", ".local", ".internal", ".localdomain")
_SLD = {"co", "com", "net", "org", "gov", "edu", "ac", "ne", "or"}


def entropy(text: str) -> float:
    if not text:
        return 0.0
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def base_domain(name: str) -> str:
    parts = name.split(".")
    if len(parts) >= 3 and len(parts[-1]) == 2 and parts[-2] in _SLD:
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


class DnsTunneling:
    rule = "net-dns-tunneling"

    def run(self, ctx: Context) -> list[Finding]:
        o = ctx.options
        dns = ctx.data.dns.with_columns(pl.col("qname").str.to_lowercase().str.strip_chars_end("."))
        dns = dns.filter(
            ~pl.any_horizontal([pl.col("qname").str.ends_with(s) for s in _IGNORED])
            & pl.col("qname").str.contains(r"\.")
        )
        if not dns.height:
            return []
        names = dns["qname"].unique()
        longest = {n: max(n.split(".")[:-2] or [""], key=len) for n in names.to_list()}
        suspicious = {
            n
            for n, lab in longest.items()
            if len(lab) >= o.dns_label_length and entropy(lab) >= o.dns_label_entropy
        }
        dns = dns.with_columns(
            pl.col("qname").map_elements(base_domain, return_dtype=pl.String).alias("base"),
            pl.col("qname").is_in(list(suspicious)).alias("long"),
        )
        table = (
            dns.group_by(["src_key", "base"])
            .agg(
                pl.col("qname").n_unique().alias("unique"),
                pl.col("long").sum().alias("long_n"),
                pl.col("count").sum(),
                pl.col("first").min(),
                pl.col("last").max(),
                pl.col("qname").filter(pl.col("long")).min().alias("example"),
            )
            .filter((pl.col("unique") >= o.dns_unique_subdomains) | (pl.col("long_n") >= o.dns_long_queries))
        )
        out = []
        for (key,), group in table.sort("unique", descending=True).group_by(["src_key"], maintain_order=True):
            lines = [
                f"{r['base']}: {r['unique']} unique names, {r['long_n']} long high-entropy"
                + (f" (e.g. {r['example'][:80]})" if r["example"] else "")
                for r in group.head(5).iter_rows(named=True)
            ]
            out.append(
                finding(
                    self.rule,
                    str(key),
                    ctx,
                    "; ".join(lines),
                    count=int(group["count"].sum()),
                    first=as_int(group["first"].min()),
                    last=as_int(group["last"].max()),
                    extra={"domains": group["base"].to_list()[:20]},
                )
            )
        return out
