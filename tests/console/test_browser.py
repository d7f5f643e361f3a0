"""The console in a real browser: Debian's chromium driven by Playwright for Python.

Log in with a token, filter the incidents, open one, read its timeline, acknowledge it and see the
change in its audit trail (and, as an admin, in the audit page); XSS payloads planted in a log
line and in an image name render as text; the service map draws with the incident's workload
highlighted. No page may trip the Content-Security-Policy. Screenshots are kept under
.cache/test-artifacts/console/ (SEAWALL_TEST_ARTIFACTS); SEAWALL_UPDATE_DOCS=1 also refreshes
docs/console-incident.png, the README's picture.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.console.conftest import ARTIFACTS, XSS_LOG, XSS_OUTPUT, XSS_UA, Console, incident_of

pytestmark = [pytest.mark.network, pytest.mark.slow]

CHROMIUM = os.environ.get("SEAWALL_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (devtools/system-deps.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


class Watch:
    """Dialogs (an alert() that ran) and CSP violations reported by the page."""

    def __init__(self, page: Any) -> None:
        self.dialogs: list[str] = []
        self.csp: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _console(self, msg: Any) -> None:
        if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text:
            self.csp.append(msg.text)


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def login(page: Any, console: Console, role: str) -> None:
    page.goto(console.url + "/")
    assert "/login" in page.url
    page.fill("#token", console.tokens[role])
    page.click("#login")
    page.wait_for_url(console.url + "/")


def test_triage_in_the_browser(browser: Any, console_sqlite: Console) -> None:
    console = console_sqlite
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    watch = Watch(page)
    login(page, console, "analyst")
    cookie = next(c for c in context.cookies() if c["name"] == "seawall_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert console.tokens["analyst"] not in page.content()
    shot(page, "01-overview")

    # filter: open incidents of critical severity (htmx swaps the results and pushes the URL)
    page.click("nav >> text=Incidents")
    page.wait_for_url(re.compile(r".*/incidents$"))
    total = page.locator("tr.incident").count()
    page.select_option("#f-state", "open")
    page.wait_for_url(re.compile(r".*state=open.*"))
    page.select_option("#f-min-severity", "critical")
    page.wait_for_url(re.compile(r".*min_severity=critical.*"))
    badges = "[...document.querySelectorAll('tr.incident .sev')]"
    page.wait_for_function(f"() => {badges}.every(e => e.textContent.trim() == 'critical')")
    rows = page.locator("tr.incident")
    assert 0 < rows.count() < total
    for i in range(rows.count()):
        assert rows.nth(i).locator(".sev").inner_text().lower() == "critical"
        assert rows.nth(i).locator(".state").inner_text().lower() == "open"
    shot(page, "02-incidents-filtered")

    # open the frontend incident, read its timeline
    target = incident_of(console, "frontend")
    page.click(f"tr.incident[data-id='{target['id']}'] a.incident-title")
    page.wait_for_url(re.compile(rf".*/incidents/{target['id']}$"))
    steps = page.locator("#timeline li.step")
    assert steps.count() == target["finding_count"]
    titles = [steps.nth(i).locator(".step-title").inner_text() for i in range(steps.count())]
    with console.api() as c:
        detail = c.get(f"/api/v1/incidents/{target['id']}").json()
    assert titles == [t["title"] for t in detail["timeline"]]
    assert page.locator("#summary").inner_text().startswith(target["workload"])
    shot(page, "03-incident")

    # acknowledge it; the state and the audit trail show who and when
    page.fill("#ack-note", "on it: checking the shell in nginx")
    page.click("#acknowledge")
    page.wait_for_selector("#state .state-acknowledged")
    history = page.locator("#audit tr.audit-row").first.inner_text()
    assert "incident.state" in history and "test analyst" in history and "acknowledged" in history
    assert "on it: checking the shell in nginx" in page.locator("#state").inner_text()
    incident_png = shot(page, "04-incident-acknowledged")
    if os.environ.get("SEAWALL_UPDATE_DOCS"):
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(page.url.split("#")[0])
        page.screenshot(path=str(REPO / "docs" / "console-incident.png"), full_page=False)
    assert incident_png.stat().st_size > 10_000

    # the admin sees the same change in the audit trail page
    admin = browser.new_context().new_page()
    admin_watch = Watch(admin)
    login(admin, console, "admin")
    admin.click("nav >> text=Audit trail")
    admin.wait_for_url(re.compile(r".*/audit$"))
    rows = admin.locator("#audit tr.audit-row").all_inner_texts()
    change = next(r for r in rows if "incident.state" in r)  # newest first: after the admin's login
    assert f"incident:{target['id']}" in change and "test analyst" in change and "acknowledged" in change
    shot(admin, "05-audit")
    assert watch.dialogs == [] and watch.csp == [] and admin_watch.csp == []
    context.close()


def test_xss_payloads_render_as_text(browser: Any, console_sqlite: Console) -> None:
    console = console_sqlite
    page = browser.new_context().new_page()
    watch = Watch(page)
    login(page, console, "viewer")
    inc = incident_of(console, "web-xss")
    page.goto(f"{console.url}/incidents/{inc['id']}")
    evidence = "\n".join(page.locator("pre.evidence").all_inner_texts())
    assert XSS_LOG in evidence and XSS_OUTPUT in evidence  # shown, as text
    assert XSS_UA in evidence
    assert "<svg onload=alert(2)>" in evidence  # the image name from the runtime alert
    assert page.locator("img[src=x], img[src=y], svg[onload]").count() == 0
    assert (
        page.evaluate(
            "() => document.querySelectorAll('script:not([src]):not([type=\"application/json\"])').length"
        )
        == 0
    )
    shot(page, "06-xss-as-text")
    # the workloads and findings pages show the same names as text too
    page.goto(f"{console.url}/findings?workload={inc['workload']}")
    page.click("table.list tbody tr >> nth=0 >> a[href^='/findings/']")
    page.wait_for_url(re.compile(r".*/findings/[0-9a-f]+$"))
    assert page.locator("img[src=x], img[src=y], svg[onload]").count() == 0
    assert watch.dialogs == [] and watch.csp == []


def test_service_map_draws_with_the_workload_highlighted(browser: Any, console_sqlite: Console) -> None:
    console = console_sqlite
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    watch = Watch(page)
    login(page, console, "viewer")
    page.goto(f"{console.url}/map?highlight=k8s/shop/Deployment/frontend")
    page.wait_for_selector("#graph[data-ready='1']", timeout=60_000)
    summary = page.locator("#map-summary").inner_text()
    nodes = int(summary.split(" nodes")[0])
    assert nodes > 5 and "highlighted" in summary
    marked = page.evaluate("() => document.querySelector('#graph').dataset.ready")
    assert marked == "1"
    assert page.locator("#edges tr.hl").count() > 0
    assert page.locator("#graph canvas").count() > 0
    shot(page, "07-service-map")
    assert watch.csp == [] and watch.dialogs == []


def test_screenshots_are_kept() -> None:
    if not ARTIFACTS.exists():
        pytest.skip("the browser tests did not run")
    assert {p.name for p in ARTIFACTS.glob("*.png")} >= {"01-overview.png", "03-incident.png"}
    shutil.copy  # noqa: B018 (artifacts stay where CI keeps them)
