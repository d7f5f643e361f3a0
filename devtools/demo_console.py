"""`make demo`, the console part: Debian's chromium (headless, through Playwright) opens the
console with the demo's token, lists the incidents it shows and saves screenshots of the
incident list and of the top incident's page."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"


def browse(url: str, token: str, out: Path, incident_id: int | None = None) -> int:
    if not Path(CHROMIUM).exists():
        print(f"console: {url}/ (no {CHROMIUM} here for the screenshot: apt-get install chromium)")
        return 0
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print(f"console: {url}/ (playwright is not installed: pip install -e '.[dev]')")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # the token travels in the URL fragment: never sent to the server or written to its log
            page.goto(f"{url}/login#token={token}")
            page.wait_for_url(f"{url}/")
            page.goto(f"{url}/incidents")
            rows = page.locator("tr.incident")
            print(f"\nthe console in chromium ({url}/incidents): {rows.count()} incidents shown")
            for i in range(min(rows.count(), 8)):
                cells = rows.nth(i).locator("td").all_inner_texts()
                print(f"  {cells[0]:<4} {cells[1]:<9} {cells[2]:<13} {cells[3][:38]:<38} {cells[4][:50]}")
            page.screenshot(path=str(out / "console-incidents.png"), full_page=True)
            if incident_id is not None:
                page.goto(f"{url}/incidents/{incident_id}")
                steps = page.locator("#timeline li.step").count()
                summary = page.locator("#summary").inner_text()[:160]
                print(f"  incident #{incident_id}: {summary} ({steps} steps)")
                page.screenshot(path=str(out / "console-incident.png"), full_page=False)
            print(f"  screenshots: {out}/console-incidents.png, console-incident.png")
        finally:
            browser.close()
    return 0
