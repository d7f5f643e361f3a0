"""Bounded I/O, one module for every reader of hostile input (image, catalog, vulndb, telemetry,
network): whole reads refuse more than a cap, wrapped streams end at a cap, and every network
read has a size cap and an overall deadline (`http_client`, `read_response_capped`).

    data = read_capped(stream, 4 << 20, "manifest")          # LimitExceeded past 4 MiB
    part = CappedReader(fh, length)                            # at most `length` bytes of fh
"""

from __future__ import annotations

import io
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, cast

from seawall.core.errors import InputError, LimitExceeded

if TYPE_CHECKING:
    import ssl

    import httpx

CHUNK = 1 << 20


def read_capped(stream: IO[bytes] | io.RawIOBase, limit: int, what: str) -> bytes:
    """Read a stream to its end, refusing more than `limit` bytes (LimitExceeded).

    Reads in chunks (never allocates the cap up front) and to the end of the stream, so that a
    digest-checking reader underneath verifies at EOF."""
    parts: list[bytes] = []
    total = 0
    while True:
        data = stream.read(min(CHUNK, limit + 1 - total))
        if not data:
            return b"".join(parts)
        parts.append(data)
        total += len(data)
        if total > limit:
            raise LimitExceeded(f"{what} is larger than the limit of {limit} bytes")


def read_capped_or_none(stream: IO[bytes], limit: int) -> bytes | None:
    """Like read_capped, but None when the stream holds more than `limit` bytes (the caller warns)."""
    try:
        return read_capped(stream, limit, "input")
    except LimitExceeded:
        return None


def read_file_capped(path: Path, limit: int, what: str | None = None) -> bytes:
    """A whole file, refusing one over `limit` bytes before reading it (and if it grows)."""
    try:
        with path.open("rb") as fh:
            return read_capped(fh, limit, what or str(path))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None


class CappedReader(io.RawIOBase):
    """At most `size` bytes of `inner`, from where it stands (a file may grow while it is read)."""

    def __init__(self, inner: IO[bytes] | io.RawIOBase, size: int) -> None:
        super().__init__()
        self._inner = inner
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._left <= 0:
            return 0
        view = memoryview(buffer).cast("B")
        data = self._inner.read(min(len(view), self._left))
        if not data:
            return 0
        n = len(data)
        view[:n] = data
        self._left -= n
        return n


# -- network reads: a size cap and an overall deadline ------------------------------------------
#
#     client = http_client(verify=True, timeout=60.0, deadline=300.0)
#     with client.stream("GET", url) as resp:                  # headers and body within 300 s
#         body = read_response_capped(resp, 1 << 20, "token")  # LimitExceeded past 1 MiB
#     req = client.build_request("GET", url, extensions=deadline_extension(3600.0))  # one longer
#
# httpx has per-operation timeouts only: a server that sends one byte every few seconds is never
# timed out. The client made here checks a deadline on every socket operation (connect, TLS
# handshake, each read and write of headers and body), so no request outlives its deadline by
# more than one operation's timeout; past it, httpx.ReadTimeout (or Connect/WriteTimeout) is
# raised with a message naming the deadline.

DEADLINE_KEY = "seawall.deadline"
_local = threading.local()


