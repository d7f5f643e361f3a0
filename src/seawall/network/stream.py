"""The network analyzer as a stream: raw lines in (VPC Flow Logs text, Hubble JSON), partial
aggregates folded batch by batch, the detectors run over the aggregates at `flush()`, and the
whole state saved by `snapshot()` (seawall.network.snapshot: JSON + Arrow IPC) so that a
restarted service resumes where it was.

    stream = NETWORK.open_stream(NetworkOptions(source="vpc-flow", inventory=[...]))
    stream.feed(Batch(lines=[b"version account-id ...", b"2 123 eni-1 ..."], origin="s3://.../x.log"))
    findings = stream.flush()        # every finding so far, with its counts
    blob = stream.snapshot()         # NETWORK.open_stream(options, blob) resumes

Network findings are decided over the aggregates, so `feed` returns none: `flush` (at the end or
at any checkpoint; the stream goes on after it) runs the detectors and returns them all.
"""

from __future__ import annotations

import time
from typing import Any

from seawall.analyzers import Batch
from seawall.core import Finding, Report, Target
from seawall.core.errors import InputError
from seawall.network import Analysis, run_detectors
from seawall.network.base import skips_of
from seawall.network.baseline import Baseline
from seawall.network.context import Context
from seawall.network.engine import Collector
from seawall.network.intel import Intel
from seawall.network.inventory import Inventory
from seawall.network.options import NetworkOptions
from seawall.network.snapshot import dump, load
from seawall.network.sources import open_lines

_MAX_ORIGINS = 100


class NetworkStream:
    def __init__(self, options: NetworkOptions, state: bytes | None = None) -> None:
        self.options = options
        self.reader = open_lines(options.source, options)
        self.baseline = Baseline.load(options.baseline) if options.baseline is not None else None
        self.intel = Intel.load(list(options.intel), options.max_json_bytes)
        self.inventory = Inventory.load(list(options.inventory), options.max_json_bytes)
        self.context = Context.load(list(options.context), options.max_json_bytes)
        self.collector = Collector(self.inventory, options, self.context)
        self.origins: list[str] = []
        self.findings: list[Finding] = []
        self.seconds = 0.0
        if state is not None:
            self._restore(state)

    def feed(self, batch: Batch) -> list[Finding]:
        started = time.perf_counter()
        if batch.origin not in self.origins and len(self.origins) < _MAX_ORIGINS:
            self.origins.append(batch.origin)
        flows = self.reader.parse_lines(batch.lines, batch.origin)
        if flows is not None:
            self.collector.add(flows)
        self.seconds += time.perf_counter() - started
        return []

    def analysis(self) -> Analysis:
        data = self.collector.finish(self.reader.names)
        stats: dict[str, Any] = {
            "source": self.options.source,
            **self.reader.stats.to_dict(),
            "edges": data.edges.height,
            "dns_names": data.dns.height,
            "inventory_addresses": len(self.inventory.by_ip) + len(self.inventory.by_ip_port),
        }
        return Analysis(source=self.options.source, paths=list(self.origins), data=data,
                        inventory=self.inventory, stats=stats, warnings=list(self.reader.warnings),
                        skips=skips_of(self.options.source, self.reader.stats), context=self.context)

    def flush(self) -> list[Finding]:
        self.findings = run_detectors(self.analysis(), self.options, self.baseline, self.intel)
        return list(self.findings)

    def snapshot(self) -> bytes:
        manifest, tables = self.collector.state()
        manifest.update({
            "source": self.options.source,
            "origins": self.origins,
            "reader": self.reader.state(),
            "stats": self.reader.stats.to_dict(),
            "warnings": self.reader.warnings[-100:],
        })
        return dump(manifest, tables)

    def _restore(self, blob: bytes) -> None:
        manifest, tables = load(blob)
        if manifest.get("source") != self.options.source:
            raise InputError(f"network snapshot of source {manifest.get('source')!r}, "
                             f"not {self.options.source!r}")
        self.collector.restore(manifest, tables)
        try:
            self.origins = [str(o) for o in manifest.get("origins", [])]
            self.reader.restore(dict(manifest.get("reader", {})))
            stats = dict(manifest.get("stats", {}))
            self.reader.stats.files = int(stats.get("files", 0))
            self.reader.stats.records = int(stats.get("records", 0))
            self.reader.stats.flows = int(stats.get("flows", 0))
            self.reader.stats.skipped = {str(k): int(v) for k, v in dict(stats.get("skipped", {})).items()}
            self.reader.warnings[:] = [str(w) for w in manifest.get("warnings", [])]
        except (TypeError, ValueError) as exc:
            raise InputError(f"damaged network snapshot: {exc}") from exc

    def report(self) -> Report:
        analysis = self.analysis()
        findings = self.findings or run_detectors(analysis, self.options, self.baseline, self.intel)
        return Report(
            target=Target(kind="flows", name=f"{self.options.source}: " + ", ".join(self.origins)[:200],
                          metadata=analysis.stats),
            findings=list(findings),
            warnings=list(analysis.warnings),
            skips=list(analysis.skips),
        )

    def close(self) -> None:
        self.findings = []
