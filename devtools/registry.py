"""A real distribution registry (Debian's `docker-registry`) on 127.0.0.1 for tests and demos.

    from devtools.registry import running_registry, push

    with running_registry() as reg:           # TLS (self-signed, SAN IP:127.0.0.1) + bcrypt htpasswd
        push(reg, "oci:/tmp/layout:1", "demo:1")
        ... f"registry:{reg.host}/demo:1", ca_cert=reg.ca_cert, username=reg.username, password=reg.password

`reg.process.pid` is the registry's own PID (started with subprocess.Popen, no shell).
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REGISTRY_BIN = "docker-registry"


@dataclass
class Registry:
    host: str  # "127.0.0.1:PORT"
    port: int
    root: Path  # temp dir: config, certs, htpasswd, storage
    storage: Path
    ca_cert: Path  # the self-signed certificate (PEM), usable as --ca-cert
    cert_dir: Path  # a dir with ca.crt, as skopeo's --dest-cert-dir/--src-cert-dir wants
    username: str
    password: str
    process: subprocess.Popen[bytes]
    log: Path
    tls: bool = True
    token_server: TokenServer | None = None  # Bearer-token auth (realm) instead of htpasswd Basic

    def blob_path(self, digest: str) -> Path:
        """Where the registry stores blob `sha256:HEX` on disk."""
        hexpart = digest.split(":", 1)[1]
        blobs = self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256"
        return blobs / hexpart[:2] / hexpart / "data"

    def stop(self) -> None:
        if self.token_server is not None:
            self.token_server.stop()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def available() -> str | None:
    """None if the tools are installed, else the reason (for pytest.skip in local runs)."""
    for tool in (REGISTRY_BIN, "openssl", "htpasswd", "skopeo"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (devtools/system-deps.sh)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _make_cert(root: Path) -> tuple[Path, Path]:
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True)
    return cert, key


def _wait_ready(port: int, ca_cert: Path | None, proc: subprocess.Popen[bytes], log: Path,
                timeout: float) -> None:
    ctx = ssl.create_default_context(cafile=str(ca_cert)) if ca_cert is not None else None
    deadline = time.monotonic() + timeout
    url = f"{'https' if ca_cert is not None else 'http'}://127.0.0.1:{port}/v2/"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, context=ctx, timeout=2)
            return
        except urllib.error.HTTPError as exc:
            if exc.code == 401:  # up, and asking for auth
                return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"docker-registry did not become ready on port {port}: {log.read_text()[-2000:]}")


TOKEN_SERVICE = "seawall-test-registry"
TOKEN_ISSUER = "seawall-test-token-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """A Docker token server (https://distribution.github.io/distribution/spec/auth/token/):
    checks Basic credentials, grants the scope asked for, signs an ES256 JWT with the registry
    cert's key (x5c header) — the registry trusts it through `rootcertbundle`."""

    def __init__(self, cert: Path, key: Path, username: str, password: str,
                 anonymous_pull: bool = False) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        self._cert_der = x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(
            serialization.Encoding.DER)
        self._key = serialization.load_pem_private_key(key.read_bytes(), password=None)
        self._expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.requests: list[dict[str, str]] = []  # what clients asked for (no secrets)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                authed = self.headers.get("Authorization") == server._expected
                scope = query.get("scope", "")
                anonymous = (anonymous_pull and "Authorization" not in self.headers
                             and all(part.endswith(":pull") for part in scope.split(" ")))
                server.requests.append({"path": url.path, "scope": query.get("scope", ""),
                                        "service": query.get("service", ""), "authed": str(authed)})
                if url.path != "/token" or not (authed or anonymous):
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": server.sign(query.get("scope", ""), query.get("service", "")),
                                   "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self.realm = f"https://127.0.0.1:{self._httpd.server_address[1]}/token"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def sign(self, scope: str, service: str) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        access = []
        for item in scope.split(" "):
            parts = item.split(":")
            if len(parts) >= 3:
                access.append({"type": parts[0], "name": ":".join(parts[1:-1]),
                               "actions": parts[-1].split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self._cert_der).decode()]}
        claims = {"iss": TOKEN_ISSUER, "sub": "seawall", "aud": service or TOKEN_SERVICE, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        assert isinstance(self._key, ec.EllipticCurvePrivateKey)
        r, s = decode_dss_signature(self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def start_registry(username: str = "seawall", password: str = "s3cret-Passw0rd",
                   tls: bool = True, auth: bool = True, base_dir: Path | None = None,
                   timeout: float = 30.0, token_auth: bool = False, anonymous_pull: bool = False,
                   access_log: bool = False) -> Registry:
    """A registry; `token_auth` puts it behind a Bearer token server (as Docker Hub, GHCR, Harbor);
    `access_log` writes one line per request to `reg.log` (tests count blob downloads there)."""
    root = Path(tempfile.mkdtemp(prefix="seawall-registry-", dir=base_dir))
    storage = root / "storage"
    storage.mkdir()
    cert, key = _make_cert(root)
    cert_dir = root / "certs.d"
    cert_dir.mkdir()
    shutil.copy(cert, cert_dir / "ca.crt")
    htpasswd = root / "htpasswd"
    out = subprocess.run(["htpasswd", "-Bbn", username, password], check=True, capture_output=True)
    htpasswd.write_bytes(out.stdout)
    port = _free_port()
    lines = ["version: 0.1", "log:", "  level: warn", "  accesslog:",
             f"    disabled: {'false' if access_log else 'true'}",
             "storage:", "  filesystem:", f"    rootdirectory: {storage}", "  delete:", "    enabled: true",
             "  cache:", "    blobdescriptor: \"\"",
             "http:", f"  addr: 127.0.0.1:{port}", "  secret: seawall-test-secret"]
    if tls:
        lines += ["  tls:", f"    certificate: {cert}", f"    key: {key}"]
    token_server = None
    if token_auth:
        token_server = TokenServer(cert, key, username, password, anonymous_pull)
        lines += ["auth:", "  token:", f"    realm: {token_server.realm}", f"    service: {TOKEN_SERVICE}",
                  f"    issuer: {TOKEN_ISSUER}", f"    rootcertbundle: {cert}"]
    elif auth:
        lines += ["auth:", "  htpasswd:", "    realm: seawall-test", f"    path: {htpasswd}"]
    config = root / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = root / "registry.log"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "TMPDIR": str(root)}
    with log.open("wb") as logf:
        proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=logf, stderr=subprocess.STDOUT,
                                env=env, cwd=root)
    reg = Registry(f"127.0.0.1:{port}", port, root, storage, cert, cert_dir, username, password, proc, log,
                   tls, token_server)
    try:
        _wait_ready(port, cert if tls else None, proc, log, timeout)
    except BaseException:
        reg.stop()
        shutil.rmtree(root, ignore_errors=True)
        raise
    return reg


