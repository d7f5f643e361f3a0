"""The console over HTTP, on SQLite and PostgreSQL: login and sessions, CSRF, roles, every page
reachable from `/`, the security headers, filters, escaping of attacker text."""

from __future__ import annotations

import re
import ssl
from html.parser import HTMLParser
from urllib.parse import urljoin, urlparse

import httpx
import pytest

from tests.console.conftest import XSS_IMAGE, XSS_LOG, XSS_OUTPUT, XSS_UA, Console, incident_of
from tests.service.conftest import make_token, wait_for

pytestmark = [pytest.mark.network, pytest.mark.slow]


class Page(HTMLParser):
    """Links, forms, inline scripts and style attributes of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.inline_scripts: list[str] = []
        self.styles = 0
        self.handlers: list[str] = []
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        if tag == "script":
            self._script = a
        if tag == "style":
            self.styles += 1
        if "style" in a:
            self.styles += 1
        self.handlers += [k for k in a if k.startswith("on")]

    def handle_data(self, data: str) -> None:
        script = self._script
        code = script is not None and not script.get("src") and script.get("type") != "application/json"
        if code and data.strip():
            self.inline_scripts.append(data[:80])

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def parse(html: str) -> Page:
    p = Page()
    p.feed(html)
    return p


def test_every_page_is_reachable_from_the_start_page_with_the_security_headers(console: Console) -> None:
    seen: dict[str, int] = {}
    shapes: dict[str, int] = {}
    todo = ["/"]
    with console.api("admin") as c:
        while todo and len(seen) < 80:
            path = todo.pop(0)
            if path in seen:
                continue
            # a few pages of each shape (one incident, finding or filter is like the next)
            shape = re.sub(r"/(\d+|[0-9a-f]{12,})(?=/|$|\?)", "/N", path.split("?")[0])
            shapes[shape] = shapes.get(shape, 0) + 1
            if shapes[shape] > 4:
                continue
            r = c.get(path)
            seen[path] = r.status_code
            assert r.status_code == 200, (path, r.text[:300])
            if not r.headers.get("content-type", "").startswith("text/html"):
                continue
            csp = r.headers["content-security-policy"]
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert r.headers["x-content-type-options"] == "nosniff"
            page = parse(r.text)
            assert page.inline_scripts == [], (path, page.inline_scripts)
            assert page.styles == 0 and page.handlers == [], path
            for href in page.links:
                url = urlparse(urljoin(console.url + path, href))
                target = url.path + (f"?{url.query}" if url.query else "")
                if (
                    url.netloc == urlparse(console.url).netloc
                    and not url.path.startswith("/api/")
                    and target not in seen
                ):
                    todo.append(target)
    pages = {urlparse(p).path.rstrip("/") or "/" for p in seen}
    for needed in (
        "/",
        "/incidents",
        "/findings",
        "/workloads",
        "/workload",
        "/map",
        "/events",
        "/scans",
        "/sources",
        "/notifications",
        "/audit",
    ):
        assert needed in pages, (needed, sorted(pages))
    assert any(re.fullmatch(r"/incidents/\d+", p) for p in pages)
    assert any(p.startswith("/findings/") for p in pages)


def test_login_sets_a_strict_httponly_session_and_every_change_needs_its_csrf_token(console: Console) -> None:
    inc = incident_of(console, "etl-debug")
    with console.browser_client() as b:
        r = b.get("/incidents")
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
        page = b.get("/login")
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)
        bad = b.post("/login", data={"token": "sw_not-a-token", "nonce": nonce})
        assert bad.status_code == 401 and "Unknown or revoked token" in bad.text
        ingest = b.post("/login", data={"token": console.tokens["ingest"], "nonce": nonce})
        assert ingest.status_code == 401  # an ingest token cannot read
        forged = b.post("/login", data={"token": console.tokens["analyst"], "nonce": "other"})
        assert forged.status_code == 403  # login CSRF (double-submit cookie)
        r = b.post(
            "/login", data={"token": console.tokens["analyst"], "nonce": nonce, "next": "//evil.example/"}
        )
        assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
        cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("seawall_session="))
        flags = {p.strip().lower() for p in cookie.split(";")}
        assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
        assert "secure" not in flags  # plain http here; with tls: the Secure flag (test below)
        csrf = re.search(r'name="csrf" value="([^"]+)"', b.get("/").text).group(1)
        target = f"/incidents/{inc['id']}/state"
        assert b.post(target, data={"state": "acknowledged"}).status_code == 403
        assert b.post(target, data={"state": "acknowledged", "csrf": "x" * 43}).status_code == 403
        other = b.post(
            target, data={"state": "acknowledged", "csrf": csrf}, headers={"Origin": "https://evil.example"}
        )
        assert other.status_code == 403
        ok = b.post(target, data={"state": "acknowledged", "csrf": csrf, "note": "checking the exec"})
        assert ok.status_code == 303
        via_header = b.post(target, data={"state": "open"}, headers={"X-CSRF-Token": csrf})
        assert via_header.status_code == 303
        assert b.post("/logout", data={"csrf": csrf}).status_code == 303
        assert b.get("/incidents").status_code == 303  # the session ended
    with console.api() as c:
        trail = c.get("/api/v1/audit", params={"limit": 1000}).json()["items"]
    changes = [t for t in trail if t["action"] == "incident.state" and t["target"] == f"incident:{inc['id']}"]
    assert [t["detail"]["to"] for t in changes][:2] == ["open", "acknowledged"]
    assert changes[1]["detail"]["note"] == "checking the exec" and "test analyst" in changes[1]["actor"]
    assert {"console.login", "console.logout"} <= {t["action"] for t in trail}


def test_a_revoked_token_ends_its_sessions(console: Console) -> None:
    from tests.conftest import run_cli

    token = make_token(console.service.config, "viewer")
    with console.browser_client() as b:
        page = b.get("/login")
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)
        assert b.post("/login", data={"token": token, "nonce": nonce}).status_code == 303
        assert b.get("/incidents").status_code == 200
        with console.api() as c:
            tid = next(
                t["id"] for t in c.get("/api/v1/tokens").json()["items"] if token.startswith(t["prefix"])
            )
        assert run_cli("tokens", "revoke", "--config", str(console.service.config), str(tid)).returncode == 0
        wait_for(lambda: b.get("/incidents").status_code == 303, 30, "the session to end")


def test_roles_decide_what_the_console_offers_and_accepts(console: Console) -> None:
    inc = incident_of(console, "etl-debug")
    with console.api("viewer") as v:
        page = v.get(f"/incidents/{inc['id']}")
        assert page.status_code == 200 and 'id="acknowledge"' not in page.text
        assert v.post(f"/incidents/{inc['id']}/state", data={"state": "resolved"}).status_code == 403
        assert v.get("/audit").status_code == 403
        assert v.get(f"/incidents/{inc['id']}/isolate").status_code == 403
    with console.api("analyst") as a:
        assert 'id="acknowledge"' in a.get(f"/incidents/{inc['id']}").text
        assert a.post(f"/incidents/{inc['id']}/isolate", data={"reason": "x"}).status_code == 403
        assert a.get("/audit").status_code == 403
    with httpx.Client(base_url=console.url, headers={"Authorization": "Bearer sw_wrong"}) as w:
        assert w.get("/").status_code == 401


def test_filters_count_on_the_server_and_hostile_values_are_inert(console: Console) -> None:
    with console.api("viewer") as c:
        everything = c.get("/api/v1/incidents", params={"limit": 1000}).json()["items"]
        page = c.get("/incidents", params={"state": "open", "min_severity": "critical"})
        assert page.status_code == 200
        shown = re.findall(r'<tr class="incident" data-id="(\d+)">', page.text)
        expected = [str(i["id"]) for i in everything if i["state"] == "open" and i["severity"] == "critical"]
        assert sorted(shown) == sorted(expected) and shown
        counts = dict(re.findall(r'state-(\w+)">[^<]*</span> (\d+)</a>', page.text))
        assert int(counts["open"]) == len(expected)
        tech = c.get("/incidents", params={"technique": "T1609"}).text
        assert set(re.findall(r'data-id="(\d+)"', tech)) == {
            str(i["id"]) for i in everything if any(t.startswith("T1609") for t in i["techniques"])
        }
        for hostile in ("' OR 1=1 --", "<script>alert(1)</script>", "%' UNION SELECT hash FROM tokens --"):
            r = c.get("/incidents", params={"workload": hostile})
            assert r.status_code == 200 and 'data-id="' not in r.text
            assert "<script>alert(1)</script>" not in r.text
        assert c.get("/incidents", params={"state": "pwned"}).status_code == 400
        assert c.get("/findings", params={"cursor": "garbage!"}).status_code == 400


def test_attacker_text_from_logs_and_image_names_is_escaped(console: Console) -> None:
    inc = incident_of(console, "web-xss")
    with console.api("viewer") as c:
        html = c.get(f"/incidents/{inc['id']}").text
        for payload in (XSS_LOG, XSS_UA, XSS_OUTPUT, XSS_IMAGE.split("/", 1)[1]):
            assert payload not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "&lt;svg onload=alert(2)&gt;" in html or "%3Csvg" in html
        for f in c.get("/api/v1/findings", params={"workload": inc["workload"]}).json()["items"]:
            assert XSS_LOG not in c.get(f"/findings/{f['id']}").text
        link = re.search(r'href="(/events\?[^"]+)" id="events-link"', html)
        assert link, html[:500]
        raw = c.get(link.group(1).replace("&amp;", "&"))
        assert raw.status_code == 200
        rows = re.findall(r'<pre class="evidence">(.*?)</pre>', raw.text, re.S)
        assert any("web-xss" in r for r in rows), raw.text[:800]  # the raw line of the planted event
        for payload in (XSS_LOG, XSS_UA, XSS_OUTPUT):
            assert payload not in raw.text
        assert "&lt;script&gt;alert(&#39;ua&#39;)&lt;/script&gt;" in raw.text
        assert c.get("/events", params={"since": "yesterday"}).status_code == 400


def test_secure_cookie_with_tls(tmp_path, console: Console) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    from tests.service.conftest import Service, write_config

    if console.database.startswith("postgresql"):
        pytest.skip("the cookie flag does not depend on the database")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    config = write_config(
        tmp_path, f"sqlite:///{tmp_path / 's.db'}", tls={"cert": str(cert), "key": str(key)}
    )
    token = make_token(config, "viewer")
    svc = Service(config).start()
    try:
        assert svc.url.startswith("https://")
        with httpx.Client(
            base_url=svc.url, verify=ssl.create_default_context(cafile=str(cert)), timeout=30
        ) as b:
            page = b.get("/login")
            nonce = re.search(r'name="nonce" value="([^"]+)"', page.text).group(1)
            r = b.post("/login", data={"token": token, "nonce": nonce})
            cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("seawall_session="))
            assert "secure" in {p.strip().lower() for p in cookie.split(";")}
    finally:
        svc.kill()
