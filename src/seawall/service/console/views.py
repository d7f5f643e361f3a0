"""The console's routes (HTML, server-rendered; see __init__ for the map of pages)."""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, quote

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import RedirectResponse, Response

from seawall import __version__
from seawall.service import queries
from seawall.service.auth import allows
from seawall.service.console import data, render
from seawall.service.console import session as sessions
from seawall.service.console.session import CONSOLE_ROLES, COOKIE, LOGIN_COOKIE, Who
from seawall.service.queries import BadFilter
from seawall.service.timeutil import normalize, parse_iso, to_iso

if TYPE_CHECKING:
    from seawall.service.server import Service

MAX_FORM = 64 * 1024
STATIC = {
    "console.css": ("seawall.service.console", "static/console.css", "text/css"),
    "console.js": ("seawall.service.console", "static/console.js", "text/javascript"),
    "map.js": ("seawall.service.console", "static/map.js", "text/javascript"),
    "htmx.min.js": ("seawall.service.console", "static/vendor/htmx.min.js", "text/javascript"),
    "cytoscape.min.js": ("seawall.network", "web/vendor/cytoscape.min.js", "text/javascript"),
}
NAV = [
    ("/", "Overview", "viewer"),
    ("/incidents", "Incidents", "viewer"),
    ("/findings", "Findings", "viewer"),
    ("/workloads", "Workloads", "viewer"),
    ("/map", "Service map", "viewer"),
    ("/scans", "Scans & posture", "viewer"),
    ("/sources", "Sources", "viewer"),
    ("/notifications", "Notifications & exports", "viewer"),
    ("/audit", "Audit trail", "admin"),
]
INCIDENT_FILTERS = (
    "state",
    "severity",
    "min_severity",
    "workload",
    "namespace",
    "technique",
    "source",
    "since",
    "until",
)
FINDING_FILTERS = (
    "severity",
    "min_severity",
    "kind",
    "workload",
    "namespace",
    "technique",
    "rule",
    "source",
    "since",
    "until",
    "incident",
)


class NeedLogin(Exception):
    pass


class Denied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def form_of(request: Request) -> dict[str, str]:
    """An urlencoded form body (bounded)."""
    if request.method != "POST":
        return {}
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_FORM:
        raise Denied(413, "form too large")
    body = await request.body()
    if len(body) > MAX_FORM:
        raise Denied(413, "form too large")
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=50)
    return {k: v[0] for k, v in parsed.items()}


Form = Annotated[dict[str, str], Depends(form_of)]


