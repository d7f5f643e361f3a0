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
from sqlalchemy import Connection, Engine, bindparam, create_engine, event, exists, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from seawall.core import Finding
from seawall.core.errors import InputError
from seawall.service import incidents as incident_logic
from seawall.service.tables import audit_log, findings, sources, suppressions, workloads
from seawall.service.timeutil import normalize, now_iso
from seawall.service.workloads import WorkloadRef, workload_of


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
        """Findings by id, in batches: one SELECT of the stored ones, INSERTs and UPDATEs as
        executemany, incidents placed in memory (incidents.Placer) and grown per incident, the
        workloads touched once each. The same outcome as placing the findings one by one."""
        if not changed:
            return 0
        latest: dict[str, Finding] = {}
        for f in changed:  # the last state of each finding wins (counts are absolute)
            latest[f.id] = f
        ids = list(latest)
        existing: dict[str, Any] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            for stored in conn.execute(
                select(
                    findings.c.id,
                    findings.c.count,
                    findings.c.incident_id,
                    findings.c.first_seen,
                    findings.c.last_seen,
                    findings.c.suppressed,
                ).where(findings.c.id.in_(part))
            ).mappings():
                existing[stored["id"]] = stored
        now = now_iso()
        fresh: list[tuple[str, Finding, WorkloadRef, int, str, str]] = []
        updates: list[dict[str, Any]] = []
        grows: dict[int, list[Any]] = {}  # incident id -> [events delta, first, last]
        touched: dict[str, list[Any]] = {}  # workload key -> [ref, first, last, finding]
        for fid, f in latest.items():
            ref = workload_of(f.resource)
            count = f.count if f.count is not None else 1
            first = normalize(f.first_seen) or now
            last = normalize(f.last_seen) or first
            old = existing.get(fid)
            if old is None:
                fresh.append((fid, f, ref, count, first, last))
            else:
                delta = count - int(old["count"])
                first = min(first, old["first_seen"])
                last = max(last, old["last_seen"])
                if delta == 0 and last == old["last_seen"] and first == old["first_seen"]:
                    continue  # a replay: nothing moves
                updates.append(
                    {
                        "b_id": fid,
                        "b_count": count,
                        "b_first": first,
                        "b_last": last,
                        "b_doc": json_dumps(f.to_dict()),
                    }
                )
                if old["incident_id"] is not None:
                    g = grows.setdefault(int(old["incident_id"]), [0, first, last])
                    g[0] += max(delta, 0)
                    g[1], g[2] = min(g[1], first), max(g[2], last)
            t = touched.get(ref.key)
            if t is None:
                touched[ref.key] = [ref, first, last, f]
            else:
                t[1], t[2] = min(t[1], first), max(t[2], last)
                if not _digest_of(t[3]) and _digest_of(f):
                    t[3] = f
        if updates:
            conn.execute(
                update(findings)
                .where(findings.c.id == bindparam("b_id"))
                .values(
                    count=bindparam("b_count"),
                    first_seen=bindparam("b_first"),
                    last_seen=bindparam("b_last"),
                    doc=bindparam("b_doc"),
                    updated_at=now,
                ),
                updates,
            )
        for iid, (delta, first, last) in grows.items():
            incident_logic.grow(conn, iid, delta, first, last)
        if fresh:
            suppressed_by = self._active_suppressions(conn)
            placer = incident_logic.Placer(conn, self.incident_window, source)
            placing = [x for x in fresh if incident_logic.makes_incident(x[1])]
            if placing:
                placer.load(
                    {x[2].key[:512] for x in placing}, min(x[4] for x in placing), max(x[5] for x in placing)
                )
            rows: list[dict[str, Any]] = []
            joins: list[tuple[dict[str, Any], dict[str, Any]]] = []
            for fid, f, ref, count, first, last in fresh:
                suppressed = any(rule in (f.rule, "*") and wl in (ref.key, "*") for rule, wl in suppressed_by)
                row: dict[str, Any] = {
                    "id": fid,
                    "kind": f.kind.value,
                    "rule": f.rule[:255],
                    "title": f.title,
                    "severity": f.severity.value,
                    "severity_rank": f.severity.rank,
                    "workload": ref.key[:512],
                    "namespace": ref.namespace,
                    "source": source,
                    "incident_id": None,
                    "count": count,
                    "first_seen": first,
                    "last_seen": last,
                    "attack": "|" + "|".join(f.attack) + "|" if f.attack else "",
                    "suppressed": suppressed,
                    "doc": json_dumps(f.to_dict()),
                    "created_at": now,
                    "updated_at": now,
                }
                if not suppressed and incident_logic.makes_incident(f):
                    joins.append((row, placer.place(ref, f, count, first, last)))
                rows.append(row)
            placer.flush()
            for joined, incident in joins:
                joined["incident_id"] = incident["id"]
            conn.execute(insert(findings), rows)
        _touch_workloads(conn, touched)
        return len(fresh)

    # -- findings of a scheduled job (scan, audit): replaced per run ---------------------------
    def store_report(
        self,
        source: str,
        found: Sequence[Finding],
        images: dict[str, str] | None = None,
        complete: bool = False,
        labels: dict[str, dict[str, str]] | None = None,
    ) -> int:
        """A scheduled job's findings. After a `complete` run, the job's earlier vulnerability,
        misconfiguration and secret findings that it no longer reports are deleted (fixed).
        `labels` (digest -> the scan report's bounded, redacted image labels) are kept with the
        image in the workloads that run it (the workload's `images` JSON)."""
        with self.write() as conn:
            new = self._upsert(conn, source, found)
            for ref, digest in (images or {}).items():
                _add_image(conn, ref, digest, (labels or {}).get(digest))
            if complete:
                keep = {f.id for f in found}
                stale = [
                    r[0]
                    for r in conn.execute(
                        select(findings.c.id).where(
                            findings.c.source == source, findings.c.kind.not_in(("detection", "exposure"))
                        )
                    )
                    if r[0] not in keep
                ]
                for i in range(0, len(stale), 500):
                    conn.execute(findings.delete().where(findings.c.id.in_(stale[i : i + 500])))
            conn.execute(
                update(sources)
                .where(sources.c.name == source)
                .values(
                    findings_out=sources.c.findings_out + new, last_event_at=now_iso(), updated_at=now_iso()
                )
            )
            return new

    def known_workloads(self) -> dict[str, list[dict[str, str]]]:
        """Every workload's key and the images seen for it (for the scheduled jobs)."""
        try:
            with self.read() as conn:
                rows = conn.execute(select(workloads.c.key, workloads.c.images)).all()
            return {r[0]: orjson.loads(r[1]) for r in rows}
        except StoreUnavailable:
            return {}

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


