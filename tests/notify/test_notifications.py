"""Notifications from the running service: webhook (HMAC-signed JSON), a Slack-compatible
incoming webhook and email to a local SMTP server (aiosmtpd), all on 127.0.0.1.

One message per incident and per change of it (opened, state, update with "N more events ... in
the last ..."), never one per event; evidence redacted; a channel that is down loses nothing
(retries with backoff, in order), failures show in the console and /metrics, a message that
exhausted its attempts is `dead` until an admin retries it, and pending messages survive kill -9.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.service.conftest import Service, audit_items, event_list, make_token, wait_for, write_config

pytestmark = [pytest.mark.network, pytest.mark.slow]

SECRET = "test-webhook-secret-0123456789"
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
PD_KEY = "R0UT1NGKEY0123456789abcdef012345"


class Receiver:
    """An HTTP endpoint that records what it is sent; `down` makes it answer 503."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.down = False
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if outer.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                with outer.lock:
                    outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def close(self) -> None:
        self.server.shutdown()


class Mailbox:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.mails: list[Message] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                outer.mails.append(message_from_bytes(envelope.content))
                return "250 OK"

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture()
def endpoints() -> Iterator[tuple[Receiver, Mailbox]]:
    pytest.importorskip("aiosmtpd")
    r, m = Receiver(), Mailbox()
    yield r, m
    r.close()
    m.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def verify(req: dict[str, Any]) -> dict[str, Any]:
    sig = req["headers"]["X-Seawall-Signature"]
    m = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", sig)
    assert m, sig
    expected = hmac.new(SECRET.encode(), m.group(1).encode() + b"." + req["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, m.group(2))
    assert abs(time.time() - int(m.group(1))) < 600
    return orjson.loads(req["body"])


def more_exec_events(n: int, secret_in: bool = False) -> list[dict[str, Any]]:
    """`n` more exec events into pod data/etl-debug (the same rule: its finding's count grows)."""
    base = next(i for i in audit_items() if (i.get("objectRef") or {}).get("subresource") == "exec")
    out = []
    for k in range(n):
        ev = copy.deepcopy(base)
        ev["auditID"] = str(uuid.uuid4())
        ts = f"2026-03-02T09:20:{k % 60:02d}.000000Z"
        ev["requestReceivedTimestamp"] = ev["stageTimestamp"] = ts
        if secret_in:  # another pod: a finding of its own, whose evidence is this line
            ev["objectRef"]["name"] = "etl-secret<!channel>"  # the log is the attacker's: any name
            ev["requestURI"] = ev["requestURI"].replace(
                "%2Fbin%2Fsh", f"env+AWS_ACCESS_KEY_ID%3D{AWS_KEY}+sh"
            )
            ev["userAgent"] = f"kubectl <!channel> AWS_ACCESS_KEY_ID={AWS_KEY}"
        out.append(ev)
    return out


def test_incident_messages_on_every_channel(tmp_path: Path, endpoints: tuple[Receiver, Mailbox]) -> None:
    hooks, mail = endpoints
    down = closed_port()
    notifications = {
        "console_url": "https://seawall.example:8443",
        "interval": 0.5,
        "aggregate_seconds": 3,
        "retry": {"base_seconds": 0.3, "max_seconds": 1, "max_attempts": 5},
        "channels": [
            {
                "name": "soc",
                "type": "webhook",
                "url": hooks.url + "/soc",
                "secret_env": "TEST_WEBHOOK_SECRET",
            },
            {"name": "chat", "type": "slack", "url": hooks.url + "/slack"},
            {"name": "teams", "type": "teams", "url": hooks.url + "/teams"},
            {
                "name": "mail",
                "type": "email",
                "host": "127.0.0.1",
                "port": mail.port,
                "tls": "none",
                "from": "seawall@example.com",
                "to": ["soc@example.com"],
            },
            {
                "name": "down",
                "type": "webhook",
                "url": f"http://127.0.0.1:{down}/x",
                "secret": "s",
                "timeout": 2,
            },
            {
                "name": "pager",
                "type": "pagerduty",
                "url": hooks.url + "/pd",
                "routing_key_env": "TEST_PD_KEY",
            },
        ],
        "rules": [
            {"name": "pager-exec", "technique": "T1609", "workload": "k8s/data", "channels": ["pager"]},
            {"name": "urgent", "min_severity": "high", "channels": ["soc", "chat", "mail", "teams"]},
            {"name": "data", "namespace": "data", "events": ["opened"], "channels": ["down"]},
            {"name": "data-soc", "namespace": "data", "channels": ["soc", "chat", "mail", "teams"]},
        ],
    }
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 's.db'}",
        [{"name": "audit", "type": "k8s-audit-webhook"}],
        notifications=notifications,
        metrics_public=True,
    )
    admin = make_token(config, "admin")
    env = {"TEST_WEBHOOK_SECRET": SECRET, "TEST_PD_KEY": PD_KEY}
    svc = Service(config, env).start()
    try:
        items = audit_items() + more_exec_events(1, secret_in=True)
        with svc.client(admin) as c:
            for i in range(0, len(items), 400):
                assert (
                    c.post("/api/v1/ingest/k8s-audit", content=event_list(items[i : i + 400])).status_code
                    == 200
                )
            wait_for(
                lambda: c.get("/api/v1/sources").json()["items"][0]["events_in"] == len(items), 90, "ingest"
            )
            incidents = c.get("/api/v1/incidents", params={"limit": 1000}).json()["items"]
            urgent = {
                i["id"]
                for i in incidents
                if i["severity"] in ("high", "critical") or i["namespace"] == "data"
            }
            assert urgent

            def opened(path: str) -> set[int]:
                return {
                    orjson.loads(r["body"])["incident"]["id"] if path == "/soc" else -1
                    for r in hooks.on(path)
                    if r["headers"].get("X-Seawall-Event", "opened") == "opened"
                }

            wait_for(lambda: opened("/soc") >= urgent, 60, "an opened message per urgent incident")
            wait_for(lambda: len(mail.mails) >= len(urgent), 60, "the mails")
            time.sleep(4)  # any (wrong) extra message would arrive by now
            soc = [verify(r) for r in hooks.on("/soc")]
            by_incident: dict[int, list[str]] = {}
            for m in soc:
                by_incident.setdefault(m["incident"]["id"], []).append(m["event"])
            # one "opened" per urgent incident; never one message per event or per finding
            assert {i for i, evs in by_incident.items() if "opened" in evs} == urgent
            assert all(evs.count("opened") == 1 for evs in by_incident.values())
            findings = sum(i["finding_count"] for i in incidents if i["id"] in urgent)
            events = sum(i["events"] for i in incidents if i["id"] in urgent)
            assert len(soc) <= 2 * len(urgent) < findings + events
            deliveries = [r["headers"]["X-Seawall-Delivery"] for r in hooks.on("/soc")]
            assert len(set(deliveries)) == len(deliveries)
            # redacted evidence only; the message carries what an analyst needs
            raw = b"".join(r["body"] for r in hooks.requests) + b"".join(m.as_bytes() for m in mail.mails)
            assert AWS_KEY.encode() not in raw
            etl = next(i for i in incidents if "etl-debug" in i["workload"])
            etl_msg = next(m for m in soc if m["incident"]["id"] == etl["id"])
            assert etl_msg["incident"]["url"] == f"https://seawall.example:8443/incidents/{etl['id']}"
            assert etl_msg["incident"]["workload"] == etl["workload"] and etl_msg["steps"]
            leaky = next(m for m in soc if "etl-secret" in m["incident"]["workload"])
            assert any("AKIA" in s["evidence"] for s in leaky["steps"])  # shown, redacted
            # Slack: mrkdwn escaped, so a log line cannot ping the channel
            slack = [orjson.loads(r["body"]) for r in hooks.on("/slack")]
            assert len(slack) == len(soc) and all(s["text"] and s["blocks"] for s in slack)
            slack_raw = b"".join(r["body"] for r in hooks.on("/slack"))
            assert b"<!channel>" not in slack_raw and b"&lt;!channel&gt;" in slack_raw
            # Teams (a Workflows webhook): an Adaptive Card per message; text from events only in
            # TextRuns (shown verbatim), never in a TextBlock (Markdown: a pod name could be a link)
            wait_for(lambda: len(hooks.on("/teams")) >= len(soc), 30, "the Teams cards")
            teams = [orjson.loads(r["body"]) for r in hooks.on("/teams")]
            assert len(teams) == len(soc)
            for t in teams:
                (att,) = t["attachments"]
                assert (
                    t["type"] == "message" and att["contentType"] == "application/vnd.microsoft.card.adaptive"
                )
                assert att["content"]["type"] == "AdaptiveCard" and att["content"]["version"] == "1.4"

            def blocks(node: Any, kind: str) -> list[str]:
                if isinstance(node, list):
                    return [x for n in node for x in blocks(n, kind)]
                if not isinstance(node, dict):
                    return []
                own = [str(node.get("text", ""))] if node.get("type") == kind else []
                return own + [x for v in node.values() for x in blocks(v, kind)]

            labels = blocks(teams, "TextBlock")
            assert set(labels) <= {"Workload", "State", "Findings / events", "Techniques", "Latest steps"}
            leaky_card = next(
                t for t in teams if any("etl-secret<!channel>" in r for r in blocks(t, "TextRun"))
            )
            assert any("AKIA" in r for r in blocks(leaky_card, "TextRun"))  # the evidence, redacted
            etl_card = next(t for t in teams if f"incident #{etl['id']} " in blocks(t, "TextRun")[0])
            (action,) = etl_card["attachments"][0]["content"]["actions"]
            assert action["type"] == "Action.OpenUrl" and action["url"] == etl_msg["incident"]["url"]
            # email: one per message, subject and body
            subjects = [m["Subject"] for m in mail.mails]
            assert len(mail.mails) == len(soc)
            assert any(f"incident #{etl['id']} on {etl['workload']} opened" in s for s in subjects)
            body = (
                next(m for m in mail.mails if f"#{etl['id']} " in m["Subject"])
                .get_payload(decode=True)
                .decode()
            )
            assert f"https://seawall.example:8443/incidents/{etl['id']}" in body and "Latest steps:" in body

            # more events of the etl incident: one "update" per channel, aggregated
            before = len(hooks.on("/soc"))
            extra = more_exec_events(14)
            assert c.post("/api/v1/ingest/k8s-audit", content=event_list(extra)).status_code == 200
            wait_for(lambda: len(hooks.on("/soc")) > before, 30, "the update message")
            time.sleep(4)
            updates = [verify(r) for r in hooks.on("/soc")[before:]]
            assert [u["event"] for u in updates] == ["update"] and updates[0]["incident"]["id"] == etl["id"]
            grown = c.get(f"/api/v1/incidents/{etl['id']}").json()["events"] - etl["events"]
            assert grown >= 14  # every finding of the incident that the 14 events repeat
            assert re.fullmatch(
                rf"{grown} more events of this incident in the last \d+ (seconds|minutes)",
                updates[0]["changes"]["text"],
            )
            assert f"{grown} more events of this incident" in updates[0]["text"]

            # a channel that is down: retried in order, nothing lost
            hooks.down = True
            before = len(hooks.on("/soc"))
            for state in ("acknowledged", "resolved"):
                r = c.post(f"/api/v1/incidents/{etl['id']}/state", json={"state": state, "note": "ok"})
                assert r.status_code == 200
                time.sleep(1.2)
            metrics = c.get("/metrics").text
            wait_for(
                lambda: re.search(
                    r'seawall_notifications_failed_total\{channel="soc"\} [1-9]', c.get("/metrics").text
                ),
                30,
                "failures in /metrics",
            )
            page = c.get("/notifications").text
            assert 'class="failure"' in page and "HTTP 503" in page
            hooks.down = False
            wait_for(lambda: len(hooks.on("/soc")) >= before + 2, 60, "delivery after the outage")
            told = [verify(r) for r in hooks.on("/soc")[before:]]
            assert [(m["event"], m["incident"]["state"]) for m in told] == [
                ("state", "acknowledged"),
                ("state", "resolved"),
            ]
            assert "by token:" in told[0]["text"] and "(was open)" in told[0]["text"]

            # PagerDuty (Events API v2): the rule by technique and workload; one alert per incident
            # (its id the dedup key), followed through acknowledge and resolve, in order
            paged = {
                i["id"]
                for i in incidents
                if i["workload"].startswith("k8s/data/")
                and any(t.startswith("T1609") for t in i["techniques"])
            }
            assert etl["id"] in paged and len(paged) < len(incidents)
            key = f"seawall/incident/{etl['id']}"
            wait_for(
                lambda: [orjson.loads(r["body"])["dedup_key"] for r in hooks.on("/pd")].count(key) >= 4,
                60,
                "the pager's acknowledge and resolve",
            )
            pd = [orjson.loads(r["body"]) for r in hooks.on("/pd")]
            assert {int(e["dedup_key"].rsplit("/", 1)[1]) for e in pd} == paged
            assert all(e["routing_key"] == PD_KEY for e in pd)
            etl_pd = [e for e in pd if e["dedup_key"] == key]
            assert [e["event_action"] for e in etl_pd] == ["trigger", "trigger", "acknowledge", "resolve"]
            first = etl_pd[0]["payload"]
            assert first["severity"] == {"critical": "critical", "high": "error"}[etl["severity"]]
            assert first["source"] == etl["workload"] and "T1609" in first["class"]
            assert etl_pd[0]["links"][0]["href"].endswith(f"/incidents/{etl['id']}")
            assert "more events of this incident" in etl_pd[1]["payload"]["summary"]
            assert AWS_KEY not in str(pd)

            # the channel that never answers: dead after its attempts, visible, retried by an admin
            wait_for(
                lambda: re.search(
                    r'seawall_outbox_messages\{channel="down",state="dead"\} [1-9]', c.get("/metrics").text
                ),
                60,
                "dead messages in /metrics",
            )
            assert "Connect" in c.get("/notifications").text
            metrics = c.get("/metrics").text
            assert re.search(r'seawall_notifications_dead_total\{channel="down"\} [1-9]', metrics)
            assert re.search(r'seawall_notifications_delivered_total\{channel="soc"\} [1-9]', metrics)
    finally:
        svc.kill()