@contextlib.contextmanager
def running_registry(**kwargs: object) -> Iterator[Registry]:
    reg = start_registry(**kwargs)  # type: ignore[arg-type]
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(reg.root, ignore_errors=True)


def push(reg: Registry, source: str, dest: str, all_platforms: bool = False,
         format: str | None = None) -> None:
    """`skopeo copy SOURCE docker://HOST/DEST` with the registry's credentials and CA.

    SOURCE is a skopeo reference such as `oci:/path/layout:1` or `docker-archive:/path/img.tar`.
    """
    args = ["skopeo", "--insecure-policy", "copy", "--quiet",
            "--dest-creds", f"{reg.username}:{reg.password}"]
    args += ["--dest-cert-dir", str(reg.cert_dir)] if reg.tls else ["--dest-tls-verify=false"]
    if all_platforms:
        args.append("--all")
    if format:
        args += ["--format", format]  # "oci" or "v2s2"
    args += [source, f"docker://{reg.host}/{dest}"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(reg.root), "TMPDIR": str(reg.root)}
    res = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"skopeo copy failed: {res.stderr.strip()[-2000:]}")


def main() -> int:
    """`python -m devtools.registry`: run a registry in the foreground (Ctrl-C stops it)."""
    with running_registry() as reg:
        print(f"registry on https://{reg.host}  user={reg.username}  ca-cert={reg.ca_cert}  "
              f"pid={reg.process.pid}")
        with contextlib.suppress(KeyboardInterrupt):
            reg.process.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
