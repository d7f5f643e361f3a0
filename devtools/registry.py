"""A real distribution registry (Debian's `docker-registry`) on 127.0.0.1 for tests and demos.

    from devtools.registry import running_registry, push

    with running_registry() as reg:           # TLS (self-signed, SAN IP:127.0.0.1) + bcrypt htpasswd
        push(reg, "oci:/tmp/layout:1", "demo:1")
        ... f"registry:{reg.host}/demo:1", ca_cert=reg.ca_cert, username=reg.username, password=reg.password

`reg.process.pid` is the registry's own PID (started with subprocess.Popen, no shell).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
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

    def blob_path(self, digest: str) -> Path:
        """Where the registry stores blob `sha256:HEX` on disk."""
        hexpart = digest.split(":", 1)[1]
        blobs = self.storage / "docker" / "registry" / "v2" / "blobs" / "sha256"
        return blobs / hexpart[:2] / hexpart / "data"

    def stop(self) -> None:
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


def start_registry(username: str = "seawall", password: str = "s3cret-Passw0rd",
                   tls: bool = True, auth: bool = True, base_dir: Path | None = None,
                   timeout: float = 30.0) -> Registry:
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
    lines = ["version: 0.1", "log:", "  level: warn", "  accesslog:", "    disabled: true",
             "storage:", "  filesystem:", f"    rootdirectory: {storage}", "  delete:", "    enabled: true",
             "  cache:", "    blobdescriptor: \"\"",
             "http:", f"  addr: 127.0.0.1:{port}", "  secret: seawall-test-secret"]
    if tls:
        lines += ["  tls:", f"    certificate: {cert}", f"    key: {key}"]
    if auth:
        lines += ["auth:", "  htpasswd:", "    realm: seawall-test", f"    path: {htpasswd}"]
    config = root / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = root / "registry.log"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "TMPDIR": str(root)}
    with log.open("wb") as logf:
        proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=logf, stderr=subprocess.STDOUT,
                                env=env, cwd=root)
    reg = Registry(f"127.0.0.1:{port}", port, root, storage, cert, cert_dir, username, password, proc, log,
                   tls)
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
