"""Inventory sources other than the live sockets: `kubectl get pods -A -o json`, the ECS API
(moto in server mode), the ECS task metadata endpoint v4 (a local HTTP server serving the
documented payload shape); and bad input as one line, exit 2."""

from __future__ import annotations

import http.server
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import run_cli

DATA = Path(__file__).parent / "data"
CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
}


def inventory(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    proc = run_cli(
        "scan",
        "running",
        "--inventory",
        "--format",
        "json",
        "--store",
        str(tmp_path / "s.sqlite"),
        *args,
        env={"HOME": str(tmp_path), **(env or {})},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return list(json.loads(proc.stdout)["target"]["metadata"]["containers"])


def test_kubernetes_pods(tmp_path: Path) -> None:
    got = {c["name"]: c for c in inventory(tmp_path, "--source", f"kubernetes:{DATA / 'pods.json'}")}
    assert set(got) == {"app", "sidecar"}  # the finished Job's container is not running
    app = got["app"]
    assert app["workload"] == {
        "kind": "pod",
        "name": "web-7d9c6b8f5d-x2k4p",
        "namespace": "shop",
        "controller": "Deployment/web",
    }
    assert app["image_digest"] == "sha256:3b1c2f7e9d8a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c"
    assert app["id"].startswith("5f1e6a8c") and app["started_at"] == "2026-03-02T09:00:00Z"
    assert app["privileges"] == {"privileged": True, "cap_add": ["NET_ADMIN"], "host_pid": True}
    assert got["sidecar"]["image_digest"].startswith("sha256:9d8c7b6a")
    assert got["sidecar"]["privileges"] == {"user": "101", "host_pid": True}


def test_ecs_task_metadata_v4(tmp_path: Path) -> None:
    payload = (DATA / "ecs-task-metadata-v4-task.json").read_bytes()
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            body = payload if self.path.endswith("/task") else b'{"DockerId": "x"}'
            self.send_response(200 if self.path.startswith("/v4/") else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v4/e9028f8d5d8e4f258373e7b93ce9a3c3-2495160603"
        got = inventory(tmp_path, "--source", "ecs-task", env={"ECS_CONTAINER_METADATA_URI_V4": url})
    finally:
        server.shutdown()
        server.server_close()
    assert seen and seen[0].endswith("/task")
    curl = next(c for c in got if c["name"] == "curl")
    assert curl["workload"] == {
        "kind": "ecs-task",
        "name": "e9028f8d5d8e4f258373e7b93ce9a3c3",
        "namespace": "default",
        "controller": "task-definition/curltest:3",
        "arn": "arn:aws:ecs:us-west-2:111122223333:task/default/e9028f8d5d8e4f258373e7b93ce9a3c3",
    }
    assert curl["image_id"] == "sha256:25f3695bedfb454a50f12d127839a68ad3caf91e451c1da073db34c542c4d2cb"
    assert curl["runtime"] == "ecs-task" and curl["started_at"].startswith("2020-10-08T20:47:20")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def moto_ecs() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        server.stop()


@pytest.mark.network
def test_ecs_api_against_moto(moto_ecs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in CREDS.items():
        monkeypatch.setenv(k, v)
    ecs = boto3.client("ecs", region_name="us-east-1", endpoint_url=moto_ecs)
    ecs.create_cluster(clusterName="prod")
    ecs.create_cluster(clusterName="empty")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:" + "ab" * 32
    ecs.register_task_definition(
        family="web",
        containerDefinitions=[
            {
                "name": "app",
                "image": image,
                "memory": 128,
                "privileged": True,
                "user": "0",
                "linuxParameters": {"capabilities": {"add": ["SYS_ADMIN"]}},
            }
        ],
    )
    ecs.create_service(cluster="prod", serviceName="websvc", taskDefinition="web", desiredCount=0)
    ecs.run_task(cluster="prod", taskDefinition="web", count=2, group="service:websvc", launchType="FARGATE")
    got = inventory(
        tmp_path, "--source", "ecs", "--region", "us-east-1", "--endpoint-url", moto_ecs, env=dict(CREDS)
    )
    assert len(got) == 2
    for c in got:
        assert c["name"] == "app" and c["runtime"] == "ecs" and c["image_digest"] == "sha256:" + "ab" * 32
        assert c["workload"]["namespace"] == "prod" and c["workload"]["controller"] == "service/websvc"
        assert c["workload"]["arn"].startswith("arn:aws:ecs:us-east-1:123456789012:task/prod/")
        assert c["privileges"] == {"privileged": True, "cap_add": ["SYS_ADMIN"], "user": "0"}
    assert len({c["workload"]["name"] for c in got}) == 2
    # one named cluster; an unknown one is a one-line error
    assert len(inventory(tmp_path, "--source", "ecs:prod", "--endpoint-url", moto_ecs, env=dict(CREDS))) == 2
    proc = run_cli(
        "scan",
        "running",
        "--inventory",
        "--source",
        "ecs",
        "--endpoint-url",
        moto_ecs,
        "--store",
        str(tmp_path / "s.sqlite"),
        env={
            "HOME": str(tmp_path),
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    )
    assert proc.returncode == 2 and "no AWS credentials" in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("docker:unix:///nonexistent/docker.sock", "no socket at /nonexistent/docker.sock"),
        ("kubernetes:{bad}", "malformed JSON"),
        ("kubernetes:{list}", "expected the JSON of `kubectl get pods -A -o json`"),
        ("ecs-task", "ECS_CONTAINER_METADATA_URI_V4 is not set"),
        ("nomad", "unknown runtime source 'nomad'"),
    ],
)
def test_bad_sources_are_one_line_exit_2(tmp_path: Path, source: str, message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"items": [')
    lst = tmp_path / "list.json"
    lst.write_text("[1, 2]")
    source = source.format(bad=bad, list=lst)
    env = {k: v for k, v in os.environ.items() if k != "ECS_CONTAINER_METADATA_URI_V4"}
    env["HOME"] = str(tmp_path)
    proc = run_cli("scan", "running", "--source", source, "--store", str(tmp_path / "s.sqlite"), env=env)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_sources_unreachable_socket_one_line(tmp_path: Path) -> None:
    sock = tmp_path / "dead.sock"
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(sock))  # exists, nobody accepts
    s.close()
    proc = run_cli(
        "scan",
        "running",
        "--source",
        f"podman:unix://{sock}",
        "--store",
        str(tmp_path / "s.sqlite"),
        env={"HOME": str(tmp_path)},
    )
    assert proc.returncode == 2 and "podman API: cannot reach" in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.network
def test_registry_watch_lists_ecr_through_its_api(
    moto_ecs: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ECR: repositories and image digests/tags from DescribeRepositories/DescribeImages (moto);
    every reference is stored; reading the new images needs the registry itself (not in moto), so
    each is a skip with its reason, not an error."""
    for k, v in CREDS.items():
        monkeypatch.setenv(k, v)
    ecr = boto3.client("ecr", region_name="us-east-1", endpoint_url=moto_ecs)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 2,
                "digest": "sha256:" + "1" * 64,
            },
            "layers": [],
        }
    )
    for repo, tags in (("shop/web", ["1.4", "latest"]), ("tools/jwt", ["1"])):
        ecr.create_repository(repositoryName=repo)
        for tag in tags:
            ecr.put_image(
                repositoryName=repo,
                imageManifest=manifest.replace("1" * 64, f"{len(repo):064x}"),
                imageTag=tag,
            )
    store = tmp_path / "store.sqlite"
    env = {**CREDS, "HOME": str(tmp_path), "AWS_EC2_METADATA_DISABLED": "true"}
    proc = run_cli(
        "registry",
        "watch",
        "ecr:us-east-1",
        "--endpoint-url",
        moto_ecs,
        "--store",
        str(store),
        "--repository",
        "shop/*",
        "--format",
        "json",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    (rnd,) = doc["target"]["metadata"]["rounds"]
    assert rnd["repositories"] == 1 and rnd["tags"] == 2 and rnd["digests"] == 1
    assert any("not analyzed" in w for w in doc.get("warnings", [])), doc.get("warnings")
    from seawall.runtime.sbomstore import open_store

    s = open_store(str(store))
    try:
        refs = dict(s.references())
    finally:
        s.close()
    assert set(refs) == {
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web:1.4",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web:latest",
    }