def _digest_of(f: Finding) -> str | None:
    digest = (f.extra or {}).get("image_digest") if f.extra else None
    return str(digest) if digest else None


def _touch_workloads(conn: Connection, touched: dict[str, list[Any]]) -> None:
    """Workload rows made or widened to the findings' times (one SELECT for all of them)."""
    if not touched:
        return
    keys = {k[:512]: v for k, v in touched.items()}
    have: dict[str, tuple[str, str]] = {}
    key_list = sorted(keys)
    for i in range(0, len(key_list), 500):
        for row in conn.execute(
            select(workloads.c.key, workloads.c.first_seen, workloads.c.last_seen).where(
                workloads.c.key.in_(key_list[i : i + 500])
            )
        ):
            have[row[0]] = (row[1], row[2])
    new_rows = []
    widened: list[dict[str, str]] = []
    for key, (ref, first, last, f) in keys.items():
        old = have.get(key)
        if old is None:
            images: list[dict[str, str]] = []
            digest = _digest_of(f)
            if digest:
                images.append({"ref": str(f.extra.get("image", "")), "digest": digest})
            new_rows.append(
                {
                    "key": key,
                    "type": ref.type[:64],
                    "namespace": ref.namespace,
                    "name": ref.name[:512],
                    "images": json_dumps(images),
                    "first_seen": first,
                    "last_seen": last,
                }
            )
        else:
            if first < old[0] or last > old[1]:
                widened.append({"b_key": key, "b_first": min(first, old[0]), "b_last": max(last, old[1])})
            digest = _digest_of(f)
            if digest:
                _add_workload_image(conn, key, str(f.extra.get("image", "")), digest)
    if widened:
        conn.execute(
            update(workloads)
            .where(workloads.c.key == bindparam("b_key"))
            .values(first_seen=bindparam("b_first"), last_seen=bindparam("b_last")),
            widened,
        )
    if new_rows:
        conn.execute(insert(workloads), new_rows)


def _add_workload_image(conn: Connection, key: str, ref: str, digest: str) -> None:
    row = conn.execute(select(workloads.c.images).where(workloads.c.key == key)).first()
    if row is None:
        return
    images = orjson.loads(row[0])
    if not any(i.get("digest") == digest for i in images):
        images.append({"ref": ref, "digest": digest})
        conn.execute(update(workloads).where(workloads.c.key == key).values(images=json_dumps(images)))


def _add_image(conn: Connection, ref: str, digest: str, labels: dict[str, str] | None = None) -> None:
    """Remember which workloads run an image (by the workload keys that name it), and the image's
    labels of its last scan with every workload's entry of that digest."""
    for row in conn.execute(select(workloads.c.key, workloads.c.images)).all():
        images = orjson.loads(row[1])
        changed = False
        if row[0].endswith("/" + ref.rsplit("/", 1)[-1].split(":")[0]) and not any(
            i.get("digest") == digest for i in images
        ):
            images.append({"ref": ref, "digest": digest})
            changed = True
        if labels is not None:
            for i in images:
                if i.get("digest") == digest and i.get("labels") != labels:
                    i["labels"] = labels
                    changed = True
        if changed:
            conn.execute(update(workloads).where(workloads.c.key == row[0]).values(images=json_dumps(images)))


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
