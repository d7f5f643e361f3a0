"""`/metrics` in the Prometheus text format (prometheus-client's exposition).

seawall_events_in_total{source}          events committed to the store (after detection)
seawall_events_received_total{source}    events acknowledged by a receiver (spooled)
seawall_findings_changed_total{source}   findings opened or grown
seawall_requests_rejected_total{reason}  4xx/503 answers (bad, oversized, unauthenticated, spool full)
seawall_requests_refused_total{source,reason}  the same, per receiving source
seawall_dropped_total{source}            events dropped (counted, never silent)
seawall_malformed_total{source}          lines that were not events
seawall_lag_events{source}               events received and not yet committed
seawall_queue_bytes{source}              spooled bytes not yet committed
seawall_store_up                         1 when the last commit or read reached the database
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from threading import Lock
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

if TYPE_CHECKING:
    from seawall.service.server import Service

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Rejections:
    def __init__(self) -> None:
        self.lock = Lock()
        self.counts: Counter[str] = Counter()

    def add(self, reason: str) -> None:
        with self.lock:
            self.counts[reason] += 1


class ServiceCollector:
    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        svc = self.service
        fams: dict[str, Any] = {
            "events_in": CounterMetricFamily(
                "seawall_events_in", "Events committed to the store", labels=["source"]
            ),
            "received": CounterMetricFamily(
                "seawall_events_received", "Events acknowledged by a receiver", labels=["source"]
            ),
            "findings": CounterMetricFamily(
                "seawall_findings_changed", "Findings opened or grown", labels=["source"]
            ),
            "dropped": CounterMetricFamily("seawall_dropped", "Events dropped", labels=["source"]),
            "malformed": CounterMetricFamily(
                "seawall_malformed", "Lines that were not events", labels=["source"]
            ),
            "lag": GaugeMetricFamily(
                "seawall_lag_events", "Events received, not yet committed", labels=["source"]
            ),
            "queue": GaugeMetricFamily(
                "seawall_queue_bytes", "Spooled bytes not yet committed", labels=["source"]
            ),
            "refused": CounterMetricFamily(
                "seawall_requests_refused",
                "Requests a receiver refused (4xx/503), by reason",
                labels=["source", "reason"],
            ),
        }
        rows = svc.source_rows_cached()
        for name, source in svc.sources.items():
            row = rows.get(name, {})
            fams["events_in"].add_metric([name], float(row.get("events_in") or 0))
            fams["dropped"].add_metric([name], float(row.get("dropped") or 0))
            fams["malformed"].add_metric([name], float(row.get("malformed") or 0))
            pipe = svc.pipelines.get(name)
            if pipe is not None:
                fams["findings"].add_metric([name], float(pipe.stats.findings_changed))
            health = source.health()
            if "received_events" in health:
                fams["received"].add_metric([name], float(health["received_events"]))
            fams["lag"].add_metric([name], float(health.get("lag_events", 0)))
            fams["queue"].add_metric([name], float(health.get("spool_pending_bytes", 0)))
            for reason, n in sorted((health.get("refused") or {}).items()):
                fams["refused"].add_metric([name, reason], float(n))
        yield from fams.values()
        rejected = CounterMetricFamily(
            "seawall_requests_rejected", "Requests answered 4xx or 503", labels=["reason"]
        )
        with svc.rejections.lock:
            for reason, n in sorted(svc.rejections.counts.items()):
                rejected.add_metric([reason], float(n))
        yield rejected
        up = GaugeMetricFamily("seawall_store_up", "1 when the database answers")
        up.add_metric([], 0.0 if svc.store_down() else 1.0)
        yield up
        from seawall.service import background  # notifications (outbox, failures) and exports

        yield from background.collect(svc)


def render(service: Service) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(service))
    return generate_latest(registry)
