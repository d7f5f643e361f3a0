"""Against a real distribution registry (Debian's docker-registry) with TLS and htpasswd."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path

import pytest

from devtools.registry import Registry, push
from seawall.core.errors import AuthError, InputError, IntegrityError, NetworkError
from seawall.image import Limits, SourceOptions, open_image
from seawall.image.fs import walk
from tests.conftest import run_cli
from tests.image.builder import E, Layer, build, write_docker_archive, write_oci
from tests.image.visitors import Recorder

pytestmark = pytest.mark.slow


def _layers(tag: str) -> list[Layer]:
    return [
        Layer(
            [E("etc/", type="dir"), E("etc/os-release", b"ID=alpine\n"), E("etc/motd", tag.encode())],
            created_by="ADD alpine-minirootfs.tar.gz /",
        ),
        Layer(
            [E("etc/.wh.motd"), E("app/VERSION", tag.encode())],
            created_by="COPY VERSION /app/",
            compression="zstd",
        ),
    ]


def _opts(reg: Registry, **kw: object) -> SourceOptions:
    base: dict[str, object] = {"username": reg.username, "password": reg.password, "ca_cert": reg.ca_cert}
    base.update(kw)
    return SourceOptions(**base)  # type: ignore[arg-type]


def _push_oci(reg: Registry, tmp: Path, repo_tag: str, layers: list[Layer] | None = None) -> str:
    tag = repo_tag.split(":")[1]
    img = build(layers or _layers(tag))
    root = tmp / f"layout-{uuid.uuid4().hex[:8]}"
    write_oci(root, [(img, tag)])
    push(reg, f"oci:{root}:{tag}", repo_tag)
    return img.manifest_digest


def _read(ref: str, options: SourceOptions) -> tuple[dict[str, bytes], str | None, list[str | None]]:
    rec = Recorder(lambda e: e.kind == "file")
    with open_image(ref, options) as src:
        index = walk(src, [rec], options.limits)
        assert "/etc/motd" not in index
        return {p: c for p, (c, _) in rec.seen.items()}, src.digest, [li.created_by for li in src.layers()]


@pytest.fixture(scope="module")
def demo(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An OCI image pushed as demo:1; returns its manifest digest."""
    return _push_oci(registry, tmp_path_factory.mktemp("demo"), "demo:1")


def test_pull_by_tag_and_by_digest(registry: Registry, demo: str, isolated: Path) -> None:
    files, digest, created = _read(f"registry:{registry.host}/demo:1", _opts(registry))
    assert files == {"/etc/os-release": b"ID=alpine\n", "/app/VERSION": b"1"}
    assert digest == demo
    assert created == ["ADD alpine-minirootfs.tar.gz /", "COPY VERSION /app/"]
    by_digest = _read(f"registry:{registry.host}/demo@{demo}", _opts(registry))
    assert by_digest[0] == files and by_digest[1] == demo
    # a bare HOST:PORT/REPO:TAG is a registry reference too
    assert _read(f"{registry.host}/demo:1", _opts(registry))[0] == files
    assert list((isolated / "tmp").rglob("*")) == []  # blob temp files are removed on close


def test_docker_v2_manifest(registry: Registry, tmp_path: Path) -> None:
    archive = tmp_path / "d.tar"
    write_docker_archive(archive, [Layer(x.entries, x.created_by, "gzip") for x in _layers("dock")])
    push(registry, f"docker-archive:{archive}", "dockerfmt:1", format="v2s2")
    with open_image(f"registry:{registry.host}/dockerfmt:1", _opts(registry)) as src:
        assert src.manifest().media_type == "application/vnd.docker.distribution.manifest.v2+json"  # type: ignore[attr-defined]
        rec = Recorder({"/app/VERSION"})
        walk(src, [rec], Limits())
    assert rec.content("/app/VERSION") == b"dock"


def test_index_with_platform(registry: Registry, tmp_path: Path) -> None:
    amd = build([Layer([E("arch", b"amd64")])], arch="amd64")
    arm = build([Layer([E("arch", b"arm64")])], arch="arm64")
    root = tmp_path / "multi"
    write_oci(
        root,
        [(amd, None), (arm, None)],
        as_index=True,
        platforms=[("linux", "amd64"), ("linux", "arm64")],
        index_tag="m",
    )
    push(registry, f"oci:{root}:m", "multi:1", all_platforms=True)
    for platform, want in (("linux/amd64", b"amd64"), ("linux/arm64", b"arm64")):
        rec = Recorder({"/arch"})
        with open_image(f"registry:{registry.host}/multi:1", _opts(registry, platform=platform)) as src:
            walk(src, [rec], Limits())
        assert rec.content("/arch") == want
    with pytest.raises(InputError, match="no image for platform linux/ppc64le"):
        open_image(f"registry:{registry.host}/multi:1", _opts(registry, platform="linux/ppc64le"))


