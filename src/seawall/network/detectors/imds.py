"""Instance metadata service (169.254.169.254) reached by workloads that should not."""

from __future__ import annotations

from seawall.core.models import Finding
from seawall.network.detectors.base import Context, finding, matches


class MetadataAccess:
    rule = "net-imds-access"

    def run(self, ctx: Context) -> list[Finding]:
        out = []
        for r in ctx.data.imds.sort("c_key").iter_rows(named=True):
            if matches(r["c_key"], ctx.options.imds_allow):
                continue
            out.append(
                finding(
                    self.rule,
                    r["c_key"],
                    ctx,
                    f"{r['flows']} flow(s) to the instance metadata service",
                    count=r["flows"],
                    first=r["first"],
                    last=r["last"],
                )
            )
        return out
