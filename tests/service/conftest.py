"""The service under test: `seawall serve` as a real process, on SQLite and on PostgreSQL.

PostgreSQL runs when SEAWALL_TEST_POSTGRES_URL names a server (`.ci/run` starts one with
devtools/postgres.sh); without it the PostgreSQL half of each test is skipped with a message.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.conftest import REPO, run_cli

PG_URL = os.environ.get("SEAWALL_TEST_POSTGRES_URL", "")
AUDIT_LOG = REPO / "devtools/samples/logs/k8s-audit/kube-apiserver-audit.log.gz"
FALCO_LOG = REPO / "devtools/samples/logs/falco/falco_events.json"


def audit_items() -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in gzip.decompress(AUDIT_LOG.read_bytes()).splitlines() if x.strip()]


def event_list(items: list[dict[str, Any]]) -> bytes:
    return orjson.dumps(
        {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items}
    )


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if not PG_URL:
        pytest.skip(
            "PostgreSQL half skipped: SEAWALL_TEST_POSTGRES_URL is not set "
            '(eval "$(bash devtools/postgres.sh start)"; .ci/run does this)'
        )
    name = "t_" + uuid.uuid4().hex[:12]
    _pg_admin(f"CREATE DATABASE {name}")
    base = PG_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with contextlib.suppress(Exception):
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def write_config(
    tmp_path: Path, database: str, sources: list[dict[str, Any]] | None = None, **extra: Any
) -> Path:
    doc: dict[str, Any] = {"listen": "127.0.0.1:0", "data_dir": str(tmp_path / "data"), "database": database}
    if sources is not None:
        doc["sources"] = sources
    # the bundled samples are dated (March 2026): the default retention (90 days of findings by
    # their last_seen, applied every minute) would delete their findings in the middle of a test
    doc["retention"] = {"archive_days": 0, "findings_days": 0}
    doc.update(extra)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "seawall.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def make_token(config: Path, role: str = "admin") -> str:
    out = run_cli("tokens", "create", "--config", str(config), "--role", role, "--name", f"test {role}")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


class Service:
    """`seawall serve --config FILE` in a child process; its URL read from its first line."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self, timeout: float = 120.0) -> Service:
        self.output = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "seawall", "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self.output.append(line.rstrip())
                if "serving on " in line:
                    self.url = line.split("serving on ", 1)[1].split()[0]
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout) or not self.url:
            self.kill()
            raise AssertionError("service did not start:\n" + "\n".join(self.output[-30:]))
        return self

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kw)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        return self.proc.returncode


@pytest.fixture()
def service_factory() -> Iterator[Any]:
    started: list[Service] = []

    def make(config: Path, env: dict[str, str] | None = None) -> Service:
        svc = Service(config, env)
        started.append(svc)
        return svc

    yield make
    for svc in started:
        svc.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def moto_url() -> Iterator[str]:
    """moto in server mode on 127.0.0.1, emptied before each test.

    moto's backends are module globals of this process: a second ThreadedMotoServer (the next
    parametrization) would still hold the first one's buckets and log groups
    (BucketAlreadyOwnedByYou in CI), so every test starts from a reset.
    """
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    httpx.post(f"{url}/moto-api/reset", timeout=30).raise_for_status()
    try:
        yield url
    finally:
        with contextlib.suppress(Exception):
            httpx.post(f"{url}/moto-api/reset", timeout=30)
        server.stop()


def wait_for(predicate: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def source_row(client: httpx.Client, name: str) -> dict[str, Any]:
    items = client.get("/api/v1/sources").json()["items"]
    return next(i for i in items if i["name"] == name)


def all_pages(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10_000):
        q = dict(params)
        if cursor:
            q["cursor"] = cursor
        r = client.get(path, params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(body["items"])
        cursor = body["next"]
        if not cursor:
            return out
    raise AssertionError("pagination did not end")
