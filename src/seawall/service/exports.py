"""Exports of the store's findings: AWS Security Hub (ASFF) and Amazon Security Lake (OCSF Parquet).

    exports:
      securityhub: {region: eu-west-1, account: "111122223333", interval: 300,
                    eks_cluster: prod, endpoint_url: ..., profile: ...}
      securitylake: {dest: s3://aws-security-data-lake-eu-west-1-xyz/ext/, region: eu-west-1,
                     account: "111122223333", interval: 3600, endpoint_url: ...}

`seawall export securityhub|securitylake --config FILE` runs one export now; the service runs each
export that has an `interval` on that schedule. Both read what changed since their watermark
(findings whose row changed, and findings of incidents whose state changed), so a run over a
million stored findings reads only what is new.

Security Hub: each finding's ASFF is fingerprinted (everything but UpdatedAt); only findings whose
fingerprint differs from what was last sent are imported, in batches of <= 100 findings and
<= 6 MB, at <= 10 requests per second. The same `Id` is sent again for an update, so a finding is
never added twice: running the export twice adds nothing. Failures (FailedFindings, throttling
after botocore's retries) are recorded, and those findings are sent again by the next run.

Security Lake: the findings that changed since the last run are written as OCSF events, one
Parquet file per class and event day (seawall.export.securitylake), to a directory or S3.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, or_, select, update

from seawall.core.errors import InputError
from seawall.service.queries import finding_out
from seawall.service.store import Store, StoreUnavailable, json_dumps
from seawall.service.tables import export_runs, export_state, findings, incidents
from seawall.service.timeutil import now_iso

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from seawall.service.server import Service

PAGE = 2000
NAMES = ("securityhub", "securitylake")


@dataclass(slots=True)
class Result:
    name: str
    considered: int = 0
    sent: int = 0
    unchanged: int = 0
    failed: int = 0
    skipped: int = 0
    files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    throttled_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "considered": self.considered,
            "sent": self.sent,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "skipped": self.skipped,
            "seconds": round(self.seconds, 3),
        }
        if self.files:
            out["files"] = len(self.files)
        if self.throttled_seconds:
            out["rate_limited_seconds"] = round(self.throttled_seconds, 2)
        return out


def settings(doc: dict[str, Any], name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    section = (doc.get("exports") or {}) if isinstance(doc.get("exports") or {}, dict) else None
    if section is None:
        raise InputError("exports: must be a mapping")
    value = section.get(name) or {}
    if not isinstance(value, dict):
        raise InputError(f"exports.{name}: must be a mapping")
    return {**value, **{k: v for k, v in (overrides or {}).items() if v is not None}}


def _client(service: str, s: dict[str, Any]) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.Session(profile_name=s.get("profile")) if s.get("profile") else boto3.Session()
    return session.client(
        service,
        region_name=s.get("region"),
        endpoint_url=s.get("endpoint_url"),
        config=Config(retries={"mode": "standard", "max_attempts": 8}, connect_timeout=10, read_timeout=60),
    )


def _account(s: dict[str, Any]) -> str:
    account = s.get("account")
    if account:
        return str(account)
    try:
        return str(_client("sts", s).get_caller_identity()["Account"])
    except Exception as exc:
        raise InputError(f"exports: no account given and STS GetCallerIdentity failed: {exc}"[:300]) from None


def _run_row(conn: Any, name: str) -> Any:
    row = conn.execute(select(export_runs).where(export_runs.c.name == name)).mappings().first()
    if row is None:
        conn.execute(insert(export_runs).values(name=name, runs=0, exported=0))
        row = conn.execute(select(export_runs).where(export_runs.c.name == name)).mappings().first()
    return row


def _changed(store: Store, watermark: str | None) -> Iterator[list[tuple[dict[str, Any], str | None]]]:
    """Pages of (finding, its incident's state) changed after `watermark` (all when None)."""
    q = (
        select(findings, incidents.c.state.label("incident_state"))
        .select_from(findings.outerjoin(incidents, incidents.c.id == findings.c.incident_id))
        .order_by(findings.c.id)
    )
    if watermark:
        q = q.where(or_(findings.c.updated_at > watermark, incidents.c.updated_at > watermark))
    last = ""
    while True:
        with store.read() as conn:
            rows = conn.execute(q.where(findings.c.id > last).limit(PAGE)).mappings().all()
        if not rows:
            return
        yield [(finding_out(r), r["incident_state"]) for r in rows]
        last = rows[-1]["id"]


def _finish(store: Store, name: str, started: str, result: Result, ok: bool) -> None:
    with store.write() as conn:
        values: dict[str, Any] = {
            "runs": export_runs.c.runs + 1,
            "exported": export_runs.c.exported + result.sent,
            "last_run_at": now_iso(),
            "last_error": "; ".join(result.errors)[:1000] or None,
            "last_result": json_dumps(result.summary()),
        }
        if ok:
            values.update(watermark=started, last_ok_at=now_iso())
        conn.execute(update(export_runs).where(export_runs.c.name == name).values(**values))


def run_securityhub(store: Store, s: dict[str, Any], client: Any = None, full: bool = False) -> Result:
    from seawall.export import securityhub as sh

    began = time.perf_counter()
    result = Result("securityhub")
    region = s.get("region")
    if not region:
        raise InputError("Security Hub export needs a region (exports.securityhub.region or --region)")
    ctx = sh.Context(
        region=str(region),
        account=_account(s),
        partition=str(s.get("partition", "aws")),
        eks_cluster=str(s["eks_cluster"]) if s.get("eks_cluster") else None,
        console_url=str(s.get("console_url") or "").rstrip("/"),
    )
    client = client or _client("securityhub", s)
    limiter = sh.RateLimiter(float(s.get("rate", sh.RATE_PER_SECOND)), int(s.get("burst", sh.BURST)))
    started = now_iso()
    with store.write() as conn:
        watermark = None if full else _run_row(conn, "securityhub")["watermark"]
    ok = True
    for page in _changed(store, watermark):
        result.considered += len(page)
        ids = [f["id"] for f, _ in page]
        with store.read() as conn:
            known = {
                r[0]: r[1]
                for r in conn.execute(
                    select(export_state.c.finding_id, export_state.c.fingerprint).where(
                        export_state.c.target == "securityhub", export_state.c.finding_id.in_(ids)
                    )
                )
            }
        todo: list[dict[str, Any]] = []
        prints: dict[str, tuple[str, str, str, str]] = {}
        for f, state in page:
            asff = sh.fit(sh.to_asff(f, ctx, state, started))
            if asff is None:
                result.skipped += 1
                result.errors.append(f"finding {f['id']}: over 240 KB even when cut")
                continue
            fp = sh.fingerprint(asff)
            if known.get(f["id"]) == fp:
                result.unchanged += 1
                continue
            todo.append(asff)
            prints[asff["Id"]] = (f["id"], fp, asff["RecordState"], asff["Workflow"]["Status"])
        for batch in sh.batches(todo):
            try:
                done, failed = sh.import_batch(client, batch, limiter)
            except Exception as exc:  # throttled past botocore's retries, endpoint down, denied
                ok = False
                result.failed += len(batch)
                result.errors.append(f"BatchImportFindings: {type(exc).__name__}: {exc}"[:300])
                continue
            for fail in failed[:5]:
                result.errors.append(
                    f"{fail.get('Id')}: {fail.get('ErrorCode')}: {fail.get('ErrorMessage')}"[:300]
                )
            if failed:
                ok = False
                result.failed += len(failed)
            _remember(store, [prints[i] for i in done], started)
            result.sent += len(done)
    result.throttled_seconds = limiter.waited
    result.seconds = time.perf_counter() - began
    _finish(store, "securityhub", started, result, ok)
    return result


def _remember(store: Store, rows: list[tuple[str, str, str, str]], at: str) -> None:
    if not rows:
        return
    with store.write() as conn:
        ids = [r[0] for r in rows]
        have = {
            r[0]
            for r in conn.execute(
                select(export_state.c.finding_id).where(
                    export_state.c.target == "securityhub", export_state.c.finding_id.in_(ids)
                )
            )
        }
        for fid, fp, record_state, workflow in rows:
            values = {
                "fingerprint": fp,
                "record_state": record_state,
                "workflow": workflow,
                "exported_at": at,
            }
            if fid in have:
                conn.execute(
                    update(export_state)
                    .where(export_state.c.target == "securityhub", export_state.c.finding_id == fid)
                    .values(**values)
                )
            else:
                conn.execute(insert(export_state).values(target="securityhub", finding_id=fid, **values))


def run_securitylake(store: Store, s: dict[str, Any], s3_client: Any = None, full: bool = False) -> Result:
    from seawall.core import Finding
    from seawall.export.securitylake import write_findings

    began = time.perf_counter()
    result = Result("securitylake")
    dest = s.get("dest")
    if not dest:
        raise InputError("Security Lake export needs a destination (exports.securitylake.dest or --dest)")
    region, account = s.get("region"), s.get("account") or _account(s)
    if not region:
        raise InputError("Security Lake export needs a region (exports.securitylake.region or --region)")
    if str(dest).startswith("s3://") and s3_client is None:
        s3_client = _client("s3", s)
    started = now_iso()
    with store.write() as conn:
        watermark = None if full else _run_row(conn, "securitylake")["watermark"]
    ok = True
    for page in _changed(store, watermark):
        result.considered += len(page)
        items = []
        for f, _state in page:
            try:
                items.append(Finding.from_dict(f))
            except (KeyError, ValueError, TypeError) as exc:
                result.skipped += 1
                result.errors.append(f"finding {f.get('id')}: {exc}"[:200])
        try:
            written = write_findings(
                items,
                str(dest),
                str(region),
                str(account),
                source_prefix=str(s.get("source_prefix", "seawall")),
                s3_client=s3_client,
            )
        except Exception as exc:
            ok = False
            result.failed += len(items)
            result.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            break
        result.files.extend(w.key for w in written)
        result.sent += sum(w.rows for w in written)
    result.seconds = time.perf_counter() - began
    _finish(store, "securitylake", started, result, ok)
    return result


RUNNERS = {"securityhub": run_securityhub, "securitylake": run_securitylake}


class ExportScheduler(threading.Thread):
    """One export run now and then every `interval` seconds (errors recorded, never raised)."""

    def __init__(self, service: Service, name: str, s: dict[str, Any]) -> None:
        super().__init__(name=f"export-{name}", daemon=True)
        self.service = service
        self.export = name
        self.settings = s
        self.interval = max(float(s.get("interval", 300)), 1.0)
        self.stop_event = threading.Event()
        self.runs = 0
        self.last_error: str | None = None

    @classmethod
    def from_service(cls, service: Service) -> list[ExportScheduler]:
        section = service.config.doc.get("exports") or {}
        if not isinstance(section, dict):
            raise InputError("exports: must be a mapping")
        out = []
        for name in section:
            if name not in RUNNERS:
                raise InputError(f"exports: unknown export {name!r}; choose among {', '.join(RUNNERS)}")
            s = settings(service.config.doc, name)
            if s.get("interval"):
                out.append(cls(service, name, s))
        return out

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                RUNNERS[self.export](self.service.store, self.settings)
                self.last_error = None
            except StoreUnavailable as exc:
                self.last_error = f"database unavailable: {exc}"
            except Exception as exc:  # an export must never take the service down
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                try:
                    with self.service.store.write() as conn:
                        _run_row(conn, self.export)
                        conn.execute(
                            update(export_runs)
                            .where(export_runs.c.name == self.export)
                            .values(
                                runs=export_runs.c.runs + 1, last_run_at=now_iso(), last_error=self.last_error
                            )
                        )
                except StoreUnavailable:
                    pass
            self.runs += 1
            self.stop_event.wait(self.interval)

    def stop(self) -> None:
        self.stop_event.set()


def collect(service: Service) -> Iterator[Metric]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    exported = CounterMetricFamily("seawall_export_findings", "Findings exported", labels=["export"])
    failed = GaugeMetricFamily(
        "seawall_export_last_run_failed", "1 when the last run had errors", labels=["export"]
    )
    try:
        with service.store.read() as conn:
            for r in conn.execute(select(export_runs)).mappings():
                exported.add_metric([r["name"]], float(r["exported"]))
                failed.add_metric([r["name"]], 1.0 if r["last_error"] else 0.0)
    except StoreUnavailable:
        pass
    yield exported
    yield failed


__all__ = ["NAMES", "Result"]
