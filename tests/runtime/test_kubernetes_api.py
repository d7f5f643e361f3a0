"""`kubernetes-api`: pods read straight from the API (`GET /api/v1/pods`, `limit`/`continue`
pages, a bearer token, TLS verified against the cluster's CA). No API server can run here (Debian
12 ships no kube-apiserver), so a local HTTPS server on 127.0.0.1 serves the documented PodList
pages built from the same pods as the kubectl test, and refuses requests without the token."""

from __future__ import annotations

import http.server
import json
import os
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

DATA = Path(__file__).parent / "data"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.test-service-account-token-0123456789"


class FakeAPI:
    def __init__(self, url: str, ca: Path, seen: list[dict[str, Any]]) -> None:
        self.url, self.ca, self.seen = url, ca, seen


def _self_signed(area: Path) -> tuple[Path, Path]:
    area.mkdir(parents=True, exist_ok=True)
    cert, key = area / "cert.pem", area / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:TRUE"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[FakeAPI]:
    cert, key = _self_signed(tmp_path / "api")
    items = json.loads((DATA / "pods.json").read_text())["items"]
    seen: list[dict[str, Any]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            seen.append({"path": url.path, "query": query, "auth": self.headers.get("Authorization")})
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                status = {"kind": "Status", "status": "Failure", "message": "Unauthorized", "code": 401}
                return self._send(401, status)
            if url.path != "/api/v1/pods":
                return self._send(404, {"kind": "Status", "message": "the server could not find it"})
            index = int(query.get("continue") or 0)  # one pod a page, as a server may answer
            page: dict[str, Any] = {
                "kind": "PodList",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": "9"},
            }
            page["items"] = items[index : index + 1]
            if index + 1 < len(items):
                page["metadata"]["continue"] = str(index + 1)
            self._send(200, page)

        def _send(self, status: int, doc: dict[str, Any]) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield FakeAPI(f"https://127.0.0.1:{server.server_address[1]}", cert, seen)
    finally:
        server.shutdown()
        server.server_close()


def _run(tmp_path: Path, source: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SEAWALL_KUBERNETES", "KUBERNETES_"))}
    return run_cli(
        "scan", "running", "--inventory", "--format", "json", "--source", source,
        "--store", str(tmp_path / "s.sqlite"), env={**clean, "HOME": str(tmp_path), **env},
    )  # fmt: skip


def test_pods_from_the_api_in_pages(api: FakeAPI, tmp_path: Path) -> None:
    env = {"SEAWALL_KUBERNETES_TOKEN": TOKEN, "SEAWALL_KUBERNETES_CA": str(api.ca)}
    proc = _run(tmp_path, f"kubernetes-api:{api.url}", env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = {c["name"]: c for c in json.loads(proc.stdout)["target"]["metadata"]["containers"]}
    assert set(got) == {"app", "sidecar"}  # one per page; the finished Job's container is not running
    assert got["app"]["runtime"] == "kubernetes" and got["app"]["workload"] == {
        "kind": "pod",
        "name": "web-7d9c6b8f5d-x2k4p",
        "namespace": "shop",
        "controller": "Deployment/web",
    }
    assert got["app"]["privileges"] == {"privileged": True, "cap_add": ["NET_ADMIN"], "host_pid": True}
    assert [s["query"] for s in api.seen] == [{"limit": "500"}, {"limit": "500", "continue": "1"}]
    assert all(s["path"] == "/api/v1/pods" and s["auth"] == f"Bearer {TOKEN}" for s in api.seen)


def test_wrong_token_untrusted_ca_and_no_cluster_are_one_line(api: FakeAPI, tmp_path: Path) -> None:
    proc = _run(
        tmp_path,
        f"kubernetes-api:{api.url}",
        {"SEAWALL_KUBERNETES_TOKEN": "wrong-token-secret", "SEAWALL_KUBERNETES_CA": str(api.ca)},
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "HTTP 401" in proc.stderr and "Unauthorized" in proc.stderr and "wrong-token" not in proc.stderr
    # the server's certificate is not signed by the CA given (another one): TLS refuses, no request
    other_ca = tmp_path / "other" / "cert.pem"
    _self_signed(other_ca.parent)
    seen = len(api.seen)
    proc = _run(
        tmp_path,
        f"kubernetes-api:{api.url}",
        {"SEAWALL_KUBERNETES_TOKEN": TOKEN, "SEAWALL_KUBERNETES_CA": str(other_ca)},
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "cannot reach" in proc.stderr and "CERTIFICATE_VERIFY_FAILED" in proc.stderr
    assert len(api.seen) == seen and TOKEN not in proc.stderr
    proc = _run(tmp_path, "kubernetes-api", {})
    assert proc.returncode == 2 and "not in a pod (no KUBERNETES_SERVICE_HOST)" in proc.stderr
    proc = _run(tmp_path, "kubernetes-api:http://127.0.0.1:1", {"SEAWALL_KUBERNETES_TOKEN": TOKEN})
    assert proc.returncode == 2 and "is not an https:// URL" in proc.stderr
