"""The service's threads for issue 12: the notifier and the scheduled exports.

    start(service)   service.notifier (when `notifications:` has channels) and service.exports
                     (one thread per entry of `exports:` with an `interval`) are started
    stop(service)    they are told to stop
    collectors(...)  their /metrics families
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from seawall.service.server import Service


def prepare() -> None:
    """Import the console's modules (and Jinja2) in the main thread before any other thread runs:
    pySigma imports Jinja2 too, and two threads importing one package at once can see it half
    initialized."""
    import jinja2  # noqa: F401

    import seawall.service.console.views  # noqa: F401


def start(service: Service) -> None:
    from seawall.service.exports import ExportScheduler
    from seawall.service.notify.worker import Notifier

    notifier = Notifier(service)
    service.notifier = notifier
    if notifier.enabled:
        notifier.start()
    service.exports = ExportScheduler.from_service(service)
    for runner in service.exports:
        runner.start()


def stop(service: Service) -> None:
    notifier = getattr(service, "notifier", None)
    if notifier is not None:
        notifier.stop()
    for runner in getattr(service, "exports", []):
        runner.stop()


def collect(service: Service) -> Iterator[Metric]:
    notifier: Any = getattr(service, "notifier", None)
    if notifier is not None:
        yield from notifier.collect()
    from seawall.service.exports import collect as export_metrics

    yield from export_metrics(service)