def mount(app: FastAPI, service: Service) -> None:
    router = APIRouter(include_in_schema=False)
    cache = data.Aggregates(service.store, ttl=10.0)
    settings = service.config.doc.get("console") or {}
    session_hours = float(settings.get("session_hours", 12)) if isinstance(settings, dict) else 12.0
    secure = bool(service.config.tls_cert)

    from seawall.service.console import respond as respond_hooks

    def warm() -> None:  # the overview's counts, computed once before anyone asks
        import contextlib

        from seawall.service.store import StoreUnavailable

        with contextlib.suppress(StoreUnavailable), service.store.read() as conn:
            data.incident_facets(conn, queries.Filters(), cache)
            data.finding_facets(conn, queries.Filters(), cache)
            data.scan_results(conn, cache)

    threading.Thread(target=warm, name="console-warm", daemon=True).start()

    respond_hooks.install(service)

    def who_of(request: Request) -> Who | None:
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            found = service.tokens.lookup(token.strip()) if scheme.lower() == "bearer" else None
            if found is None or found.role not in CONSOLE_ROLES:
                service.rejections.add("unauthenticated")
                raise Denied(401, "unknown or revoked token")
            return Who(found, None)
        value = request.cookies.get(COOKIE)
        return sessions.lookup(service, value) if value else None

    def need(request: Request, role: str = "viewer") -> Who:
        who = who_of(request)
        if who is None:
            raise NeedLogin()
        if not allows(who.role, role):
            service.rejections.add("forbidden")
            raise Denied(403, f"role {who.role} may not do this (needs {role})")
        return who

    def change(request: Request, form: dict[str, str], role: str) -> Who:
        who = need(request, role)
        if not sessions.csrf_ok(request, who, form.get("csrf")):
            service.rejections.add("csrf")
            raise Denied(
                403, "the form is stale or came from another site (CSRF check failed); reload the page"
            )
        return who

    def ctx(request: Request, who: Who, active: str, **extra: Any) -> dict[str, Any]:
        return {
            "who": who,
            "role": who.role,
            "csrf": who.csrf or "",
            "nav": [(href, label) for href, label, role in NAV if allows(who.role, role)],
            "active": active,
            "version": __version__,
            "can": {r: allows(who.role, r) for r in ("viewer", "analyst", "admin")},
            "params": {k: v for k, v in request.query_params.items() if k != "cursor"},
            **extra,
        }

    @app.exception_handler(NeedLogin)
    async def _login(request: Request, _exc: NeedLogin) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login?next=" + quote(target, safe=""), status_code=303)

    @app.exception_handler(Denied)
    async def _denied(_request: Request, exc: Denied) -> Response:
        return render.page("error.html", status=exc.status, message=exc.message, who=None, nav=[])

    # -- static files (bundled; no CDN) --------------------------------------------------------
    @router.get("/static/{name}")
    def static(name: str) -> Response:
        entry = STATIC.get(name)
        if entry is None:
            return Response("not found", status_code=404, media_type="text/plain")
        package, path, media = entry
        body = resources.files(package).joinpath(path).read_bytes()
        return Response(
            body,
            media_type=media,
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    # -- login ---------------------------------------------------------------------------------
    def _next(value: str | None) -> str:
        if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
            return value
        return "/"

    @router.get("/login")
    def login_form(request: Request, next: str | None = None) -> Response:
        nonce = secrets.token_urlsafe(24)
        resp = render.page("login.html", nonce=nonce, next=_next(next), error=None, who=None, nav=[])
        resp.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict", secure=secure, max_age=3600)
        return resp

    @router.post("/login")
    def login(request: Request, form: Form) -> Response:
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        target = _next(form.get("next"))
        if (
            not nonce
            or not secrets.compare_digest(nonce, form.get("nonce", ""))
            or not sessions.same_origin(request)
        ):
            service.rejections.add("csrf")
            return render.page(
                "login.html",
                status=403,
                nonce=nonce or "",
                next=target,
                who=None,
                nav=[],
                error="The login form expired or came from another site: try again.",
            )
        token = form.get("token", "").strip()[:200]
        principal = service.tokens.lookup(token)
        if principal is None:  # a token created a moment ago: read the table again (logins are rare)
            service.tokens.refresh()
            principal = service.tokens.lookup(token)
        if principal is None or principal.role not in CONSOLE_ROLES:
            service.rejections.add("unauthenticated")
            return render.page(
                "login.html",
                status=401,
                nonce=nonce,
                next=target,
                who=None,
                nav=[],
                error="Unknown or revoked token (or one that may only ingest).",
            )
        value, _csrf = sessions.create(service, principal, session_hours)
        resp = RedirectResponse(target, status_code=303)
        resp.set_cookie(
            COOKIE,
            value,
            httponly=True,
            samesite="strict",
            secure=secure,
            max_age=int(session_hours * 3600),
            path="/",
        )
        resp.delete_cookie(LOGIN_COOKIE)
        return resp

    @router.post("/logout")
    def logout(request: Request, form: Form) -> Response:
        who = change(request, form, "viewer")
        sessions.end(service, who)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    # -- overview ------------------------------------------------------------------------------
    @router.get("/")
    def overview(request: Request) -> Response:
        who = need(request)
        empty = queries.Filters()
        with service.store.read() as conn:
            inc = data.incident_facets(conn, empty, cache)
            fnd = data.finding_facets(conn, empty, cache)
            recent = queries.list_incidents(conn, queries.Filters(), None, 10)["items"]
            out = data.outbox_summary(conn)
        health = service.source_health()
        return render.page(
            "overview.html",
            **ctx(
                request,
                who,
                "/",
                incidents=inc,
                findings=fnd,
                recent=recent,
                sources=health,
                outbox=out,
                severities=data.SEVERITIES,
            ),
        )

    # -- incidents -----------------------------------------------------------------------------
    def _filters(request: Request, allowed: tuple[str, ...]) -> queries.Filters:
        params: dict[str, str | None] = {k: v for k, v in request.query_params.items() if k in allowed and v}
        return queries.parse_filters(params)

    @router.get("/incidents")
    def incident_list(request: Request, cursor: str | None = None) -> Response:
        who = need(request)
        try:
            f = _filters(request, INCIDENT_FILTERS)
            with service.store.read() as conn:
                result = queries.list_incidents(conn, f, cursor, 50)
                facets = data.incident_facets(conn, f, cache)
            error = None
        except BadFilter as exc:
            result, facets, error = {"items": [], "next": None}, {"state": {}, "severity": {}}, str(exc)
        return render.page(
            "incidents.html",
            status=400 if error else 200,
            **ctx(
                request,
                who,
                "/incidents",
                result=result,
                facets=facets,
                error=error,
                severities=data.SEVERITIES,
                states=("open", "acknowledged", "resolved", "false_positive"),
            ),
        )

    @router.get("/incidents/{iid}")
    def incident_detail(request: Request, iid: int, cursor: str | None = None) -> Response:
        who = need(request)
        try:
            with service.store.read() as conn:
                inc = data.incident_page(conn, iid, cursor)
        except BadFilter as exc:
            raise Denied(400, str(exc)) from None
        if inc is None:
            raise Denied(404, "no such incident")
        around = _around(inc["first_seen"], inc["last_seen"])
        return render.page("incident.html", **ctx(request, who, "/incidents", inc=inc, around=around))

    @router.post("/incidents/{iid}/state")
    def incident_state(request: Request, iid: int, form: Form) -> Response:
        who = change(request, form, "analyst")
        state = form.get("state", "")
        days = form.get("suppress_days", "").strip()
        try:
            suppress_days = float(days) if days else None
            if suppress_days is not None and not 0 < suppress_days <= 3650:
                raise ValueError
        except ValueError:
            raise Denied(400, "suppress_days: a number of days from 1 to 3650") from None
        try:
            found = queries.set_incident_state(
                service.store,
                iid,
                state,
                who.principal.actor,
                form.get("note", "")[:2000] or None,
                form.get("suppress") in ("on", "true", "1"),
                suppress_days,
            )
        except BadFilter as exc:
            raise Denied(400, str(exc)) from None
        if found is None:
            raise Denied(404, "no such incident")
        cache.clear()
        return RedirectResponse(f"/incidents/{iid}#history", status_code=303)

    @router.get("/incidents/{iid}/isolate")
    def isolate_plan(request: Request, iid: int) -> Response:
        who = need(request, "analyst")
        with service.store.read() as conn:
            inc = data.incident_page(conn, iid, None, limit=1)
        if inc is None:
            raise Denied(404, "no such incident")
        ref, plan, why = respond_hooks.plan(service, iid)
        open_record = respond_hooks.StoreTrail(service.store).open_isolation(str(ref)) if ref else None
        return render.page(
            "isolate.html",
            **ctx(
                request,
                who,
                "/incidents",
                inc=inc,
                ref=ref,
                plan=plan,
                why=why,
                open_record=open_record,
                outcome=None,
            ),
        )

    @router.post("/incidents/{iid}/isolate")
    def isolate_apply(request: Request, iid: int, form: Form) -> Response:
        from seawall import respond
        from seawall.core.errors import SeawallError

        who = change(request, form, "admin")
        reason = form.get("reason", "").strip()[:500]
        action = form.get("action", "isolate")
        ref = respond_hooks.workload_for(service.store, iid)
        if ref is None:
            raise Denied(400, "no finding of this incident names a workload seawall can isolate")
        if not reason:
            raise Denied(400, "a reason is required (the audit trail records who asked and why)")
        try:
            if action == "release":
                outcome = respond.release(
                    ref, respond_hooks.options(service), apply=True, actor=who.principal.actor, reason=reason
                )
            else:
                outcome = respond.isolate(
                    ref, respond_hooks.options(service), apply=True, actor=who.principal.actor, reason=reason
                )
            result, ok = (outcome.record.get("result") or "ok"), True
        except SeawallError as err:
            result, ok = err.message, False
        with service.store.write() as conn:
            service.store.audit(
                conn,
                who.principal.actor,
                f"incident.{action}",
                f"incident:{iid}",
                {"workload": str(ref), "reason": reason, "result": result[:500], "ok": ok},
            )
        return RedirectResponse(f"/incidents/{iid}#history", status_code=303)

    # -- findings ------------------------------------------------------------------------------
    @router.get("/findings")
    def finding_list(request: Request, cursor: str | None = None) -> Response:
        who = need(request)
        try:
            f = _filters(request, FINDING_FILTERS)
            with service.store.read() as conn:
                result = data.findings_page(conn, f, cursor, 50)
                facets = data.finding_facets(conn, f, cache)
            error = None
        except BadFilter as exc:
            result, facets, error = {"items": [], "next": None}, {"severity": {}, "kind": {}}, str(exc)
        return render.page(
            "findings.html",
            status=400 if error else 200,
            **ctx(
                request,
                who,
                "/findings",
                result=result,
                facets=facets,
                error=error,
                severities=data.SEVERITIES,
                kinds=("detection", "exposure", "vulnerability", "misconfiguration", "secret"),
            ),
        )

    @router.get("/findings/{fid}")
    def finding_detail(request: Request, fid: str) -> Response:
        who = need(request)
        with service.store.read() as conn:
            found = queries.get_finding(conn, fid[:64])
        if found is None:
            raise Denied(404, "no such finding")
        return render.page("finding.html", **ctx(request, who, "/findings", f=found))

    # -- workloads -----------------------------------------------------------------------------
    @router.get("/workloads")
    def workload_list(request: Request, cursor: str | None = None) -> Response:
        who = need(request)
        try:
            f = _filters(request, ("workload", "namespace"))
            with service.store.read() as conn:
                result = data.workload_page(conn, f, cursor)
        except BadFilter as exc:
            raise Denied(400, str(exc)) from None
        return render.page("workloads.html", **ctx(request, who, "/workloads", result=result))

    @router.get("/workload")
    def workload_view(request: Request, key: str = "") -> Response:
        who = need(request)
        with service.store.read() as conn:
            wl = data.workload_detail(conn, key[:512])
        if wl is None:
            raise Denied(404, "no such workload")
        return render.page(
            "workload.html",
            **ctx(request, who, "/workloads", wl=wl, around=_around(wl["first_seen"], wl["last_seen"])),
        )

    # -- service map ---------------------------------------------------------------------------
    @router.get("/map")
    def service_map(
        request: Request, since: str | None = None, until: str | None = None, highlight: str | None = None
    ) -> Response:
        who = need(request)
        from seawall.service.console import netmap

        window = _window(since, until)
        doc = netmap.build(service, window[0], window[1])
        marked = netmap.highlighted(doc, highlight) if highlight else []
        return render.page(
            "map.html",
            **ctx(
                request,
                who,
                "/map",
                doc=doc,
                since=window[0],
                until=window[1],
                highlight=highlight or "",
                marked=marked,
                payload=netmap.payload(doc, marked),
            ),
        )

    # -- raw events from the archive -----------------------------------------------------------
    @router.get("/events")
    def events(
        request: Request,
        workload: str | None = None,
        source: str | None = None,
        since: str | None = None,
        until: str | None = None,
        contains: str | None = None,
    ) -> Response:
        who = need(request)
        from seawall.service.archive import EventQuery, read_events

        window = _window(since, until)
        q = EventQuery(
            source=source or None,
            workload=(workload or "").split("/")[-1] or None,
            since=parse_iso(window[0]) if window[0] else None,
            until=parse_iso(window[1]) if window[1] else None,
            contains=contains or None,
            limit=500,
        )
        items = read_events(service.archive_root, service.formats, q)
        for item in items:
            ev = item.get("event")
            item["text"] = ev if isinstance(ev, str) else orjson.dumps(ev).decode()
        return render.page(
            "events.html",
            **ctx(
                request,
                who,
                "/incidents",
                items=items,
                workload=workload or "",
                since=window[0] or "",
                until=window[1] or "",
            ),
        )

    # -- scans, sources, notifications, audit --------------------------------------------------
    @router.get("/scans")
    def scans(request: Request) -> Response:
        who = need(request)
        with service.store.read() as conn:
            result = data.scan_results(conn, cache)
        return render.page(
            "scans.html", **ctx(request, who, "/scans", result=result, severities=data.SEVERITIES)
        )

    @router.get("/sources")
    def source_list(request: Request) -> Response:
        who = need(request)
        return render.page("sources.html", **ctx(request, who, "/sources", sources=service.source_health()))

    @router.get("/notifications")
    def notifications(request: Request) -> Response:
        who = need(request)
        with service.store.read() as conn:
            out = data.outbox_summary(conn)
            exports = data.export_summary(conn)
        notifier = getattr(service, "notifier", None)
        channels = notifier.describe() if notifier is not None else []
        return render.page(
            "notifications.html",
            **ctx(request, who, "/notifications", outbox=out, exports=exports, channels=channels),
        )

    @router.post("/notifications/retry")
    def notifications_retry(request: Request, form: Form) -> Response:
        who = change(request, form, "admin")
        from seawall.service.notify.outbox import retry_dead

        n = retry_dead(service.store, who.principal.actor, form.get("channel") or None)
        notifier = getattr(service, "notifier", None)
        if notifier is not None:
            notifier.wake.set()
        return RedirectResponse(f"/notifications?retried={n}", status_code=303)

    @router.get("/audit")
    def audit(request: Request, cursor: str | None = None) -> Response:
        who = need(request, "admin")
        if cursor is not None and not cursor.isdigit():
            raise Denied(400, "cursor: not a cursor this page returned")
        with service.store.read() as conn:
            result = queries.list_audit(conn, int(cursor) if cursor else None, 100)
        return render.page("audit.html", **ctx(request, who, "/audit", result=result))

    app.include_router(router)


def _around(first: str, last: str, hours: float = 1.0) -> dict[str, str]:
    try:
        return {
            "since": to_iso(parse_iso(first) - timedelta(hours=hours)),
            "until": to_iso(parse_iso(last) + timedelta(hours=hours)),
        }
    except ValueError:
        return {"since": first, "until": last}


def _window(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    s = normalize(since) if since else None
    u = normalize(until) if until else None
    if (since and s is None) or (until and u is None):
        raise Denied(400, "since/until: not an ISO 8601 time")
    return s, u
