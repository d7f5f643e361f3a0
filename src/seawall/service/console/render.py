"""Templates (Jinja2, autoescaped) and the headers every console response carries.

Everything shown from logs, flows and images is attacker-controlled: templates never mark a
value safe, control characters are shown as `?` (`clean`), and evidence is shown with secrets
redacted (`redacted`). The Content-Security-Policy allows scripts and styles from this origin
only (no inline script, no inline style, no eval), so markup that got through would not run.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.responses import HTMLResponse

from seawall.core.text import printable

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # (no-referrer makes browsers send `Origin: null` on form posts)
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def clean(value: Any) -> str:
    return "" if value is None else printable(str(value), keep_newlines=True)


@functools.lru_cache(maxsize=1)
def _scanner() -> Any:
    from seawall.secrets import SecretScanner

    return SecretScanner()


def redacted(value: Any) -> str:
    from seawall.secrets import redact_text

    text = clean(value)
    return redact_text(text, _scanner()) if text else ""


def ago(value: Any) -> str:
    if not value:
        return ""
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return clean(value)
    seconds = int((datetime.now(UTC) - when).total_seconds())
    if seconds < 0:
        return "in the future"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


def short_time(value: Any) -> str:
    text = clean(value)
    return text[:19].replace("T", " ") if text else ""


def query(params: dict[str, Any], **changes: Any) -> str:
    """`?a=1&b=2` from the current filters with some changed (None removes one)."""
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged) if merged else "?"


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("seawall.service.console", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(clean=clean, redacted=redacted, ago=ago, short_time=short_time)
    env.globals.update(query=query)
    return env


def page(
    template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})
