"""The notifier: a thread of the service that turns incident changes into outbox rows and
delivers them, every `interval` seconds (and at once when woken)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select

from seawall.service.notify import Channel, channel_class
from seawall.service.notify import config as notify_config
from seawall.service.notify.outbox import Counters, deliver, scan
from seawall.service.store import StoreUnavailable
from seawall.service.tables import outbox

if TYPE_CHECKING:
    from seawall.service.server import Service

log = logging.getLogger("seawall.notify")


class Notifier(threading.Thread):
    def __init__(self, service: Service) -> None:
        super().__init__(name="notifier", daemon=True)
        self.service = service
        self.settings = notify_config.parse(service.config.doc.get("notifications"))
        self.channels: dict[str, Channel] = {}
        for spec in self.settings.channels:
            self.channels[spec["name"]] = channel_class(str(spec["type"]))(spec)
        self.counters = Counters()
        self.wake = threading.Event()
        self.stop_event = threading.Event()
        self.last_error: str | None = None
        self.passes = 0

    @property
    def enabled(self) -> bool:
        return bool(self.channels)

    def describe(self) -> list[dict[str, Any]]:
        return [{"name": c.name, "type": c.type, "target": c.target()} for c in self.channels.values()]

    def run_once(self) -> None:
        store = self.service.store
        scan(store, self.settings, self.counters)
        deliver(store, self.channels, self.settings, self.counters)
        self.passes += 1

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.run_once()
                self.last_error = None
            except StoreUnavailable as exc:
                self.last_error = f"database unavailable: {exc}"
            except Exception as exc:  # the notifier must never take the service down
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("notifier: %s", self.last_error)
            self.wake.wait(self.settings.interval)
            self.wake.clear()

    def stop(self) -> None:
        self.stop_event.set()
        self.wake.set()

    def collect(self) -> Iterator[Metric]:
        """seawall_notifications_{enqueued,delivered,failed,dead}_total{channel} and
        seawall_outbox_messages{channel,state}."""
        for key, help_text in (
            ("enqueued", "Notification messages put in the outbox"),
            ("delivered", "Notification messages delivered"),
            ("failed", "Failed delivery attempts (the message stays in the outbox)"),
            ("dead", "Messages given up after their last attempt (shown in the console)"),
        ):
            fam = CounterMetricFamily(f"seawall_notifications_{key}", help_text, labels=["channel"])
            table = getattr(self.counters, key)
            for name in self.channels:
                fam.add_metric([name], float(table.get(name, 0)))
            yield fam
        gauge = GaugeMetricFamily(
            "seawall_outbox_messages", "Outbox messages by channel and state", labels=["channel", "state"]
        )
        try:
            with self.service.store.read() as conn:
                for ch, state, n in conn.execute(
                    select(outbox.c.channel, outbox.c.state, func.count()).group_by(
                        outbox.c.channel, outbox.c.state
                    )
                ):
                    gauge.add_metric([str(ch), str(state)], float(n))
        except StoreUnavailable:
            pass
        yield gauge
