"""Credential sources and auth parsing; Amazon ECR against moto in server mode."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seawall.core.errors import AuthError, InputError
from seawall.image import SourceOptions
from seawall.image.auth import (
    decode_ecr_token,
    docker_config_credentials,
    ecr_credentials,
    ecr_region,
    find_credentials,
    parse_challenge,
)
from seawall.image.refs import parse_ref


def test_bearer_and_basic_challenges() -> None:
    c = parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull",error="invalid_token"'
    )
    assert c.scheme == "bearer"
    assert c.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:library/alpine:pull",
        "error": "invalid_token",
    }
    assert parse_challenge('Basic realm="Registry Realm"').scheme == "basic"


@pytest.mark.parametrize(
    ("ref", "registry", "repo", "tag", "digest"),
    [
        ("alpine", "registry-1.docker.io", "library/alpine", "latest", None),
        ("alpine:3.19", "registry-1.docker.io", "library/alpine", "3.19", None),
        ("docker.io/bitnami/redis:7", "registry-1.docker.io", "bitnami/redis", "7", None),
        ("registry:ghcr.io/org/app:v1", "ghcr.io", "org/app", "v1", None),
        ("localhost:5000/app", "localhost:5000", "app", "latest", None),
        (
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/api:2",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "team/api",
            "2",
            None,
        ),
        ("quay.io/x/y@sha256:" + "a" * 64, "quay.io", "x/y", None, "sha256:" + "a" * 64),
    ],
)
def test_registry_reference_rules(
    ref: str, registry: str, repo: str, tag: str | None, digest: str | None
) -> None:
    parsed = parse_ref(ref)
    assert (parsed.transport, parsed.registry, parsed.repository, parsed.tag, parsed.digest) == (
        "registry",
        registry,
        repo,
        tag,
        digest,
    )


@pytest.mark.parametrize(
    "ref", ["Alpine:latest", "registry:host/repo:bad tag", "x@sha256:short", "registry:"]
)
def test_bad_references(ref: str) -> None:
    with pytest.raises(InputError):
        parse_ref(ref)


def test_docker_config_auths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "docker"
    conf.mkdir()
    enc = base64.b64encode(b"alice:pa:ss").decode()
    (conf / "config.json").write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hubuser:hubpass").decode()},
                    "https://registry.example.com": {"auth": enc},
                    "other.example.com:5000": {"username": "bob", "password": "pw"},
                }
            }
        )
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(conf))
    creds = docker_config_credentials("registry.example.com")
    assert creds is not None and (creds.username, creds.password) == ("alice", "pa:ss")
    assert "pa:ss" not in repr(creds)
    hub = docker_config_credentials("registry-1.docker.io")
    assert hub is not None and hub.username == "hubuser"
    other = docker_config_credentials("other.example.com:5000")
    assert other is not None and other.username == "bob"
    assert docker_config_credentials("nope.example.com") is None


def test_precedence_options_env_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "docker"
    conf.mkdir()
    (conf / "config.json").write_text(
        json.dumps({"auths": {"r.example": {"auth": base64.b64encode(b"c:c").decode()}}})
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(conf))
    monkeypatch.setenv("SEAWALL_REGISTRY_USERNAME", "e")
    monkeypatch.setenv("SEAWALL_REGISTRY_PASSWORD", "e")
    creds = find_credentials("r.example", SourceOptions(username="o", password="o"))
    assert creds is not None and creds.username == "o"
    creds = find_credentials("r.example", SourceOptions())
    assert creds is not None and creds.username == "e"
    monkeypatch.delenv("SEAWALL_REGISTRY_USERNAME")
    monkeypatch.delenv("SEAWALL_REGISTRY_PASSWORD")
    creds = find_credentials("r.example", SourceOptions())
    assert creds is not None and creds.username == "c"
    with pytest.raises(InputError, match="together"):
        find_credentials("r.example", SourceOptions(username="only-user"))


def test_ecr_host_parsing_and_token_decoding() -> None:
    assert ecr_region("123456789012.dkr.ecr.us-east-2.amazonaws.com") == ("123456789012", "us-east-2")
    assert ecr_region("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com") == (
        "123456789012",
        "us-gov-west-1",
    )
    assert ecr_region("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn") == ("123456789012", "cn-north-1")
    assert ecr_region("public.ecr.aws") is None
    assert ecr_region("ghcr.io") is None
    creds = decode_ecr_token(base64.b64encode(b"AWS:eyJwYXlsb2FkIjoi").decode())
    assert (creds.username, creds.password) == ("AWS", "eyJwYXlsb2FkIjoi")
    with pytest.raises(AuthError):
        decode_ecr_token("not base64!")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("moto server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_ecr_token_from_moto_server(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    for var in ("SEAWALL_REGISTRY_USERNAME", "SEAWALL_REGISTRY_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    host = "123456789012.dkr.ecr.eu-central-1.amazonaws.com"
    creds = ecr_credentials(host)
    assert creds is not None and creds.username == "AWS" and creds.password and creds.source == "ecr"
    found = find_credentials(host, SourceOptions())
    assert found is not None and found.source == "ecr"
    assert ecr_credentials("ghcr.io") is None
    # ECR unreachable and nothing in docker config: one clear AuthError
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(AuthError, match="ECR"):
        find_credentials(host, SourceOptions())
