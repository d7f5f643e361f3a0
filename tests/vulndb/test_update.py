"""`seawall db update` against a local HTTPS server (self-signed certificate passed as the CA)
serving real feed files from the repository (the shipped snapshots and tests/vulndb/fixtures):
first download, 304 on the second run, a changed feed, every feed format, failures mid-way that
must leave the old database working, and hostile servers bounded by size and deadline."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import ClassVar

import pytest

from seawall.core import OSInfo, Package
from seawall.vulndb import SHIPPED_DIR, open_db
from seawall.vulndb.update import load_feeds
from tests.conftest import run_cli

from .conftest import FIXTURES

pytestmark = pytest.mark.slow


class _Handler(http.server.SimpleHTTPRequestHandler):
    log: ClassVar[list[tuple[str, int]]] = []

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        _Handler.log.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/broken/truncated"):
            body = (SHIPPED_DIR / "osv" / "Go.zip").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tls: tuple[Path, Path]) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("www")
    (root / "osv").mkdir()
    shutil.copy(SHIPPED_DIR / "osv" / "PyPI.zip", root / "osv" / "PyPI.zip")
    shutil.copy(SHIPPED_DIR / "osv" / "Go.zip", root / "osv" / "Go.zip")
    (root / "alpine" / "v3.11").mkdir(parents=True)
    shutil.copy(SHIPPED_DIR / "alpine" / "v3_11" / "main.json", root / "alpine" / "v3.11" / "main.json")
    shutil.copy(FIXTURES / "debian-tracker.json", root / "tracker.json")
    (root / "bad.json").write_bytes((FIXTURES / "debian-tracker.json").read_bytes()[:1500])
    (root / "html.json").write_text("<html><body>Service Unavailable</body></html>")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(tls[0]), str(tls[1]))
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    base = f"https://127.0.0.1:{httpd.server_address[1]}"
    # Amazon Linux layout: mirror.list -> repodata/repomd.xml -> updateinfo.xml.gz
    (root / "al2" / "repodata").mkdir(parents=True)
    (root / "al2" / "mirror.list").write_text(f"{base}/al2/\n")
    (root / "al2" / "repodata" / "0f1e-updateinfo.xml.gz").write_bytes(
        gzip.compress((FIXTURES / "alas2-updateinfo.xml").read_bytes()))
    (root / "al2" / "repodata" / "repomd.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo">\n'
        '  <revision>1700000000</revision>\n  <data type="primary">\n'
        '    <location href="repodata/aaaa-primary.sqlite.gz"/>\n  </data>\n'
        '  <data type="updateinfo">\n    <checksum type="sha256">0f1e</checksum>\n'
        '    <location href="repodata/0f1e-updateinfo.xml.gz"/>\n  </data>\n</repomd>\n')
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base, root
    httpd.shutdown()
    httpd.server_close()


def _feeds(path: Path, base: str, **override: str) -> Path:
    feeds = {
        "osv:PyPI": ("osv", f"{base}/osv/PyPI.zip"),
        "osv:Go": ("osv", f"{base}/osv/Go.zip"),
        "alpine-secdb:v3.11/main": ("alpine-secdb", f"{base}/alpine/v3.11/main.json"),
        "debian-tracker": ("debian-tracker", f"{base}/tracker.json"),
        "alas:2": ("alas", f"{base}/al2/mirror.list"),
    }
    for name, url in override.items():
        feeds[name] = (feeds[name][0], url)
    lines = ["feeds:"] + [f'  - {{name: "{n}", type: {t}, url: "{u}"}}' for n, (t, u) in feeds.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_update_304_and_failures_keep_the_old_db(tmp_path: Path, server: tuple[str, Path],
                                                 tls: tuple[Path, Path]) -> None:
    base, root = server
    cert = str(tls[0])
    db = tmp_path / "cache" / "vulndb.sqlite"
    feeds = _feeds(tmp_path / "feeds.yaml", base)
    common = ["--db", str(db), "--feeds-file", str(feeds), "--ca-cert", cert]

    # 1. first run downloads everything
    res = run_cli("db", "update", *common)
    assert res.returncode == 0, res.stderr
    status = json.loads(run_cli("db", "status", "--db", str(db), "--format", "json").stdout)
    got = {f["name"]: f for f in status["feeds"]}
    assert set(got) == {"osv:PyPI", "osv:Go", "alpine-secdb:v3.11/main", "debian-tracker", "alas:2"}
    assert got["osv:PyPI"]["advisories"] == 2651
    assert got["osv:PyPI"]["source"] == f"{base}/osv/PyPI.zip"
    assert got["alas:2"]["source"].endswith("/al2/repodata/0f1e-updateinfo.xml.gz")
    assert all(f["last_modified"] for f in got.values())
    assert status["stale"] is False  # the servers were just asked
    with open_db(db) as vdb:
        findings = vdb.match([Package("requests", "2.25.0", "PyPI", "pkg:pypi/requests@2.25.0"),
                              Package("curl", "7.55.1-8.amzn2", "rpm", "pkg:rpm/amzn/curl")],
                             OSInfo("amzn", "2"))
    assert {f.rule for f in findings} >= {"CVE-2023-32681", "ALAS2-2018-951"}

    # 2. second run: every feed answers 304 Not Modified, nothing is downloaded again
    _Handler.log.clear()
    res = run_cli("db", "update", *common)
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("not modified") == 5, res.stderr
    codes = {path: code for path, code in _Handler.log}
    assert codes["/osv/PyPI.zip"] == 304 and codes["/osv/Go.zip"] == 304

    # 3. one feed changes on the server: only that one is fetched
    tracker = root / "tracker.json"
    later = time.time() + 5
    os.utime(tracker, (later, later))
    res = run_cli("db", "update", *common)
    assert res.returncode == 0, res.stderr
    assert "debian-tracker: 7 advisories" in res.stderr and res.stderr.count("not modified") == 4

    before = _sha(db)

    # 4. a download interrupted mid-way (Content-Length larger than what arrives)
    broken = _feeds(tmp_path / "broken.yaml", base, **{"osv:Go": f"{base}/broken/truncated.zip"})
    res = run_cli("db", "update", "--db", str(db), "--feeds-file", str(broken), "--ca-cert", cert)
    assert res.returncode == 2 and "osv:Go" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert _sha(db) == before

    # 5. a feed that is not valid JSON, and a feed that is missing on the server
    bad = _feeds(tmp_path / "bad.yaml", base, **{"debian-tracker": f"{base}/bad.json"})
    res = run_cli("db", "update", "--db", str(db), "--feeds-file", str(bad), "--ca-cert", cert)
    assert res.returncode == 2 and "not valid JSON" in res.stderr, res.stderr
    html = _feeds(tmp_path / "html.yaml", base, **{"debian-tracker": f"{base}/html.json"})
    res = run_cli("db", "update", "--db", str(db), "--feeds-file", str(html), "--ca-cert", cert)
    assert res.returncode == 2 and "did not return a debian-tracker feed" in res.stderr, res.stderr
    gone = _feeds(tmp_path / "gone.yaml", base, **{"osv:PyPI": f"{base}/osv/nope.zip"})
    res = run_cli("db", "update", "--db", str(db), "--feeds-file", str(gone), "--ca-cert", cert)
    assert res.returncode == 2 and "HTTP 404" in res.stderr, res.stderr

    # 6. TLS is verified: without the CA the self-signed server is refused; http:// is refused
    res = run_cli("db", "update", "--db", str(db), "--feeds-file", str(feeds))
    assert res.returncode == 2 and "certificate" in res.stderr.lower(), res.stderr
    plain = _feeds(tmp_path / "plain.yaml", base.replace("https://", "http://"))
    res = run_cli("db", "update", "--db", str(db), "--feeds-file", str(plain), "--ca-cert", cert)
    assert res.returncode == 2 and "https" in res.stderr

    assert _sha(db) == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["vulndb.sqlite"]
    with open_db(db) as vdb:
        assert len(vdb.feeds()) == 5


def test_update_one_feed_only(tmp_path: Path, server: tuple[str, Path], tls: tuple[Path, Path]) -> None:
    base, _ = server
    db = tmp_path / "vulndb.sqlite"
    feeds = _feeds(tmp_path / "feeds.yaml", base)
    res = run_cli("db", "update", "--db", str(db), "--feeds-file", str(feeds), "--ca-cert", str(tls[0]),
                  "--feed", "alpine-secdb:v3.11/main")
    assert res.returncode == 0, res.stderr
    with open_db(db) as vdb:
        assert [f.name for f in vdb.feeds()] == ["alpine-secdb:v3.11/main"]
    res = run_cli("db", "update", "--db", str(db), "--feeds-file", str(feeds), "--feed", "osv:nope")
    assert res.returncode == 2 and "unknown feed" in res.stderr


def test_default_feeds_cover_every_supported_distribution() -> None:
    """The feeds `db update` fetches by default: every distribution the matcher supports, the
    prioritisation feeds and NVD; all https, every type known."""
    feeds = load_feeds()
    names = {f.name for f in feeds}
    for name in ("osv:PyPI", "osv:Go", "debian-tracker", "osv:Ubuntu", "osv:Red Hat", "osv:Rocky Linux",
                 "osv:AlmaLinux", "osv:SUSE", "osv:openSUSE", "wolfi-secdb", "chainguard-secdb",
                 "bottlerocket", "alas:2023", "cisa-kev", "epss", "nvd:2024"):
        assert name in names, name
    assert all(f.url.startswith("https://") and f.type for f in feeds)
    assert next(f for f in feeds if f.name == "osv:Red Hat").url.endswith("/Red%20Hat/all.zip")
    assert next(f for f in feeds if f.name == "cisa-kev").max_bytes


def test_update_every_new_feed_type(tmp_path: Path, server: tuple[str, Path], tls: tuple[Path, Path]) -> None:
    """The feeds of the new formats, served as their publishers serve them, fetched by `db update`."""
    base, root = server
    feeds_dir = FIXTURES / "feeds"
    served = {
        "bottlerocket": ("bottlerocket", "bottlerocket-updateinfo.xml.gz"),
        "osv:Rocky Linux": ("osv", "RLSA-2024_3671.json"),
        "redhat-csaf:rhsa-2024_0010": ("csaf", "rhsa-2024_0010.json"),
        "nvd:2023": ("nvd", "nvd-api-2.0-page.json"),
        "cisa-kev": ("kev", "known_exploited_vulnerabilities.json"),
        "epss": ("epss", "epss_scores.csv"),
    }
    if (feeds_dir / "wolfi-security.json").is_file():
        served["wolfi-secdb"] = ("secdb", "wolfi-security.json")
    (root / "new").mkdir(exist_ok=True)
    lines = ["feeds:"]
    for name, (ftype, file) in served.items():
        data = (feeds_dir / file).read_bytes()
        target = root / "new" / (file + ".gz" if ftype == "epss" else file)
        target.write_bytes(gzip.compress(data) if ftype == "epss" else data)  # EPSS is served gzip'd
        lines.append(f'  - {{name: "{name}", type: {ftype}, url: "{base}/new/{target.name}"}}')
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("\n".join(lines) + "\n")
    db = tmp_path / "vulndb.sqlite"
    res = run_cli("db", "update", "--db", str(db), "--feeds-file", str(feeds), "--ca-cert", str(tls[0]))
    assert res.returncode == 0, res.stderr
    status = json.loads(run_cli("db", "status", "--db", str(db), "--format", "json").stdout)
    got = {f["name"]: (f["type"], f["advisories"]) for f in status["feeds"]}
    assert got["bottlerocket"] == ("bottlerocket", 2)
    assert got["cisa-kev"] == ("kev", 3) and got["epss"] == ("epss", 5) and got["nvd:2023"] == ("nvd", 35)
    assert got["redhat-csaf:rhsa-2024_0010"] == ("csaf", 1)
    with open_db(db) as vdb:
        ruby = Package("ruby", "3.3.0-1.module+el9.3.0+1+abcdef01", "Rocky Linux", "pkg:rpm/rocky/ruby")
        found = vdb.match([ruby], OSInfo("rocky", "9.3"))
    assert [f.rule for f in found] == ["RLSA-2024:3671"]
    # a feed that is not what its type says is refused, the database stays as it was
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(f'feeds:\n  - {{name: "cisa-kev", type: kev, url: "{base}/new/epss_scores.csv.gz"}}\n')
    res = run_cli("db", "update", "--db", str(db), "--feeds-file", str(wrong), "--ca-cert", str(tls[0]))
    assert res.returncode == 2 and "did not return a kev feed" in res.stderr, res.stderr


class _Hostile(http.server.BaseHTTPRequestHandler):
    """A feed server that never finishes: an endless body, one byte every 5 s, or headers that
    trickle. Each handler ends by itself when the client has gone (the next write fails)."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        try:
            if self.path == "/headers":
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for _ in range(60):
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(5)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            if self.path == "/endless":
                chunk = b"[" + b" " * 65535
                for _ in range(200_000):  # ~13 GB at most, stops at the first failed write
                    self.wfile.write(chunk)
                    chunk = b" " * 65536
            elif self.path == "/trickle":
                for _ in range(60):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(5)
        except (BrokenPipeError, ConnectionResetError, OSError):
            return


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("path, extra, message", [
    ("/endless", "max_bytes: 1048576", "more than 1048576 bytes"),
    ("/trickle", "", "no complete answer within the 3 s deadline"),
    ("/headers", "", "no complete answer within the 3 s deadline"),
])
def test_update_bounds_every_read(tmp_path: Path, hostile: str, path: str, extra: str, message: str) -> None:
    """Issue 18: a feed server sending an endless body, or one byte every 5 s (in the body or in
    the headers), ends `db update` with one line and exit 2, within the deadline, nothing left behind."""
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f'feeds:\n  - {{name: "osv:PyPI", type: osv, url: "{hostile}{path}"'
                     + (f", {extra}" if extra else "") + "}\n")
    db = tmp_path / "cache" / "vulndb.sqlite"
    start = time.monotonic()
    res = run_cli("db", "update", "--db", str(db), "--feeds-file", str(feeds), "--allow-http",
                  "--deadline", "3", "--timeout", "60", timeout=120)
    elapsed = time.monotonic() - start
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = [line for line in res.stderr.splitlines() if line.startswith("seawall:")]
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert elapsed < 30, elapsed  # the deadline, not the per-read timeout (60 s) or the server, decided
    assert not db.exists()
    leftovers = [p.name for p in db.parent.iterdir()] if db.parent.exists() else []
    assert not [n for n in leftovers if not n.startswith(".download-")], leftovers
