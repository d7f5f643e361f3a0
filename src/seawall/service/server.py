"""The running service: the store, the sources with their pipelines, the jobs, the API server.

service = Service(config)          # migrates the store, builds the sources
service.start()                    # pipelines and jobs in threads
service.serve()                    # uvicorn on config.listen until SIGTERM/SIGINT, then stop()
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from seawall.core.errors import InputError
from seawall.service import archive as archive_mod
from seawall.service.archive import ArchiveWriter
from seawall.service.auth import TokenCache
from seawall.service.config import ServiceConfig
from seawall.service.metrics import Rejections
from seawall.service.pipeline import Pipeline
from seawall.service.sources import source_class
from seawall.service.sources.base import Context, Job, Receiver, Source
from seawall.service.store import Store, StoreUnavailable
from seawall.service.timeutil import ago

log = logging.getLogger("seawall.service")


class JobRunner(threading.Thread):
    """Runs a scheduled job now and then every `interval` seconds; findings into the store."""

    def __init__(self, service: Service, job: Job) -> None:
        super().__init__(name=f"job-{job.name}", daemon=True)
        self.service = service
        self.job = job
        self.stop_event = threading.Event()
        self.runs = 0
        self.last_error: str | None = None
        self.last_warnings: list[str] = []
        self.last_run: float | None = None

    def run(self) -> None:
        store = self.service.store
        with contextlib.suppress(StoreUnavailable):
            store.load_source(self.job.name, self.job.type)
        while not self.stop_event.is_set():
            try:
                found, images, warnings, complete = self.job.run(store.known_workloads())
                while not self.stop_event.is_set():
                    try:
                        store.store_report(
                            self.job.name, found, images, complete=complete,
                            labels=getattr(self.job, "image_labels", None),  # scan jobs: digest -> labels
                        )
                        break
                    except StoreUnavailable:
                        self.stop_event.wait(2.0)
                self.runs += 1
                self.last_error = None
                self.last_warnings = [w[:300] for w in warnings[:20]]
            except Exception as exc:  # a job must never take the service down
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                store.record_error(self.job.name, self.last_error)
            self.last_run = time.time()
            self.stop_event.wait(max(self.job.interval, 1.0))


class Service:
    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.database_url, incident_window=config.incident_window)
        self.store.migrate()
        self.tokens = TokenCache(self.store, config.token_refresh_seconds)
        self.tokens.refresh()
        self.rejections = Rejections()
        self.sources: dict[str, Source] = {}
        self.receivers: dict[str, Receiver] = {}
        self.jobs: dict[str, Job] = {}
        self.pipelines: dict[str, Pipeline] = {}
        self.runners: dict[str, JobRunner] = {}
        self.formats: dict[str, str] = {}
        self._rows_cache: tuple[float, dict[str, dict[str, Any]]] = (0.0, {})
        self._stop = threading.Event()
        self._retention: threading.Thread | None = None
        self.notifier: Any = None  # seawall.service.background: notifications and scheduled exports
        self.exports: list[Any] = []
        for sc in config.sources:
            cls = source_class(sc.type)
            wake = threading.Event()
            obj = cls(sc, Context(data_dir=config.data_dir, limits=config.limits, wake=wake))
            if isinstance(obj, Source):
                self.sources[sc.name] = obj
                self.formats[sc.name] = obj.format
                if isinstance(obj, Receiver):
                    self.receivers[sc.name] = obj
                self.pipelines[sc.name] = Pipeline(
                    self.store,
                    obj,
                    ArchiveWriter(self.archive_root, sc.name, obj.format),
                    config.limits,
                    config.detect_window,
                    wake=wake,
                )
            elif isinstance(obj, Job):
                self.jobs[sc.name] = obj
                self.runners[sc.name] = JobRunner(self, obj)
            else:
                raise InputError(f"source {sc.name}: type {sc.type} is neither a stream nor a job")

    @property
    def archive_root(self) -> Any:
        return self.config.data_dir / "archive"

    def receiver_for(self, kind: str, name: str | None) -> Receiver | None:
        if name is not None:
            r = self.receivers.get(name)
            return r if r is not None and r.type == kind else None
        return next((r for r in self.receivers.values() if r.type == kind), None)

    def start(self, wait: float = 30.0) -> None:
        from seawall.service import background

        background.prepare()  # imports shared with the pipelines' threads happen here, first
        for p in self.pipelines.values():
            p.start()
        for r in self.runners.values():
            r.start()
        self._retention = threading.Thread(target=self._retention_loop, name="retention", daemon=True)
        self._retention.start()
        background.start(self)
        deadline = time.monotonic() + wait
        for p in self.pipelines.values():
            p.ready.wait(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        from seawall.service import background

        background.stop(self)
        for p in self.pipelines.values():
            p.stop()
        for r in self.runners.values():
            r.stop_event.set()
        for p in self.pipelines.values():
            p.join(timeout=30)
        for s in self.sources.values():
            s.close()
        self.store.close()

    def store_down(self) -> bool:
        return any(p.stats.store_down_since is not None for p in self.pipelines.values())

    def source_rows_cached(self, max_age: float = 1.0) -> dict[str, dict[str, Any]]:
        from seawall.service.queries import source_rows

        at, rows = self._rows_cache
        if time.monotonic() - at < max_age:
            return rows
        try:
            with self.store.read() as conn:
                rows = source_rows(conn)
        except StoreUnavailable:
            return rows
        self._rows_cache = (time.monotonic(), rows)
        return rows

    def source_health(self) -> list[dict[str, Any]]:
        # live state first, then the committed counters: a commit in between shows as lag 0 with
        # the counters that include it (never lag 0 with counters from before it)
        live = {name: src.health() for name, src in self.sources.items()}
        rows = self.source_rows_cached(max_age=0.0)
        out = []
        for sc in self.config.sources:
            row = rows.get(sc.name, {})
            item: dict[str, Any] = {
                "name": sc.name,
                "type": sc.type,
                **{
                    k: row.get(k)
                    for k in (
                        "events_in",
                        "findings_out",
                        "malformed",
                        "dropped",
                        "errors",
                        "last_event_at",
                        "last_error",
                    )
                },
            }
            src = self.sources.get(sc.name)
            if src is not None:
                item["format"] = src.format
                item.update(live[sc.name])
                pipe = self.pipelines[sc.name]
                item["state"] = pipe.stats.state
                item["pipeline_error"] = pipe.stats.error
                item["commits"] = pipe.stats.commits
            runner = self.runners.get(sc.name)
            if runner is not None:
                item["state"] = "scheduled"
                item["runs"] = runner.runs
                item["interval"] = runner.job.interval
                item["job_error"] = runner.last_error
                item["job_warnings"] = runner.last_warnings
            out.append(item)
        return out

    def _retention_loop(self) -> None:
        while not self._stop.wait(60.0):
            self.apply_retention()

    def apply_retention(self) -> None:
        r = self.config.retention
        if r.archive_days > 0:
            archive_mod.purge(self.archive_root, datetime.now(UTC) - timedelta(days=r.archive_days))
        if r.findings_days > 0:
            with contextlib.suppress(StoreUnavailable):
                self.store.purge_findings(ago(r.findings_days * 86400))

    def serve(self, on_ready: Any = None) -> None:
        """Run the API server until interrupted; stops the pipelines after."""
        import asyncio

        import uvicorn

        from seawall.service.api import build

        app = build(self)
        kwargs: dict[str, Any] = {}
        if self.config.tls_cert and self.config.tls_key:
            kwargs.update(ssl_certfile=str(self.config.tls_cert), ssl_keyfile=str(self.config.tls_key))
        uconfig = uvicorn.Config(
            app,
            host=self.config.host,
            port=self.config.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=5,
            limit_concurrency=512,
            **kwargs,
        )
        server = uvicorn.Server(uconfig)
        if on_ready is not None:

            def started() -> None:
                while not server.started and not self._stop.is_set():
                    time.sleep(0.05)
                if server.started:
                    sockets = [s for srv in getattr(server, "servers", []) for s in srv.sockets]
                    port = sockets[0].getsockname()[1] if sockets else self.config.port
                    on_ready(port)

            threading.Thread(target=started, daemon=True).start()
        try:
            asyncio.run(server.serve())
        finally:
            self.stop()
