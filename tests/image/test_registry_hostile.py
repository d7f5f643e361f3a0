"""Hostile and broken registries (scripted servers on 127.0.0.1): every body seawall reads from a
registry has a size cap, every request an overall deadline; errors are one clear line."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import pytest

from seawall.core.errors import AuthError, InputError, LimitExceeded, NetworkError
from seawall.image import SourceOptions, open_image
from tests.conftest import run_cli
from tests.image.builder import E, Layer, build
from tests.image.hostile_server import answer, endless, hostile_server, trickle

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"

pytestmark = pytest.mark.network


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bearer(port: int) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer realm="https://127.0.0.1:{port}/token",service="hostile"'}


def test_endless_token_body_is_refused_at_its_cap(tmp_path: Path) -> None:
    """A token endpoint that answers with an endless body: refused at 1 MiB, not read to 10 GiB."""
    port_box: list[int] = []

    def challenge(h: object) -> None:
        answer(401, b"{}", _bearer(port_box[0]))(h)  # type: ignore[arg-type]

    routes = {r"^/v2/": challenge, r"^/token": endless(headers={"Content-Type": "application/json"})}
    with hostile_server(tmp_path, routes) as srv:
        port_box.append(srv.port)
        before = _peak_rss_mib()
        started = time.monotonic()
        with pytest.raises(LimitExceeded, match="token endpoint"):
            open_image(f"registry:{srv.host}/x/y:1", SourceOptions(ca_cert=srv.ca_cert))
        assert time.monotonic() - started < 20
        assert _peak_rss_mib() - before < 64


def test_manifest_one_byte_every_5_seconds_hits_the_deadline(tmp_path: Path) -> None:
    """The body trickles: each read returns within the per-read timeout, the whole never ends."""
    img = build([Layer([E("a", b"1")])])
    routes = {r"/manifests/": trickle(img.manifest, 5.0, {"Content-Type": MANIFEST_TYPE})}
    with hostile_server(tmp_path, routes) as srv:
        started = time.monotonic()
        with pytest.raises(NetworkError, match=r"timed out.*deadline of 3 s"):
            open_image(f"registry:{srv.host}/x/y:1", SourceOptions(ca_cert=srv.ca_cert, deadline=3.0))
        assert time.monotonic() - started < 10


def test_headers_one_byte_at_a_time_hit_the_deadline(tmp_path: Path) -> None:
    routes = {r"/manifests/": trickle(b"{}", 0.2, {"X-Padding": "p" * 200}, slow_headers=True)}
    with hostile_server(tmp_path, routes) as srv:
        started = time.monotonic()
        with pytest.raises(NetworkError, match="deadline of 2 s"):
            open_image(f"registry:{srv.host}/x/y:1", SourceOptions(ca_cert=srv.ca_cert, deadline=2.0))
        assert time.monotonic() - started < 8


def test_endless_manifest_and_error_bodies_are_capped(tmp_path: Path) -> None:
    routes = {r"/manifests/big": endless(headers={"Content-Type": MANIFEST_TYPE}),
              r"/manifests/gone": endless(404, {"Content-Type": "application/json"})}
    with hostile_server(tmp_path, routes) as srv:
        opts = SourceOptions(ca_cert=srv.ca_cert)
        before = _peak_rss_mib()
        with pytest.raises(LimitExceeded, match="manifest big is larger than the limit"):
            open_image(f"registry:{srv.host}/x/y:big", opts)
        with pytest.raises(InputError, match="not found in registry \\(HTTP 404\\)"):
            open_image(f"registry:{srv.host}/x/y:gone", opts)
        assert _peak_rss_mib() - before < 64


def test_blob_longer_than_declared_and_trickled_blob(tmp_path: Path) -> None:
    img = build([Layer([E("a", b"1")])])
    config_digest = json.loads(img.manifest)["config"]["digest"]
    headers = {"Content-Type": MANIFEST_TYPE}
    routes = {r"/manifests/": answer(200, img.manifest, headers),
              rf"/blobs/{config_digest}": endless(),
              r"/blobs/": trickle(img.layers[0], 5.0)}
    with hostile_server(tmp_path, routes) as srv:
        opts = SourceOptions(ca_cert=srv.ca_cert, deadline=2.0)
        with open_image(f"registry:{srv.host}/x/y:1", opts) as src, \
                pytest.raises(InputError, match=r"more bytes than the .* declared"):
            src.config()


def test_trickled_blob_hits_its_deadline(tmp_path: Path) -> None:
    from seawall.image.fs import walk

    img = build([Layer([E("a", b"1")])])
    config_digest = json.loads(img.manifest)["config"]["digest"]
    routes = {r"/manifests/": answer(200, img.manifest, {"Content-Type": MANIFEST_TYPE}),
              rf"/blobs/{config_digest}": answer(200, img.config),
              r"/blobs/": trickle(img.layers[0], 5.0)}
    with hostile_server(tmp_path, routes) as srv:
        opts = SourceOptions(ca_cert=srv.ca_cert, deadline=2.0)
        started = time.monotonic()
        with open_image(f"registry:{srv.host}/x/y:1", opts) as src, \
                pytest.raises(NetworkError, match="deadline"):
            walk(src, [], opts.limits)
        assert time.monotonic() - started < 10


def test_plain_http_registry_says_so(tmp_path: Path) -> None:
    routes = {r"^/v2/": answer(200, b"{}")}
    with hostile_server(tmp_path, routes, tls=False) as srv:
        with pytest.raises(NetworkError, match=r"speaks plain HTTP.*--insecure-registry if you trust it"):
            open_image(f"registry:{srv.host}/x/y:1", SourceOptions())
        result = run_cli("sbom", f"registry:{srv.host}/x/y:1")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "plain HTTP" in result.stderr


def test_registry_error_text_is_printed_without_escape_sequences(tmp_path: Path) -> None:
    body = json.dumps({"errors": [{"code": "DENIED", "message": "no \x1b[2J\x1b]0;pwned\x07 way"}]}).encode()
    routes = {r"/manifests/": answer(500, body, {"Content-Type": "application/json"})}
    with hostile_server(tmp_path, routes) as srv:
        result = run_cli("sbom", f"registry:{srv.host}/x/y:1", "--ca-cert", str(srv.ca_cert))
    assert result.returncode == 2
    assert "DENIED: no" in result.stderr and "way" in result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr


def test_credentials_from_the_environment_are_named_so(tmp_path: Path) -> None:
    routes = {r"^/v2/": answer(401, b"{}", {"WWW-Authenticate": 'Basic realm="x"'})}
    with hostile_server(tmp_path, routes) as srv:
        env = {"SEAWALL_REGISTRY_USERNAME": "robot", "SEAWALL_REGISTRY_PASSWORD": "hunter2-pw"}
        result = run_cli("sbom", f"registry:{srv.host}/x/y:1", "--ca-cert", str(srv.ca_cert), env=env)
        assert result.returncode == 2
        assert "from environment" in result.stderr and "options" not in result.stderr
        assert "hunter2-pw" not in result.stderr
        given = run_cli("sbom", f"registry:{srv.host}/x/y:1", "--ca-cert", str(srv.ca_cert),
                        "--username", "robot", "--password", "hunter2-pw")
        assert "from options" in given.stderr


def test_auth_error_for_basic_without_credentials(tmp_path: Path, isolated: Path) -> None:
    routes = {r"^/v2/": answer(401, b"{}", {"WWW-Authenticate": 'Basic realm="x"'})}
    with hostile_server(tmp_path, routes) as srv, pytest.raises(AuthError, match="requires authentication"):
        open_image(f"registry:{srv.host}/x/y:1", SourceOptions(ca_cert=srv.ca_cert))