def test_pending_messages_survive_kill_9(tmp_path: Path, endpoints: tuple[Receiver, Mailbox]) -> None:
    hooks, _mail = endpoints
    hooks.down = True
    notifications = {
        "interval": 0.3,
        "retry": {"base_seconds": 0.2, "max_seconds": 0.5, "max_attempts": 1000},
        "channels": [{"name": "soc", "type": "webhook", "url": hooks.url + "/soc", "secret": SECRET}],
        "rules": [{"name": "all", "channels": ["soc"]}],
    }
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 's.db'}",
        [{"name": "audit", "type": "k8s-audit-webhook"}],
        notifications=notifications,
    )
    admin = make_token(config, "admin")
    svc = Service(config).start()
    items = audit_items()
    with svc.client(admin) as c:
        assert c.post("/api/v1/ingest/k8s-audit", content=event_list(items)).status_code == 200
        wait_for(lambda: c.get("/api/v1/sources").json()["items"][0]["events_in"] == len(items), 90, "ingest")
        incidents = {i["id"] for i in c.get("/api/v1/incidents", params={"limit": 1000}).json()["items"]}
        time.sleep(2)  # messages are in the outbox, failing
    svc.kill()
    assert hooks.on("/soc") == []
    hooks.down = False
    svc = Service(config).start()
    try:
        wait_for(
            lambda: {orjson.loads(r["body"])["incident"]["id"] for r in hooks.on("/soc")} >= incidents,
            60,
            "the messages kept across kill -9",
        )
        time.sleep(2)
        ids = [orjson.loads(r["body"])["incident"]["id"] for r in hooks.on("/soc")]
        assert sorted(ids) == sorted(incidents)  # each once: nothing lost, nothing repeated
    finally:
        svc.kill()


