"""Network traffic: flows from VPC Flow Logs, Hubble and pcap, attributed to workloads,
drawn as a service map, and checked by detectors.

    result = seawall.network.detect("vpc-flow", ["flows.log.gz"], NetworkOptions(inventory=[...]))
    result.findings, result.warnings, result.stats
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seawall.core.models import Finding, Skip
from seawall.network.base import skips_of
from seawall.network.baseline import Baseline
from seawall.network.context import Context
from seawall.network.detectors.rank import fold_addresses, rank
from seawall.network.engine import Collected, Collector
from seawall.network.intel import Intel
from seawall.network.inventory import Inventory
from seawall.network.options import NetworkOptions
from seawall.network.sources import SOURCES, open_source

__all__ = ["SOURCES", "Analysis", "NetworkOptions", "NetworkResult", "analyze", "detect"]


@dataclass
class Analysis:
    source: str
    paths: list[str]
    data: Collected
    inventory: Inventory
    stats: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    context: Context | None = None

    def all_warnings(self) -> list[str]:
        return [*self.warnings, *(s.message() for s in self.skips)]


@dataclass
class NetworkResult:
    findings: list[Finding]
    warnings: list[str]
    stats: dict[str, Any]
    analysis: Analysis | None = None
    skips: list[Skip] = field(default_factory=list)

    def all_warnings(self) -> list[str]:
        return [*self.warnings, *(s.message() for s in self.skips)]


def analyze(source: str, paths: list[str], options: NetworkOptions | None = None) -> Analysis:
    """Read every file once and fold it into the partial aggregates the map and detectors use."""
    options = options or NetworkOptions()
    started = time.perf_counter()
    reader = open_source(source, options)
    inventory = Inventory.load(list(options.inventory), options.max_json_bytes)
    context = Context.load(list(options.context), options.max_json_bytes)
    collector = Collector(inventory, options, context)
    for batch in reader.read([str(p) for p in paths]):
        collector.add(batch)
    data = collector.finish(reader.names, final=True)
    stats: dict[str, Any] = {
        "source": source,
        **reader.stats.to_dict(),
        "edges": data.edges.height,
        "dns_names": data.dns.height,
        "inventory_addresses": len(inventory.by_ip) + len(inventory.by_ip_port),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return Analysis(
        source=source,
        paths=[str(p) for p in paths],
        data=data,
        inventory=inventory,
        stats=stats,
        warnings=list(reader.warnings),
        skips=skips_of(source, reader.stats),
        context=context,
    )


def run_detectors(
    analysis: Analysis, options: NetworkOptions, baseline: Baseline | None = None, intel: Intel | None = None
) -> list[Finding]:
    from seawall.network.detectors import Context as DetectorContext
    from seawall.network.detectors import all_detectors

    if baseline is None and options.baseline:
        baseline = Baseline.load(options.baseline)
    if intel is None:
        intel = Intel.load(list(options.intel), options.max_json_bytes)
    ctx = DetectorContext(
        data=analysis.data,
        options=options,
        inventory=analysis.inventory,
        baseline=baseline,
        intel=intel,
        location=analysis.paths[0] if len(analysis.paths) == 1 else None,
        env=analysis.context or Context.load(list(options.context), options.max_json_bytes),
    )
    findings: list[Finding] = []
    for detector in all_detectors():
        findings.extend(fold_addresses(detector.run(ctx), options.max_address_findings))
    return rank(findings)


def detect(source: str, paths: list[str], options: NetworkOptions | None = None) -> NetworkResult:
    """`seawall detect --source vpc-flow|hubble|pcap FILE...`: attribution + every detector."""
    options = options or NetworkOptions()
    # baseline and intel first: a bad file fails fast, before gigabytes of flows are read
    baseline = Baseline.load(options.baseline) if options.baseline is not None else None
    intel = Intel.load(list(options.intel), options.max_json_bytes)
    started = time.perf_counter()
    analysis = analyze(source, paths, options)
    findings = run_detectors(analysis, options, baseline, intel)
    stats = {**analysis.stats, "findings": len(findings), "seconds": round(time.perf_counter() - started, 3)}
    return NetworkResult(findings=findings, warnings=analysis.warnings, stats=stats, analysis=analysis,
                         skips=analysis.skips)


def save_baseline(analysis: Analysis, path: Path) -> Baseline:
    baseline = Baseline.learn(analysis.data.edges, analysis.data.egress)
    baseline.save(path)
    return baseline
