"""`seawall agent`: the /proc sidecar watching a real Podman container (its processes seen from
outside, as a sidecar sees the task's other containers with pidMode task), shipping Falco-shaped
events to a file and to a real `seawall serve`; and the task-definition change it prints."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from devtools.podman import Podman
from tests.conftest import run_cli
from tests.runtime.conftest import DEMO_TAG
from tests.service.conftest import Service, make_token, source_row, wait_for, write_config

DATA = Path(__file__).parent / "data"


def _agent(cid: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seawall",
            "agent",
            "--cgroup-match",
            f"libpod-{cid}",
            "--interval",
            "0.2",
            "--drift-interval",
            "1",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


@contextmanager
def _task_metadata(cid: str) -> Iterator[str]:
    """The ECS task metadata endpoint v4 (a local HTTP server, the documented payload) naming the
    Podman container as the task's `web` container: the agent names containers from it."""
    doc = json.loads((DATA / "ecs-task-metadata-v4-task.json").read_text())
    doc["Containers"][0].update(DockerId=cid, Name="web")
    body = json.dumps(doc).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/v4/task-meta/task"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Length", str(len(body) if ok else 0))
            self.end_headers()
            if ok:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v4/task-meta"
    finally:
        server.shutdown()
        server.server_close()


def _wait_ready(proc: subprocess.Popen[str]) -> str:
    """The agent's line after its baseline poll (what ran before it is the container's own)."""
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "seawall agent: watching 1 container(s)" in line, line
    return line


def _attack(podman: Podman, name: str) -> None:
    podman.exec(name, "cp /bin/sleep /tmp/dropper && chmod 755 /tmp/dropper")
    podman.run("exec", "-d", name, "/tmp/dropper", "6")
    podman.run("exec", "-d", name, "sh", "-c", "sleep 6; true")
    podman.run(
        "exec",
        "-d",
        name,
        "python3",
        "-c",
        "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', 8999)); s.listen(); time.sleep(6)",
    )


@pytest.mark.slow
@pytest.mark.toolchain
def test_agent_sees_drift_shells_and_sockets(podman: Podman, tmp_path: Path) -> None:
    with podman.started(DEMO_TAG, ("rt-agent",), "sleep", "3600", label="seawall.test=agent") as ids:
        cid = ids["rt-agent"]
        events_file = tmp_path / "events.jsonl"
        with _task_metadata(cid) as metadata:
            env = {"ECS_CONTAINER_METADATA_URI_V4": metadata}
            proc = _agent(cid, "--output", str(events_file), "--duration", "12", env=env)
            try:
                first = _wait_ready(proc)
                _attack(podman, "rt-agent")
                _, stderr = proc.communicate(timeout=60)
                stderr = first + stderr
            finally:
                if proc.poll() is None:
                    proc.kill()
    assert proc.returncode == 0, stderr
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    rules: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        rules.setdefault(e["rule"], []).append(e)
        assert e["output_fields"]["container.id"] == cid and e["source"] == "syscall"
        assert e["output_fields"]["container.name"] == "web"  # from the task metadata endpoint
    drop = rules["Drop and execute new binary in container"][0]
    assert drop["priority"] == "Critical" and drop["output_fields"]["proc.exepath"] == "/tmp/dropper"
    assert drop["output_fields"]["proc.cmdline"] == "/tmp/dropper 6"
    shells = [e["output_fields"] for e in rules["Shell spawned in a container"]]
    assert all(shell["proc.name"] == "sh" for shell in shells)
    assert any("sleep 6" in shell["proc.cmdline"] for shell in shells), shells
    assert any(
        e["output_fields"]["fd.name"] == "127.0.0.1:8999" for e in rules["Listening port opened in container"]
    )
    written = {e["output_fields"]["fd.name"]: e for e in rules["Executable written in container"]}
    assert written["/tmp/dropper"]["output_fields"]["fs.sha256"].startswith("sha256:")
    assert len(written) <= 3, sorted(written)  # only what was written after start
    assert "shipped" in stderr and "0 dropped" in stderr


@pytest.mark.slow
@pytest.mark.toolchain
def test_agent_ships_to_the_service(podman: Podman, tmp_path: Path) -> None:
    with podman.started(DEMO_TAG, ("rt-agent2",), "sleep", "3600", label="seawall.test=agent") as ids:
        _ship_to_the_service(podman, ids["rt-agent2"], tmp_path)


def _ship_to_the_service(podman: Podman, cid: str, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "svc",
        f"sqlite:///{tmp_path / 'svc.db'}",
        sources=[{"name": "agent", "type": "falco-http"}],
    )
    token = make_token(config, role="ingest")
    admin = make_token(config, role="admin")
    service = Service(config).start()
    try:
        proc = subprocess.Popen(
            [*_agent_args(cid), "--output", f"{service.url}/api/v1/ingest/falco/agent"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 2, stderr  # no token: one line, exit 2
        assert stderr.count("\n") == 1 and "--token" in stderr
        proc = subprocess.Popen(
            [*_agent_args(cid), "--output", f"{service.url}/api/v1/ingest/falco/agent", "--duration", "10"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**_env(), "SEAWALL_TOKEN": token},
        )
        _wait_ready(proc)
        _attack(podman, "rt-agent2")
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        with service.client(admin) as client:
            row = wait_for(
                lambda: (r := source_row(client, "agent"))["events_in"] >= 3 and r,
                timeout=60,
                what="agent events in the service",
            )
        assert row["events_in"] >= 3
    finally:
        service.stop()


def _agent_args(cid: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "seawall",
        "agent",
        "--cgroup-match",
        f"libpod-{cid}",
        "--interval",
        "0.2",
        "--drift-interval",
        "1",
    ]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "SEAWALL_TOKEN"}


def test_task_definition_change(tmp_path: Path) -> None:
    td = {
        "taskDefinition": {
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/web:7",
            "family": "web",
            "revision": 7,
            "status": "ACTIVE",
            "networkMode": "awsvpc",
            "requiresCompatibilities": ["FARGATE"],
            "cpu": "512",
            "memory": "1024",
            "containerDefinitions": [
                {
                    "name": "app",
                    "image": "nginx:1.25",
                    "essential": True,
                    "logConfiguration": {"logDriver": "awslogs"},
                }
            ],
        }
    }
    path = tmp_path / "td.json"
    path.write_text(json.dumps(td))
    proc = run_cli(
        "agent",
        "task-definition",
        str(path),
        "--service-url",
        "https://seawall.example/api/v1/ingest/falco",
        "--token-secret-arn",
        "arn:aws:secretsmanager:eu-west-1:111122223333:secret:seawall-ingest",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["pidMode"] == "task" and out["family"] == "web" and "revision" not in out
    names = [c["name"] for c in out["containerDefinitions"]]
    assert names == ["app", "seawall-agent"]
    agent = out["containerDefinitions"][1]
    assert agent["command"][:2] == ["agent", "--ecs-task"] and agent["essential"] is False
    assert agent["memory"] == 64 and agent["linuxParameters"]["capabilities"]["add"] == ["SYS_PTRACE"]
    assert agent["secrets"][0]["name"] == "SEAWALL_TOKEN"
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    proc = run_cli("agent", "task-definition", str(bad))
    assert proc.returncode == 2 and "malformed JSON" in proc.stderr and proc.stderr.count("\n") == 1
    proc = run_cli("agent")
    assert proc.returncode == 2 and "--ecs-task" in proc.stderr
