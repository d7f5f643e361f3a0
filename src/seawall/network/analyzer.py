"""The network analyzer, as `seawall.analyzers` enters it: `network`, one-shot or streaming.

    NETWORK.run(["flows.log.gz"], NetworkOptions(source="vpc-flow", inventory=[...])) -> Report
    stream = NETWORK.open_stream(NetworkOptions(source="vpc-flow"))   # seawall.network.stream
    stream.feed(Batch(lines=[...], origin="...")); stream.flush(); stream.snapshot()

Flows are attributed to workloads (inventory), aggregated, and every detector runs over the
aggregates (seawall.network.detect).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from seawall.core import Report, ReportKind, Target
from seawall.network import detect
from seawall.network.options import NetworkOptions

if TYPE_CHECKING:
    from seawall.network.stream import NetworkStream


class NetworkAnalyzer:
    name = "network"
    report_kind = ReportKind.FINDINGS

    def options(self, **values: Any) -> NetworkOptions:
        return NetworkOptions(**values)

    def run(self, target: str | Sequence[str], options: NetworkOptions) -> Report:
        paths = [target] if isinstance(target, str) else list(target)
        if options.engine == "spark":
            from seawall.spark.analyzer import run_network_on_spark

            return run_network_on_spark(paths, options)
        result = detect(options.source, paths, options)
        return Report(
            target=Target(kind="flows", name=f"{options.source}: " + ", ".join(paths)[:200],
                          metadata={k: v for k, v in result.stats.items() if k != "seconds"}),
            findings=list(result.findings),
            warnings=list(result.warnings),
            skips=list(result.skips),
        )


    def open_stream(self, options: NetworkOptions, state: bytes | None = None) -> NetworkStream:
        from seawall.network.stream import NetworkStream

        return NetworkStream(options, state)


NETWORK = NetworkAnalyzer()
