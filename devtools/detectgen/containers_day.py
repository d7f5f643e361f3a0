"""A benign day of container logs, as the kubelet keeps them (`/var/log/pods/NS_POD_UID/CONTAINER/0.log`,
CRI lines `TIME STREAM F MESSAGE`): an nginx front end (shoppers, static assets, searches, a
crawler, kube-probe health checks, Prometheus scrapes, the odd 404), a payments API writing JSON
logs (with warnings, retries and one stack trace), and a queue worker. About 25,000 lines.

    write(directory, seed=1) -> the directory holding var/log/pods/...
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

START = datetime(2026, 3, 3, 0, 0, 0, tzinfo=UTC)
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",  # noqa: E501
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",  # noqa: E501
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",  # noqa: E501
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",  # noqa: E501
]
CRAWLER = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
PAGES = [
    "/",
    "/products",
    "/products/{id}",
    "/cart",
    "/checkout",
    "/account/orders",
    "/search?q={q}&page={p}",
    "/category/{c}?sort=price&dir=asc",
    "/api/v1/cart/items",
    "/api/v1/recommendations?product={id}",
]
ASSETS = [
    "/static/js/app.{h}.js",
    "/static/css/main.{h}.css",
    "/static/img/logo.svg",
    "/static/img/p/{id}.webp",
    "/favicon.ico",
]
QUERIES = ["red+shoes", "rain+jacket", "wool+socks", "gift+card", "running", "backpack+30l", "kids"]
CATEGORIES = ["women", "men", "kids", "outdoor", "sale"]


def _cri(t: datetime, message: str, stream: str = "stdout") -> str:
    return f"{t.strftime('%Y-%m-%dT%H:%M:%S.%f')}123Z {stream} F {message}"


def _clf(t: datetime) -> str:
    return t.strftime("%d/%b/%Y:%H:%M:%S +0000")


def _nginx(rng: random.Random) -> list[str]:
    lines = []
    seconds = 0.0
    while seconds < 86_400:
        busy = 0.4 + 1.6 * (8 <= (seconds / 3600) % 24 <= 22)
        seconds += rng.expovariate(busy / 5.5)
        t = START + timedelta(seconds=seconds)
        r = rng.random()
        ip, ua, status, method, size, ref = (
            f"10.0.{rng.randint(1, 3)}.{rng.randint(2, 250)}",
            rng.choice(BROWSERS),
            200,
            "GET",
            rng.randint(900, 48_000),
            "https://shop.example.com/",
        )
        if r < 0.18:
            path, ua, ip, ref, size = "/healthz", "kube-probe/1.30", "10.0.1.1", "-", 2
        elif r < 0.24:
            path, ua, ip, ref, size = "/metrics", "Prometheus/2.53.1", "10.0.4.12", "-", 18_422
        elif r < 0.27:
            path, ua, ref = rng.choice(["/robots.txt", "/sitemap.xml", "/products/{id}"]), CRAWLER, "-"
        elif r < 0.60:
            path = rng.choice(ASSETS)
        elif r < 0.70:
            path, method, status = "/api/v1/cart/items", "POST", rng.choice([200, 201, 201, 422])
        else:
            path = rng.choice(PAGES)
        path = path.format(
            id=rng.randint(1000, 9999),
            q=rng.choice(QUERIES),
            p=rng.randint(1, 4),
            c=rng.choice(CATEGORIES),
            h=rng.choice(["8f3a1c", "2b9d0e", "c41f77"]),
        )
        if path == "/favicon.ico" and rng.random() < 0.5:
            status, size = 404, 153
        elif rng.random() < 0.01:
            status, size = 301, 169
        lines.append(
            _cri(t, f'{ip} - - [{_clf(t)}] "{method} {path} HTTP/1.1" {status} {size} "{ref}" "{ua}"')
        )
    return lines


def _api(rng: random.Random) -> list[str]:
    lines = []
    seconds = 0.0
    while seconds < 86_400:
        seconds += rng.expovariate(1 / 9.0)
        t = START + timedelta(seconds=seconds)
        r = rng.random()
        stamp = t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        if r < 0.85:
            doc = {
                "level": "info",
                "ts": stamp,
                "logger": "payments.api",
                "msg": "payment authorized",
                "order_id": f"ord_{rng.randint(10**7, 10**8)}",
                "amount_cents": rng.randint(500, 40_000),
                "currency": "EUR",
                "duration_ms": rng.randint(40, 900),
                "http_status": 200,
            }
        elif r < 0.97:
            doc = {
                "level": "warn",
                "ts": stamp,
                "logger": "payments.db",
                "msg": "retrying after a connection reset",
                "attempt": rng.randint(1, 3),
                "backoff_ms": 200,
            }
        else:
            doc = {
                "level": "error",
                "ts": stamp,
                "logger": "payments.api",
                "msg": "card network timeout",
                "order_id": f"ord_{rng.randint(10**7, 10**8)}",
                "http_status": 504,
            }
        lines.append(_cri(t, orjson.dumps(doc).decode(), "stdout" if doc["level"] == "info" else "stderr"))
        if doc["level"] == "error" and rng.random() < 0.2:
            for frame in (
                "Traceback (most recent call last):",
                '  File "/app/payments/gateway.py", line 88, in charge',
                "    resp = self.session.post(url, json=body, timeout=5)",
                "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='api.cards.example', port=443): Read timed out.",  # noqa: E501
            ):
                lines.append(_cri(t, frame, "stderr"))
    return lines


def _worker(rng: random.Random) -> list[str]:
    lines = []
    for k in range(2_880):
        t = START + timedelta(seconds=30 * k + rng.random())
        lines.append(
            _cri(
                t,
                f"{t.strftime('%H:%M:%S')} INFO worker: processed batch {k} "
                f"({rng.randint(0, 40)} messages) in {rng.uniform(0.1, 2.5):.2f}s",
            )
        )
    return lines


def write(directory: Path, seed: int = 1) -> Path:
    rng = random.Random(seed)
    pods = {
        "web_frontend-6f7d9c8b4-x2kqz_0f6b1c1e-3a7d-4f59-9d0e-6b9c2f4e8a11/nginx": _nginx(rng),
        "payments_api-7d9f8c6b5-q8wzt_1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d/api": _api(rng),
        "payments_worker-5c8d7f6a9-m3nvx_9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a/worker": _worker(rng),
    }
    for rel, lines in pods.items():
        path = directory / "var" / "log" / "pods" / rel / "0.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
    return directory