def test_a_message_waiting_for_its_retry_holds_back_the_later_ones_of_its_channel(tmp_path: Path) -> None:
    """The outbox on a real store and a real webhook endpoint: while the oldest message of a
    channel waits for its retry, the later ones (already due) are not sent before it; another
    channel is not held back; once the endpoint is up, the channel gets them in order."""
    from sqlalchemy import insert, select, update

    from seawall.service.notify.config import Settings
    from seawall.service.notify.outbox import deliver
    from seawall.service.notify.webhook import WebhookChannel
    from seawall.service.store import Store
    from seawall.service.tables import outbox
    from seawall.service.timeutil import now_iso, shift

    hooks = Receiver()
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        store.migrate()
        now = now_iso()
        with store.write() as conn:
            for channel, event in (
                ("a", "opened"),
                ("a", "acknowledged"),
                ("b", "opened"),
                ("a", "resolved"),
            ):
                conn.execute(
                    insert(outbox).values(
                        channel=channel,
                        incident_id=1,
                        event="state",
                        payload=orjson.dumps({"event": event, "channel": channel}).decode(),
                        state="pending",
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
        channels = {
            n: WebhookChannel({"name": n, "url": f"{hooks.url}/{n}", "secret": SECRET, "timeout": 5})
            for n in ("a", "b")
        }
        s = Settings(base_seconds=30, max_seconds=60)
        hooks.down = True
        assert deliver(store, channels, s) == 0  # a: its first fails, the rest wait; b: fails too
        hooks.down = False
        assert deliver(store, channels, s) == 0  # both first messages wait for their retry (30 s)
        assert hooks.requests == []
        with store.write() as conn:  # b's retry is due: b is sent, a stays held behind its first
            conn.execute(update(outbox).where(outbox.c.channel == "b").values(next_attempt_at=now))
        assert deliver(store, channels, s) == 1
        assert [verify(r)["event"] for r in hooks.on("/b")] == ["opened"] and hooks.on("/a") == []
        with store.write() as conn:  # a's retry is due: all three, in their order
            conn.execute(
                update(outbox).where(outbox.c.state == "pending").values(next_attempt_at=shift(now, -1))
            )
        assert deliver(store, channels, s) == 3
        assert [verify(r)["event"] for r in hooks.on("/a")] == ["opened", "acknowledged", "resolved"]
        with store.read() as conn:
            rows = conn.execute(select(outbox.c.channel, outbox.c.attempts, outbox.c.state)).all()
        assert sorted(rows) == [
            ("a", 1, "delivered"),
            ("a", 1, "delivered"),
            ("a", 2, "delivered"),
            ("b", 2, "delivered"),
        ]
    finally:
        store.close()
        hooks.close()


@pytest.mark.parametrize(
    ("channel", "rule", "error"),
    [
        (
            {"name": "oncall", "type": "pagerduty"},
            {"channels": ["oncall"]},
            "notifications: channel oncall: routing_key (or routing_key_env) is required",
        ),
        (
            {"name": "team", "type": "teams", "url": "ftp://teams.example/x"},
            {"channels": ["team"]},
            "notifications: channel team: url must be http(s)://",
        ),
        (
            {
                "name": "soc",
                "type": "webhook",
                "url": "https://hooks.example/x",
                "secret_env": "NOT_SET_ANYWHERE",
            },
            {"channels": ["soc"]},
            "notifications: channel soc: environment variable NOT_SET_ANYWHERE (secret) is not set",
        ),
        (
            {"name": "soc", "type": "carrier-pigeon"},
            {"channels": ["soc"]},
            "notifications: unknown channel type 'carrier-pigeon'; choose one of: "
            "webhook, slack, email, pagerduty, teams",
        ),
        (
            {"name": "chat", "type": "slack", "url": "https://hooks.example/x"},
            {"channels": ["chat"], "min_severity": "apocalyptic"},
            "notifications: rule rule 1: min_severity must be one of ",
        ),
    ],
)
def test_bad_channel_and_rule_settings_stop_the_service_with_one_line(
    tmp_path: Path, channel: dict[str, Any], rule: dict[str, Any], error: str
) -> None:
    from tests.conftest import run_cli

    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 's.db'}",
        notifications={"channels": [channel], "rules": [rule]},
    )
    out = run_cli("serve", "--config", str(config), timeout=60)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"seawall: error: {error}"), out.stderr