def test_wrong_password_is_auth_error_without_secret(registry: Registry, demo: str) -> None:
    with pytest.raises(AuthError) as info:
        open_image(f"registry:{registry.host}/demo:1", _opts(registry, password="Wr0ng-Secret-Value"))
    message = str(info.value)
    assert "wrong username or password" in message and "\n" not in message
    assert "Wr0ng-Secret-Value" not in message and registry.password not in message


def test_no_credentials_is_auth_error(registry: Registry, demo: str, isolated: Path) -> None:
    with pytest.raises(AuthError, match="requires authentication"):
        open_image(f"registry:{registry.host}/demo:1", SourceOptions(ca_cert=registry.ca_cert))


def test_credentials_from_env_and_docker_config(
    registry: Registry, demo: str, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEAWALL_REGISTRY_USERNAME", registry.username)
    monkeypatch.setenv("SEAWALL_REGISTRY_PASSWORD", registry.password)
    with open_image(f"registry:{registry.host}/demo:1", SourceOptions(ca_cert=registry.ca_cert)) as src:
        assert src.digest == demo
    monkeypatch.delenv("SEAWALL_REGISTRY_USERNAME")
    monkeypatch.delenv("SEAWALL_REGISTRY_PASSWORD")
    conf = isolated / "dockercfg"
    conf.mkdir()
    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    (conf / "config.json").write_text(json.dumps({"auths": {f"https://{registry.host}": {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(conf))
    with open_image(f"registry:{registry.host}/demo:1", SourceOptions(ca_cert=registry.ca_cert)) as src:
        assert src.digest == demo


def test_untrusted_certificate_is_refused_unless_asked(registry: Registry, demo: str) -> None:
    with pytest.raises(NetworkError, match="--ca-cert") as info:
        open_image(f"registry:{registry.host}/demo:1", _opts(registry, ca_cert=None))
    assert "\n" not in str(info.value)
    with open_image(f"registry:{registry.host}/demo:1", _opts(registry, ca_cert=None, insecure=True)) as src:
        assert src.digest == demo


def test_corrupted_blob_in_registry_storage_is_refused(registry: Registry, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:12]
    _push_oci(registry, tmp_path, f"corrupt:{tag}")
    with open_image(f"registry:{registry.host}/corrupt:{tag}", _opts(registry)) as src:
        layer = src.layers()[1]
    data = registry.blob_path(layer.digest)
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x55
    data.write_bytes(bytes(raw))
    with (
        pytest.raises(IntegrityError, match="digest mismatch"),
        open_image(f"registry:{registry.host}/corrupt:{tag}", _opts(registry)) as src,
    ):
        walk(src, [], Limits())


def test_manifest_naming_a_missing_blob(registry: Registry, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:12]
    _push_oci(registry, tmp_path, f"missing:{tag}")
    with open_image(f"registry:{registry.host}/missing:{tag}", _opts(registry)) as src:
        layer = src.layers()[0]
    registry.blob_path(layer.digest).unlink()
    with (
        pytest.raises(InputError, match="missing from the registry"),
        open_image(f"registry:{registry.host}/missing:{tag}", _opts(registry)) as src,
    ):
        walk(src, [], Limits())


def test_unknown_media_type_and_unknown_tag(registry: Registry, tmp_path: Path) -> None:
    odd = [Layer([E("x", b"1")], media_type="application/vnd.example.unknown.layer")]
    _push_oci(registry, tmp_path, "odd:1", odd)
    with pytest.raises(InputError, match="unsupported layer media type"):
        open_image(f"registry:{registry.host}/odd:1", _opts(registry))
    with pytest.raises(InputError, match="not found"):
        open_image(f"registry:{registry.host}/demo:no-such-tag", _opts(registry))


def test_cli_sbom_by_reference(registry: Registry, demo: str, tmp_path: Path) -> None:
    if "No such command" in run_cli("sbom", "dir:/nonexistent-seawall-probe").stderr:
        pytest.skip("`seawall sbom` is not in the tree yet")
    ref = f"registry:{registry.host}/demo:1"
    common = ["--username", registry.username, "--ca-cert", str(registry.ca_cert)]
    ok = run_cli("sbom", ref, *common, "--password", registry.password, "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["target"]["digest"] == demo
    bad = run_cli("sbom", ref, *common, "--password", "not-the-password", "--format", "json")
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seawall: error:") and "not-the-password" not in bad.stderr
    untrusted = run_cli("sbom", ref, "--username", registry.username, "--password", registry.password)
    assert untrusted.returncode == 2 and "--ca-cert" in untrusted.stderr


def test_plain_http_registry_only_with_insecure(tmp_path: Path) -> None:
    from devtools.registry import running_registry

    with running_registry(tls=False) as reg:
        digest = _push_oci(reg, tmp_path, "plain:1")
        ref = f"registry:{reg.host}/plain:1"
        with pytest.raises(NetworkError):
            open_image(ref, SourceOptions(username=reg.username, password=reg.password))
        files, got, _ = _read(ref, SourceOptions(username=reg.username, password=reg.password, insecure=True))
        assert got == digest and files["/app/VERSION"] == b"1"


def test_bearer_token_flow(tmp_path: Path, isolated: Path) -> None:
    """A registry behind a token server (as Docker Hub, GHCR, Harbor): realm/service/scope from the
    challenge, a JWT fetched with Basic credentials, then Bearer requests."""
    from devtools.registry import running_registry

    with running_registry(token_auth=True, anonymous_pull=True) as reg:
        digest = _push_oci(reg, tmp_path, "team/app:1")
        # public images (Docker Hub, GHCR): an anonymous token, no credentials anywhere
        anonymous = _read(f"registry:{reg.host}/team/app:1", SourceOptions(ca_cert=reg.ca_cert))
        assert anonymous[1] == digest
        files, got, _ = _read(f"registry:{reg.host}/team/app:1", _opts(reg))
        assert got == digest and files["/app/VERSION"] == b"1"
        assert reg.token_server is not None
        asked = [r for r in reg.token_server.requests if r["scope"] == "repository:team/app:pull"]
        assert asked and asked[-1]["service"] == "seawall-test-registry" and asked[-1]["authed"] == "True"
        with pytest.raises(AuthError, match="wrong username or password"):
            open_image(f"registry:{reg.host}/team/app:1", _opts(reg, password="nope"))


def test_corrupted_manifest_in_registry_storage_is_refused(registry: Registry, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:12]
    digest = _push_oci(registry, tmp_path, f"badmanifest:{tag}")
    data = registry.blob_path(digest)
    data.write_bytes(data.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion":  2'))  # same meaning
    for ref in (f"badmanifest:{tag}", f"badmanifest@{digest}"):
        with pytest.raises(IntegrityError, match="digest mismatch"):
            open_image(f"registry:{registry.host}/{ref}", _opts(registry))


def _serve(handler: type, cert: Path, key: Path) -> tuple[object, int]:
    import http.server
    import ssl
    import threading

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, int(httpd.server_address[1])


def test_blob_redirect_to_another_origin_gets_no_credentials(registry: Registry, demo: str) -> None:
    """Registries redirect blob downloads to storage (S3, a CDN): follow, but never send the
    registry's credentials there."""
    import http.server
    import re
    import ssl

    import httpx

    key = registry.root / "key.pem"
    seen: list[dict[str, str]] = []

    class BlobStore(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({k.lower(): v for k, v in self.headers.items()})
            data = registry.blob_path(self.path.rsplit("/", 1)[1]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    store, store_port = _serve(BlobStore, registry.ca_cert, key)
    upstream = httpx.Client(verify=ssl.create_default_context(cafile=str(registry.ca_cert)))

    class Front(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            m = re.match(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64})$", self.path)
            if m and self.headers.get("Authorization"):
                self.send_response(307)
                self.send_header("Location", f"https://127.0.0.1:{store_port}/blob/{m.group(1)}")
                self.end_headers()
                return
            fwd = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "accept")}
            resp = upstream.get(f"https://{registry.host}{self.path}", headers=fwd)
            self.send_response(resp.status_code)
            for k in ("content-type", "docker-content-digest", "www-authenticate"):
                if k in resp.headers:
                    self.send_header(k, resp.headers[k])
            self.send_header("Content-Length", str(len(resp.content)))
            self.end_headers()
            self.wfile.write(resp.content)

        def log_message(self, *args: object) -> None:
            pass

    front, front_port = _serve(Front, registry.ca_cert, key)
    try:
        files, digest, _ = _read(f"registry:127.0.0.1:{front_port}/demo:1", _opts(registry))
        assert digest == demo and files["/app/VERSION"] == b"1"
        assert len(seen) >= 3  # config and both layers came from the blob store
        assert all("authorization" not in h for h in seen)
    finally:
        front.shutdown()  # type: ignore[attr-defined]
        store.shutdown()  # type: ignore[attr-defined]
        upstream.close()
