"""The HTTP API: FastAPI under /api/v1 (OpenAPI at /api/v1/openapi.json), /healthz, /metrics.

    GET  /healthz                                  200 without a token
    GET  /metrics                                  Prometheus text (viewer token unless metrics_public)
    POST /api/v1/ingest/k8s-audit[/SOURCE]         audit.k8s.io/v1 EventList         (ingest, admin)
    POST /api/v1/ingest/falco[/SOURCE]             Falco http_output / Falcosidekick (ingest, admin)
    GET  /api/v1/findings  /findings/{id}          filters + cursor pagination        (viewer)
    GET  /api/v1/incidents /incidents/{id}         timeline, known vulnerabilities    (viewer)
    POST /api/v1/incidents/{id}/state              open|acknowledged|resolved|false_positive (analyst)
    GET  /api/v1/workloads  /sources  /events      (viewer)
    GET  /api/v1/suppressions                      (viewer)
    GET|POST /api/v1/tokens, DELETE /tokens/{id}   (admin)
    GET  /api/v1/audit                             the audit trail (admin)

Bad input is a 4xx with a one-line `detail`; every refusal is counted (seawall_requests_rejected_total).
"""

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from seawall import __version__
from seawall.service import queries
from seawall.service.auth import ROLES, Principal, allows, create_token, list_tokens, revoke_token
from seawall.service.queries import BadFilter
from seawall.service.store import StoreUnavailable

if TYPE_CHECKING:
    from seawall.service.server import Service


class StateChange(BaseModel):
    state: str = Field(description="open, acknowledged, resolved or false_positive")
    note: str | None = Field(default=None, max_length=2000)
    suppress: bool = Field(
        default=False, description="false_positive only: suppress its rules for this workload"
    )
    suppress_days: float | None = Field(default=None, gt=0, le=3650)


class NewToken(BaseModel):
    role: str
    name: str = Field(min_length=1, max_length=200)


