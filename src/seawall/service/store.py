"""The findings store: SQLite (WAL) in the data dir by default, PostgreSQL through a URL.

Writes go through `Store.commit`: the findings a pipeline decided since its last commit, its
source's checkpoint and analyzer snapshot, and its counters, in ONE transaction. A finding is
upserted by its stable id and its count *set* from the analyzer's absolute count (never added
to), so a replay after a crash changes nothing; incidents and counters are moved by the
difference between the stored and the new count, which is zero on a replay.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, exists, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from seawall.core import Finding
from seawall.core.errors import InputError
from seawall.service import incidents as incident_logic
from seawall.service.tables import audit_log, findings, sources, suppressions, workloads
from seawall.service.timeutil import normalize, now_iso
from seawall.service.workloads import workload_of


class StoreUnavailable(Exception):
    """The database cannot be reached or is locked: callers retry (ingestion keeps spooling)."""


@dataclass(slots=True)
class SourceState:
    checkpoint: dict[str, Any] = field(default_factory=dict)
    snapshot: bytes | None = None
    events_in: int = 0
    findings_out: int = 0


@dataclass(slots=True)
class Counters:
    """What a pipeline adds to its source's row at a commit."""

    events_in: int = 0
    malformed: int = 0
    dropped: int = 0
    last_event_at: str | None = None


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"


def create(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception:
        raise InputError(f"database URL {url[:40]!r}... cannot be parsed") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 5, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed, pool_pre_ping=True, pool_size=8, max_overflow=8, connect_args={"connect_timeout": 5}
        )
    raise InputError(f"database {_safe_url(url)}: only sqlite:/// and postgresql:// URLs are supported")


