"""A scripted HTTPS server on 127.0.0.1 for hostile-registry tests: each route is a function that
answers as a hostile or broken registry would (endless bodies, one byte every few seconds, plain
HTTP). It stops when the test ends, and by itself after `lifetime` seconds in any case."""

from __future__ import annotations

import contextlib
import http.server
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.registry import _make_cert

Handler = http.server.BaseHTTPRequestHandler
Route = Callable[[Handler], None]


class HostileServer:
    def __init__(self, root: Path, routes: dict[str, Route], tls: bool = True,
                 lifetime: float = 120.0) -> None:
        self.routes = [(re.compile(pattern), fn) for pattern, fn in routes.items()]
        self.requests: list[str] = []
        self.ca_cert: Path | None = None
        server = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.requests.append(self.path)
                for pattern, fn in server.routes:
                    if pattern.search(self.path):
                        with contextlib.suppress(OSError):  # the client gave up: what the test wants
                            fn(self)
                        self.close_connection = True
                        return
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        if tls:
            cert, key = _make_cert(root)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.ca_cert = cert
        self.port = int(self.httpd.server_address[1])
        self.host = f"127.0.0.1:{self.port}"
        self.scheme = "https" if tls else "http"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    def start(self) -> HostileServer:
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def hostile_server(root: Path, routes: dict[str, Route], tls: bool = True) -> Iterator[HostileServer]:
    server = HostileServer(root, routes, tls).start()
    try:
        yield server
    finally:
        server.stop()


# -- answers ----------------------------------------------------------------------------------

def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Route:
    def route(h: Handler) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return route


def endless(status: int = 200, headers: dict[str, str] | None = None, chunk: bytes = b"x" * 65536) -> Route:
    """A body that never ends (no Content-Length, the connection stays open), until the client leaves."""
    def route(h: Handler) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Connection", "close")
        h.end_headers()
        started = time.monotonic()
        while time.monotonic() - started < 60:
            h.wfile.write(chunk)
    return route


def trickle(body: bytes, interval: float, headers: dict[str, str] | None = None,
            slow_headers: bool = False) -> Route:
    """One byte every `interval` seconds: of the body, or of the status line and headers too."""
    def route(h: Handler) -> None:
        head = [b"HTTP/1.1 200 OK\r\n", f"Content-Length: {len(body)}\r\n".encode()]
        head += [f"{k}: {v}\r\n".encode() for k, v in (headers or {}).items()]
        raw = b"".join(head) + b"\r\n"
        if not slow_headers:
            h.wfile.write(raw)
            h.wfile.flush()
            raw = b""
        started = time.monotonic()
        for byte in raw + body:
            if time.monotonic() - started > 60:
                return
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            time.sleep(interval)
    return route


def silent(size: int, seconds: float = 90.0) -> Route:
    """Headers promising `size` bytes, then nothing: a server that stalls mid-download."""
    def route(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(size))
        h.end_headers()
        h.wfile.flush()
        time.sleep(seconds)
    return route
