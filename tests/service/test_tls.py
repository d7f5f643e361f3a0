"""The audit webhook over HTTPS, as the Kubernetes API server reaches it: a certificate made for
the test (a CA and a server certificate for 127.0.0.1 signed by it, with openssl), the client
verifying it against that CA. A client that does not trust the CA, and plain HTTP to the TLS
port, get nothing through."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import (
    audit_items,
    event_list,
    make_token,
    source_row,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.slow


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_certs(root: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server-key.pem): a CA and a server certificate for IP 127.0.0.1."""
    root.mkdir(parents=True, exist_ok=True)
    ca, ca_key = root / "ca.pem", root / "ca-key.pem"
    cert, key, csr = root / "server.pem", root / "server-key.pem", root / "server.csr"
    ext = root / "server.ext"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=seawall test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1",
    )  # fmt: skip
    ext.write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext),
    )  # fmt: skip
    return ca, cert, key


def test_audit_webhook_over_https_with_a_verified_certificate(tmp_path, database, service_factory) -> None:
    ca, cert, key = make_certs(tmp_path / "tls")
    config = write_config(
        tmp_path,
        database,
        sources=[{"name": "audit", "type": "k8s-audit-webhook"}],
        tls={"cert": str(cert), "key": str(key)},
    )
    token = make_token(config, "admin")
    svc = service_factory(config).start()
    assert svc.url.startswith("https://127.0.0.1:"), svc.url
    items = audit_items()
    batches = [event_list(items[i : i + 400]) for i in range(0, len(items), 400)]

    # the client verifies the server's certificate against the test CA (as the API server does
    # with the webhook kubeconfig's certificate-authority)
    with svc.client(token, verify=ssl.create_default_context(cafile=str(ca))) as c:
        assert c.get("/healthz").status_code == 200
        for body in batches:
            r = c.post("/api/v1/ingest/k8s-audit/audit", content=body)
            assert r.status_code == 200, r.text
        wait_for(lambda: source_row(c, "audit")["events_in"] == len(items), what="the batches committed")
        found = c.get("/api/v1/findings", params={"source": "audit", "limit": 500}).json()["items"]
        assert any(f["rule"] == "SW-K8S-EXEC" for f in found), sorted({f["rule"] for f in found})
        assert (
            c.post("/api/v1/ingest/k8s-audit/audit", content=b"{}", headers={"Authorization": ""}).status_code
            == 401
        )

    # a client that does not trust the CA is refused by its own verification: nothing is sent
    with svc.client(token) as c, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        c.post("/api/v1/ingest/k8s-audit/audit", content=batches[0])
    # plain HTTP to the TLS port: no answer is an acceptance
    plain = svc.url.replace("https://", "http://")
    with httpx.Client(base_url=plain, timeout=10) as c:
        try:
            r = c.post("/api/v1/ingest/k8s-audit/audit", content=batches[0])
            assert r.status_code >= 400
        except httpx.HTTPError:
            pass
    with svc.client(token, verify=ssl.create_default_context(cafile=str(ca))) as c:
        assert source_row(c, "audit")["events_in"] == len(items)  # no event came in another way