class Deadline:
    """A point in time (monotonic) that the request must finish by; `cancel()` ends it at once,
    waking a socket operation that is waiting for the server (from any thread)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.cancelled = False
        self._waiting: set[socket.socket] = set()  # sockets in an operation under this deadline
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.end - time.monotonic()

    def message(self) -> str:
        if self.cancelled:
            return "request cancelled"
        return f"no complete answer within the deadline of {self.seconds:g} s"

    def clamp(self, timeout: float | None, error: type[Exception]) -> float:
        """The timeout of one socket operation, at most what is left; `error` when nothing is."""
        left = self.remaining()
        if left <= 0 or self.cancelled:
            raise error(self.message())
        return left if timeout is None else min(timeout, left)

    @contextmanager
    def waiting(self, sock: socket.socket | None) -> Iterator[None]:
        if sock is None:
            yield
            return
        with self._lock:
            self._waiting.add(sock)
        try:
            yield
        finally:
            with self._lock:
                self._waiting.discard(sock)

    def cancel(self) -> None:
        self.cancelled = True
        self.end = time.monotonic()
        with self._lock:
            for sock in self._waiting:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # the waiting recv/send returns now


def deadline_extension(seconds: float) -> dict[str, Any]:
    """Request extensions that give this request (and its redirects) its own deadline."""
    return {DEADLINE_KEY: Deadline(seconds)}


@contextmanager
def _active(deadline: Deadline) -> Iterator[None]:
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = previous


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    deadline: Deadline | None = getattr(_local, "deadline", None)
    return timeout if deadline is None else deadline.clamp(timeout, error)


def _waiting(sock: socket.socket | None) -> AbstractContextManager[None]:
    deadline: Deadline | None = getattr(_local, "deadline", None)
    return deadline.waiting(sock) if deadline is not None else nullcontext()


class _DeadlineStream:
    """An httpcore network stream whose every operation honours the active deadline."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._sock: socket.socket | None = inner.get_extra_info("socket")

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        import httpcore

        with _waiting(self._sock):
            data: bytes = self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        import httpcore

        with _waiting(self._sock):
            self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> _DeadlineStream:
        import httpcore

        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     _clamp(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend:
    """httpcore's sync network backend, with streams that honour the active deadline."""

    def __init__(self) -> None:
        import httpcore

        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options: Any = None) -> _DeadlineStream:
        import httpcore

        return _DeadlineStream(self._inner.connect_tcp(host, port, _clamp(timeout, httpcore.ConnectTimeout),
                                                       local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> _DeadlineStream:
        import httpcore

        return _DeadlineStream(self._inner.connect_unix_socket(
            path, _clamp(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class BoundedClient(Protocol):
    """What `http_client` gives: an httpx.Client (its methods) that can also cancel()."""

    def build_request(self, method: str, url: str, **kw: Any) -> httpx.Request: ...

    def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response: ...

    def stream(self, method: str, url: str, **kw: Any) -> AbstractContextManager[httpx.Response]: ...

    def get(self, url: str, **kw: Any) -> httpx.Response: ...

    def close(self) -> None: ...

    def cancel(self) -> None:
        """End every request in flight now, from any thread (they raise a timeout)."""
        ...


def http_client(*, verify: ssl.SSLContext | bool = True, timeout: float = 60.0, deadline: float = 300.0,
                headers: dict[str, str] | None = None, follow_redirects: bool = True,
                max_redirects: int = 5) -> BoundedClient:
    """An httpx client whose requests each finish within `deadline` seconds (headers and body,
    redirects included), each socket operation within `timeout`; no proxy from the environment.
    `cancel()` ends the requests in flight at once (a blocked read returns), e.g. on Ctrl-C."""
    transport = _classes()["transport"](verify, deadline)
    client = _classes()["client"](transport=transport, timeout=timeout, follow_redirects=follow_redirects,
                                  max_redirects=max_redirects, headers=headers, trust_env=False)
    return cast(BoundedClient, client)


@lru_cache(maxsize=1)
def _classes() -> dict[str, Any]:
    """The httpx classes of `http_client`, made on first use (httpx takes a while to import)."""
    import httpcore
    import httpx

    class DeadlineBody(httpx.SyncByteStream):
        """A response body read under its request's deadline (in the thread that reads it)."""

        def __init__(self, inner: httpx.SyncByteStream, limit: Deadline) -> None:
            self._inner = inner
            self._deadline = limit

        def __iter__(self) -> Iterator[bytes]:
            it = iter(self._inner)
            while True:
                with _active(self._deadline):
                    chunk = next(it, None)
                if chunk is None:
                    return
                yield chunk

        def close(self) -> None:
            self._inner.close()

    class DeadlineTransport(httpx.HTTPTransport):
        """httpx's transport on a deadline-aware network backend; every request gets a Deadline."""

        def __init__(self, verify: ssl.SSLContext | bool, seconds: float) -> None:
            super().__init__(verify=verify, trust_env=False)
            ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
            # the pool httpx would build, with the deadline-aware network backend
            self._pool = httpcore.ConnectionPool(ssl_context=ssl_context,
                                                 network_backend=cast(Any, _DeadlineBackend()))
            self.seconds = seconds
            self.live: weakref.WeakSet[Deadline] = weakref.WeakSet()
            self.cancelled = False

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            limit = request.extensions.get(DEADLINE_KEY)
            if not isinstance(limit, Deadline):
                limit = request.extensions[DEADLINE_KEY] = Deadline(self.seconds)  # redirects share it
            self.live.add(limit)
            if self.cancelled:
                limit.cancel()
            with _active(limit):
                resp = super().handle_request(request)
            return httpx.Response(status_code=resp.status_code, headers=resp.headers,
                                  stream=DeadlineBody(cast(httpx.SyncByteStream, resp.stream), limit),
                                  extensions=resp.extensions)

    class Client(httpx.Client):
        def __init__(self, *, transport: DeadlineTransport, **kw: Any) -> None:
            super().__init__(transport=transport, **kw)
            self.deadlines = transport

        def cancel(self) -> None:
            self.deadlines.cancelled = True
            for limit in list(self.deadlines.live):
                limit.cancel()

    return {"transport": DeadlineTransport, "client": Client}


def timeout_reason(exc: BaseException) -> str:
    """Why an httpx timeout happened: the request's overall deadline, or one slow operation."""
    request = getattr(exc, "_request", None)  # httpx.RequestError.request raises when unset
    limit = request.extensions.get(DEADLINE_KEY) if request is not None else None
    if isinstance(limit, Deadline) and limit.remaining() <= 0.05:
        return limit.message()
    return str(exc) or type(exc).__name__


def iter_response_capped(resp: httpx.Response, limit: int, what: str) -> Iterator[bytes]:
    """The body of a streamed response in chunks, refusing more than `limit` bytes
    (LimitExceeded); a declared Content-Length over the limit is refused before reading."""
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise LimitExceeded(f"{what} declares {int(declared)} bytes, over the limit of {limit}")
    total = 0
    for chunk in resp.iter_bytes(CHUNK):
        total += len(chunk)
        if total > limit:
            raise LimitExceeded(f"{what} is larger than the limit of {limit} bytes")
        yield chunk


def read_response_capped(resp: httpx.Response, limit: int, what: str) -> bytes:
    """The whole body of a streamed response, at most `limit` bytes (LimitExceeded)."""
    return b"".join(iter_response_capped(resp, limit, what))
