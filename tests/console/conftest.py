"""The console under test: `seawall serve` as a real process with the bundled audit log, Falco
alerts and VPC flow logs flowing in through its receivers and a tailed file, plus events that
carry XSS payloads (in a log line and in an image name); tokens for each role."""

from __future__ import annotations

import contextlib
import copy
import gzip
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import REPO
from tests.service.conftest import (
    FALCO_LOG,
    PG_URL,
    Service,
    _pg_admin,
    audit_items,
    event_list,
    make_token,
    wait_for,
    write_config,
)

NETWORK = REPO / "src/seawall/data/samples/network"
XSS_LOG = "<img src=x onerror=alert(1)>"
XSS_UA = "<script>alert('ua')</script>"
XSS_IMAGE = "evil.example/<svg onload=alert(2)>"
XSS_OUTPUT = "<img src=y onerror=alert(3)>"
ARTIFACTS = (
    Path(os.environ.get("SEAWALL_TEST_ARTIFACTS", str(REPO / ".cache" / "test-artifacts"))) / "console"
)


def xss_audit_event() -> dict[str, Any]:
    """A real exec event of the bundled log, moved to a pod `web-xss` whose command and user agent
    are script payloads (the API server logs what the client sent)."""
    base = next(i for i in audit_items() if (i.get("objectRef") or {}).get("subresource") == "exec")
    ev = copy.deepcopy(base)
    ev["auditID"] = str(uuid.uuid4())
    ev["objectRef"].update(namespace="shop", name="web-xss")
    ev["requestURI"] = (
        f"/api/v1/namespaces/shop/pods/web-xss/exec?command={XSS_LOG}&container=c&stdin=true&tty=true"
    )
    ev["userAgent"] = XSS_UA
    ev["requestReceivedTimestamp"] = ev["stageTimestamp"] = "2026-03-02T11:00:00.000000Z"
    return ev


def xss_falco_alert() -> bytes:
    line = FALCO_LOG.read_bytes().splitlines()[0]
    alert = orjson.loads(line)
    alert["output"] = (
        f"11:00:05.000000000: Notice A shell was spawned {XSS_OUTPUT} (container_id=3ad7b26ded6d)"
    )
    alert["time"] = "2026-03-02T11:00:05.000000000Z"
    alert["output_fields"]["container.image.repository"] = XSS_IMAGE
    alert["output_fields"]["k8s.pod.name"] = "web-xss"
    alert["output_fields"]["container.name"] = "<b>bold</b>"
    return orjson.dumps(alert)


@dataclass
class Console:
    service: Service
    tokens: dict[str, str]
    tmp: Path
    database: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.service.url

    def api(self, role: str = "admin") -> httpx.Client:
        return self.service.client(self.tokens[role])

    def browser_client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def login(self, client: httpx.Client, role: str = "analyst") -> str:
        """Log `client` in through the form; returns the session's CSRF token."""
        page = client.get("/login")
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
        assert nonce, page.text[:500]
        r = client.post("/login", data={"token": self.tokens[role], "nonce": nonce.group(1), "next": "/"})
        assert r.status_code == 303, r.text[:500]
        home = client.get("/")
        csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
        assert csrf, home.text[:500]
        return csrf.group(1)


def module_database(request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp / 'store.db'}"
        return
    if not PG_URL:
        pytest.skip(
            "PostgreSQL half skipped: SEAWALL_TEST_POSTGRES_URL is not set "
            '(eval "$(bash devtools/postgres.sh start)"; .ci/run does this)'
        )
    name = "t_" + uuid.uuid4().hex[:12]
    _pg_admin(f"CREATE DATABASE {name}")
    yield f"{PG_URL.rsplit('/', 1)[0]}/{name}"
    with contextlib.suppress(Exception):
        _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start_console(tmp: Path, database: str, **extra_config: Any) -> Console:
    flows = tmp / "flows"
    flows.mkdir(parents=True, exist_ok=True)
    (flows / "vpc-flow.log").write_bytes(gzip.decompress((NETWORK / "vpc-flow-logs.log.gz").read_bytes()))
    shutil.copy(NETWORK / "kubectl-inventory.json", tmp / "inventory.json")
    sources = [
        {"name": "audit", "type": "k8s-audit-webhook"},
        {"name": "falco", "type": "falco-http"},
        {
            "name": "flows",
            "type": "file",
            "format": "vpc-flow",
            "paths": [str(flows)],
            "inventory": [str(tmp / "inventory.json")],
        },
    ]
    config = write_config(tmp, database, sources, **extra_config)
    tokens = {role: make_token(config, role) for role in ("viewer", "analyst", "admin", "ingest")}
    svc = Service(config).start()
    console = Console(svc, tokens, tmp, database)
    items = audit_items()
    with console.api("ingest") as c:
        for i in range(0, len(items), 400):
            assert (
                c.post("/api/v1/ingest/k8s-audit/audit", content=event_list(items[i : i + 400])).status_code
                == 200
            )
        assert (
            c.post("/api/v1/ingest/k8s-audit/audit", content=event_list([xss_audit_event()])).status_code
            == 200
        )
        for line in FALCO_LOG.read_bytes().splitlines():
            assert c.post("/api/v1/ingest/falco/falco", content=line).status_code == 200
        assert c.post("/api/v1/ingest/falco/falco", content=xss_falco_alert()).status_code == 200
    with console.api() as c:

        def settled() -> bool:
            rows = {s["name"]: s for s in c.get("/api/v1/sources").json()["items"]}
            return (
                rows["audit"]["events_in"] == len(items) + 1
                and rows["falco"]["events_in"] == len(FALCO_LOG.read_bytes().splitlines()) + 1
                and bool(rows["flows"]["events_in"])
                and rows["flows"].get("lag_events", 0) == 0
            )

        wait_for(settled, 120, "every event committed")
    return console


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def console(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    gen = module_database(request, tmp)
    database = next(gen)
    c = start_console(tmp, database)
    yield c
    c.service.kill()
    with contextlib.suppress(StopIteration):
        next(gen)


@pytest.fixture(scope="module")
def console_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console-browser")
    c = start_console(tmp, f"sqlite:///{tmp / 'store.db'}")
    yield c
    c.service.kill()


def incident_of(console: Console, workload_part: str) -> dict[str, Any]:
    with console.api() as c:
        items = c.get("/api/v1/incidents", params={"limit": 1000}).json()["items"]
    found = [i for i in items if workload_part in i["workload"]]
    assert found, [i["workload"] for i in items]
    return found[0]