def json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class Store:
    def __init__(self, url: str, incident_window: float = 3600.0) -> None:
        self.url = url
        self.safe_url = _safe_url(url)
        self.engine = create(url)
        self.incident_window = incident_window
        self.write_lock = threading.Lock()  # one writing transaction at a time in this process

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # -- schema ------------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (idempotent)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            raise InputError(f"database {self.safe_url}: {_reason(exc)}") from None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One writing transaction; the database being down or locked is StoreUnavailable."""
        with self.write_lock:
            try:
                with self.engine.begin() as conn:
                    yield conn
            except SQLAlchemyError as exc:
                raise StoreUnavailable(_reason(exc)) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreUnavailable(_reason(exc)) from exc

    # -- sources -----------------------------------------------------------------------------
    def load_source(self, name: str, kind: str) -> SourceState:
        with self.write() as conn:
            row = conn.execute(select(sources).where(sources.c.name == name)).mappings().first()
            if row is None:
                conn.execute(
                    insert(sources).values(
                        name=name,
                        type=kind,
                        checkpoint="{}",
                        snapshot=None,
                        events_in=0,
                        findings_out=0,
                        malformed=0,
                        dropped=0,
                        errors=0,
                        updated_at=now_iso(),
                    )
                )
                return SourceState()
            if row["type"] != kind:  # the source changed type: start it afresh
                conn.execute(
                    update(sources)
                    .where(sources.c.name == name)
                    .values(type=kind, checkpoint="{}", snapshot=None, updated_at=now_iso())
                )
                return SourceState()
            return SourceState(
                orjson.loads(row["checkpoint"] or "{}"),
                row["snapshot"],
                row["events_in"],
                row["findings_out"],
            )

    def commit(
        self,
        source: str,
        changed: Sequence[Finding],
        checkpoint: dict[str, Any],
        snapshot: bytes | None,
        counters: Counters,
    ) -> int:
        """Findings + checkpoint + snapshot + counters in one transaction. Returns new findings."""
        with self.write() as conn:
            new = self._upsert(conn, source, changed)
            values: dict[str, Any] = {
                "checkpoint": json_dumps(checkpoint),
                "snapshot": snapshot,
                "events_in": sources.c.events_in + counters.events_in,
                "findings_out": sources.c.findings_out + new,
                "malformed": sources.c.malformed + counters.malformed,
                "dropped": sources.c.dropped + counters.dropped,
                "updated_at": now_iso(),
            }
            if counters.last_event_at:
                values["last_event_at"] = counters.last_event_at
            conn.execute(update(sources).where(sources.c.name == source).values(**values))
            return new

    def record_error(self, source: str, message: str) -> None:
        try:
            with self.write() as conn:
                conn.execute(
                    update(sources)
                    .where(sources.c.name == source)
                    .values(errors=sources.c.errors + 1, last_error=message[:1000], updated_at=now_iso())
                )
        except StoreUnavailable:
            pass

    def _active_suppressions(self, conn: Connection) -> list[tuple[str, str]]:
        now = now_iso()
        rows = conn.execute(
            select(suppressions.c.rule, suppressions.c.workload).where(
                (suppressions.c.expires_at.is_(None)) | (suppressions.c.expires_at > now)
            )
        )
        return [(r[0], r[1]) for r in rows]

    def _upsert(self, conn: Connection, source: str, changed: Sequence[Finding]) -> int:
        if not changed:
            return 0
        latest: dict[str, Finding] = {}
        for f in changed:  # the last state of each finding wins (counts are absolute)
            latest[f.id] = f
        ids = list(latest)
        existing: dict[str, Any] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            for row in conn.execute(
                select(
                    findings.c.id,
                    findings.c.count,
                    findings.c.incident_id,
                    findings.c.first_seen,
                    findings.c.last_seen,
                    findings.c.suppressed,
                ).where(findings.c.id.in_(part))
            ).mappings():
                existing[row["id"]] = row
        suppressed_by = self._active_suppressions(conn)
        now = now_iso()
        new = 0
        for fid, f in latest.items():
            ref = workload_of(f.resource)
            count = f.count if f.count is not None else 1
            first = normalize(f.first_seen) or now
            last = normalize(f.last_seen) or first
            doc = f.to_dict()
            old = existing.get(fid)
            if old is None:
                new += 1
                suppressed = any(rule in (f.rule, "*") and wl in (ref.key, "*") for rule, wl in suppressed_by)
                incident_id = None
                if not suppressed and incident_logic.makes_incident(f):
                    incident_id = incident_logic.place(
                        conn, ref, f, count, first, last, source, self.incident_window
                    )
                conn.execute(
                    insert(findings).values(
                        id=fid,
                        kind=f.kind.value,
                        rule=f.rule[:255],
                        title=f.title,
                        severity=f.severity.value,
                        severity_rank=f.severity.rank,
                        workload=ref.key[:512],
                        namespace=ref.namespace,
                        source=source,
                        incident_id=incident_id,
                        count=count,
                        first_seen=first,
                        last_seen=last,
                        attack="|" + "|".join(f.attack) + "|" if f.attack else "",
                        suppressed=suppressed,
                        doc=json_dumps(doc),
                        created_at=now,
                        updated_at=now,
                    )
                )
                _touch_workload(conn, ref, first, last, f)
                continue
            delta = count - int(old["count"])
            first = min(first, old["first_seen"])
            last = max(last, old["last_seen"])
            if delta == 0 and last == old["last_seen"] and first == old["first_seen"]:
                continue  # a replay: nothing moves
            conn.execute(
                update(findings)
                .where(findings.c.id == fid)
                .values(count=count, first_seen=first, last_seen=last, doc=json_dumps(doc), updated_at=now)
            )
            if old["incident_id"] is not None:
                incident_logic.grow(conn, old["incident_id"], max(delta, 0), first, last)
            _touch_workload(conn, ref, first, last, f)
        return new

    # -- findings of a scheduled job (scan, audit): replaced per run ---------------------------
    def store_report(
        self, source: str, found: Sequence[Finding], images: dict[str, str] | None = None
    ) -> int:
        with self.write() as conn:
            new = self._upsert(conn, source, found)
            for ref, digest in (images or {}).items():
                _add_image(conn, ref, digest)
            conn.execute(
                update(sources)
                .where(sources.c.name == source)
                .values(
                    findings_out=sources.c.findings_out + new, last_event_at=now_iso(), updated_at=now_iso()
                )
            )
            return new

    # -- audit trail -------------------------------------------------------------------------
    @staticmethod
    def audit(conn: Connection, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        conn.execute(
            insert(audit_log).values(
                at=now_iso(),
                actor=actor[:255],
                action=action[:64],
                target=target[:512],
                detail=json_dumps(detail),
            )
        )

    # -- retention -----------------------------------------------------------------------------
    def purge_findings(self, before: str) -> int:
        """Findings last seen before `before` (and incidents left without findings) are deleted."""
        from seawall.service.tables import incidents

        with self.write() as conn:
            n = conn.execute(findings.delete().where(findings.c.last_seen < before)).rowcount or 0
            orphan = ~exists().where(findings.c.incident_id == incidents.c.id)
            conn.execute(incidents.delete().where(incidents.c.last_seen < before, orphan))
            if n:
                self.audit(conn, "seawall", "retention", "findings", {"deleted": n, "before": before})
            return n


def _touch_workload(conn: Connection, ref: Any, first: str, last: str, f: Finding) -> None:
    row = conn.execute(
        select(workloads.c.first_seen, workloads.c.last_seen).where(workloads.c.key == ref.key[:512])
    ).first()
    if row is None:
        images: list[dict[str, str]] = []
        digest = (f.extra or {}).get("image_digest") if f.extra else None
        if digest:
            images.append({"ref": str(f.extra.get("image", "")), "digest": str(digest)})
        conn.execute(
            insert(workloads).values(
                key=ref.key[:512],
                type=ref.type[:64],
                namespace=ref.namespace,
                name=ref.name[:512],
                images=json_dumps(images),
                first_seen=first,
                last_seen=last,
            )
        )
    elif first < row[0] or last > row[1]:
        conn.execute(
            update(workloads)
            .where(workloads.c.key == ref.key[:512])
            .values(first_seen=min(first, row[0]), last_seen=max(last, row[1]))
        )


def _add_image(conn: Connection, ref: str, digest: str) -> None:
    """Remember which workloads run an image (by the workload keys that name it)."""
    for row in conn.execute(select(workloads.c.key, workloads.c.images)).all():
        if row[0].endswith("/" + ref.rsplit("/", 1)[-1].split(":")[0]):
            images = orjson.loads(row[1])
            if not any(i.get("digest") == digest for i in images):
                images.append({"ref": ref, "digest": digest})
                conn.execute(
                    update(workloads).where(workloads.c.key == row[0]).values(images=json_dumps(images))
                )


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