def build(service: "Service") -> FastAPI:
    app = FastAPI(
        title="seawall",
        version=__version__,
        docs_url="/api/v1/docs",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
    )
    limits = service.config.limits

    def reject(reason: str, status: int, detail: str, headers: dict[str, str] | None = None) -> HTTPException:
        service.rejections.add(reason)
        return HTTPException(status_code=status, detail=detail, headers=headers)

    def refused_by(request: Request, reason: str) -> None:
        """A refused request to a receiver is counted for that source too."""
        parts = request.url.path.split("/")  # "", api, v1, ingest, KIND[, SOURCE]
        if len(parts) >= 5 and parts[3] == "ingest":
            kind = {"k8s-audit": "k8s-audit-webhook", "falco": "falco-http"}.get(parts[4], "")
            receiver = service.receiver_for(kind, parts[5] if len(parts) > 5 else None)
            if receiver is not None and hasattr(receiver, "refuse"):
                receiver.refuse(reason)

    def principal_for(needed: str) -> Any:
        def dependency(request: Request) -> Principal:
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                refused_by(request, "unauthenticated")
                raise reject(
                    "unauthenticated", 401, "a bearer token is required", {"WWW-Authenticate": "Bearer"}
                )
            found = service.tokens.lookup(token.strip())
            if found is None:
                refused_by(request, "unauthenticated")
                raise reject(
                    "unauthenticated", 401, "unknown or revoked token", {"WWW-Authenticate": "Bearer"}
                )
            if not allows(found.role, needed):
                refused_by(request, "forbidden")
                raise reject("forbidden", 403, f"role {found.role} may not do this (needs {needed})")
            return found

        return dependency

    viewer = Annotated[Principal, Depends(principal_for("viewer"))]
    analyst = Annotated[Principal, Depends(principal_for("analyst"))]
    admin = Annotated[Principal, Depends(principal_for("admin"))]
    ingester = Annotated[Principal, Depends(principal_for("ingest"))]

    @app.exception_handler(StoreUnavailable)
    async def _store_down(_request: Request, exc: StoreUnavailable) -> JSONResponse:
        service.rejections.add("store_unavailable")
        return JSONResponse(
            {"detail": "the database is unavailable; retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(BadFilter)
    async def _bad_filter(_request: Request, exc: BadFilter) -> JSONResponse:
        service.rejections.add("bad_request")
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        service.rejections.add("bad_request")
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}"[:300]}, status_code=422)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "store": "down" if service.store_down() else "up"}

    if service.config.metrics_public:

        @app.get("/metrics", include_in_schema=False)
        def metrics_open() -> Response:
            from seawall.service.metrics import CONTENT_TYPE, render

            return Response(render(service), media_type=CONTENT_TYPE)
    else:

        @app.get("/metrics", include_in_schema=False)
        def metrics(_who: viewer) -> Response:
            from seawall.service.metrics import CONTENT_TYPE, render

            return Response(render(service), media_type=CONTENT_TYPE)

    # -- ingestion ---------------------------------------------------------------------------
    async def _body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limits.max_request_bytes):
            raise reject("too_large", 413, f"request larger than {limits.max_request_bytes} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limits.max_request_bytes:
                raise reject("too_large", 413, f"request larger than {limits.max_request_bytes} bytes")
            chunks.append(chunk)
        if request.headers.get("content-encoding", "identity").lower() not in ("identity", ""):
            raise reject("bad_request", 415, "compressed request bodies are not accepted")
        return b"".join(chunks)

    async def _ingest(kind: str, name: str | None, request: Request) -> JSONResponse:
        receiver = service.receiver_for(kind, name)
        if receiver is None:
            raise reject(
                "unknown_source", 404, f"no {kind} source named {name}" if name else f"no {kind} source"
            )
        try:
            body = await _body(request)
        except HTTPException as exc:
            if hasattr(receiver, "refuse"):
                receiver.refuse("too_large" if exc.status_code == 413 else "bad_request")
            raise
        status, message, events = await run_in_threadpool(
            receiver.receive, body, request.headers.get("content-type", "")
        )
        if status != 200:
            service.rejections.add(
                {400: "bad_request", 413: "too_large", 503: "spool_full"}.get(status, "other")
            )
            return JSONResponse(
                {"detail": message[:300]},
                status_code=status,
                headers={"Retry-After": "2"} if status == 503 else None,
            )
        return JSONResponse({"status": message, "events": events})

    @app.post("/api/v1/ingest/k8s-audit", tags=["ingest"])
    async def ingest_k8s(request: Request, _who: ingester) -> JSONResponse:
        """An `audit.k8s.io/v1` EventList, as the API server's audit webhook sends it."""
        return await _ingest("k8s-audit-webhook", None, request)

    @app.post("/api/v1/ingest/k8s-audit/{source}", tags=["ingest"])
    async def ingest_k8s_named(source: str, request: Request, _who: ingester) -> JSONResponse:
        return await _ingest("k8s-audit-webhook", source, request)

    @app.post("/api/v1/ingest/falco", tags=["ingest"])
    async def ingest_falco(request: Request, _who: ingester) -> JSONResponse:
        """Falco's http_output (json_output: true) or Falcosidekick's webhook output."""
        return await _ingest("falco-http", None, request)

    @app.post("/api/v1/ingest/falco/{source}", tags=["ingest"])
    async def ingest_falco_named(source: str, request: Request, _who: ingester) -> JSONResponse:
        return await _ingest("falco-http", source, request)

    # -- reading ---------------------------------------------------------------------------------
    def _filters(request: Request) -> queries.Filters:
        return queries.parse_filters(dict(request.query_params))

    Limit = Annotated[int | None, Query(ge=1, le=queries.MAX_LIMIT)]

    @app.get("/api/v1/findings", tags=["findings"])
    def findings(
        request: Request,
        _who: viewer,
        cursor: str | None = None,
        limit: Limit = None,
        severity: str | None = None,
        min_severity: str | None = None,
        kind: str | None = None,
        workload: str | None = None,
        namespace: str | None = None,
        technique: str | None = None,
        since: str | None = None,
        until: str | None = None,
        rule: str | None = None,
        source: str | None = None,
        incident: str | None = None,
    ) -> dict[str, Any]:
        """Findings in the report contract's shape plus count, first_seen, last_seen; newest first."""
        f = _filters(request)
        with service.store.read() as conn:
            return queries.list_findings(conn, f, cursor, limit)

    @app.get("/api/v1/findings/{finding_id}", tags=["findings"])
    def finding(finding_id: str, _who: viewer) -> dict[str, Any]:
        with service.store.read() as conn:
            found = queries.get_finding(conn, finding_id[:64])
        if found is None:
            raise HTTPException(404, "no such finding")
        return found

    @app.get("/api/v1/incidents", tags=["incidents"])
    def incidents(
        request: Request,
        _who: viewer,
        cursor: str | None = None,
        limit: Limit = None,
        state: str | None = None,
        severity: str | None = None,
        min_severity: str | None = None,
        workload: str | None = None,
        namespace: str | None = None,
        technique: str | None = None,
        since: str | None = None,
        until: str | None = None,
        source: str | None = None,
    ) -> dict[str, Any]:
        """Incidents (findings per workload and time window) with their workload and finding ids."""
        f = _filters(request)
        with service.store.read() as conn:
            return queries.list_incidents(conn, f, cursor, limit)

    @app.get("/api/v1/incidents/{incident_id}", tags=["incidents"])
    def incident(incident_id: int, _who: viewer) -> dict[str, Any]:
        """One incident: its timeline across sources, techniques, known vulnerabilities and posture."""
        with service.store.read() as conn:
            found = queries.get_incident(conn, incident_id)
        if found is None:
            raise HTTPException(404, "no such incident")
        return found

    @app.post("/api/v1/incidents/{incident_id}/state", tags=["incidents"])
    def incident_state(incident_id: int, change: StateChange, who: analyst) -> dict[str, Any]:
        found = queries.set_incident_state(
            service.store,
            incident_id,
            change.state,
            who.actor,
            change.note,
            change.suppress,
            change.suppress_days,
        )
        if found is None:
            raise HTTPException(404, "no such incident")
        return found

    @app.get("/api/v1/suppressions", tags=["incidents"])
    def suppressions(_who: viewer) -> dict[str, Any]:
        with service.store.read() as conn:
            return {"items": queries.list_suppressions(conn)}

    @app.get("/api/v1/workloads", tags=["workloads"])
    def workloads(
        request: Request,
        _who: viewer,
        limit: Limit = None,
        workload: str | None = None,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        f = _filters(request)
        with service.store.read() as conn:
            return {"items": queries.list_workloads(conn, f, limit)}

    @app.get("/api/v1/sources", tags=["sources"])
    def sources(_who: viewer) -> dict[str, Any]:
        """Each source's health: events in, last event, lag, errors, dropped, spool."""
        return {"items": service.source_health()}

    @app.get("/api/v1/events", tags=["events"])
    def events(
        _who: viewer,
        source: str | None = None,
        workload: str | None = None,
        namespace: str | None = None,
        since: str | None = None,
        until: str | None = None,
        contains: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    ) -> dict[str, Any]:
        """Raw events from the archive (by source and hour), filtered by workload and time."""
        from seawall.service.archive import EventQuery, read_events
        from seawall.service.timeutil import parse_iso

        try:
            q = EventQuery(
                source=source,
                workload=workload,
                namespace=namespace,
                since=parse_iso(since) if since else None,
                until=parse_iso(until) if until else None,
                contains=contains,
                limit=limit,
            )
        except ValueError:
            raise BadFilter("since/until: not an ISO 8601 time") from None
        return {"items": read_events(service.archive_root, service.formats, q)}

    # -- administration ------------------------------------------------------------------------
    @app.get("/api/v1/tokens", tags=["admin"])
    def tokens(_who: admin) -> dict[str, Any]:
        return {"items": list_tokens(service.store)}

    @app.post("/api/v1/tokens", tags=["admin"], status_code=201)
    def token_create(new: NewToken, who: admin) -> dict[str, Any]:
        if new.role not in ROLES:
            raise BadFilter(f"role: one of {', '.join(ROLES)}")
        token_id, token = create_token(service.store, new.role, new.name, who.actor)
        service.tokens.refresh()
        return {"id": token_id, "token": token, "role": new.role, "name": new.name}

    @app.delete("/api/v1/tokens/{token_id}", tags=["admin"])
    def token_revoke(token_id: int, who: admin) -> dict[str, Any]:
        if not revoke_token(service.store, token_id, who.actor):
            raise HTTPException(404, "no such active token")
        service.tokens.refresh()
        return {"id": token_id, "revoked": True}

    @app.get("/api/v1/audit", tags=["admin"])
    def audit(_who: admin, cursor: str | None = None, limit: Limit = None) -> dict[str, Any]:
        if cursor is not None and not cursor.isdigit():
            raise BadFilter("cursor: not a cursor this API returned")
        with service.store.read() as conn:
            return queries.list_audit(conn, int(cursor) if cursor else None, limit)

    from seawall.service.console import mount as mount_console  # the web console: GET / and its pages

    mount_console(app, service)
    return app
