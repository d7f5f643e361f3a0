"""A bounded JSON client for runtime APIs on a unix socket or over HTTP(S) (Docker Engine API,
Podman's libpod API, the ECS task metadata endpoint, the Kubernetes API): every body capped, every
request under an overall deadline, TLS verified (against `ca_file` when given), errors as one line."""

from __future__ import annotations

import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from seawall.core.errors import InputError, LimitExceeded, NetworkError
from seawall.core.text import printable

MAX_JSON = 64 << 20  # one API answer
CHUNK = 1 << 16


class APIClient:
    def __init__(
        self,
        address: str,
        what: str,
        timeout: float = 10.0,
        deadline: float = 60.0,
        max_json: int = MAX_JSON,
        ca_file: Path | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """`address`: `unix:///run/docker.sock`, a socket path, or `http(s)://HOST:PORT[/base]`."""
        self.what = what
        self.deadline = deadline
        self.max_json = max_json
        if address.startswith("unix://") or address.startswith("/"):
            path = address.removeprefix("unix://")
            if not Path(path).exists():
                raise InputError(f"{what}: no socket at {path}")
            transport = httpx.HTTPTransport(uds=path)
            self.base = "http://localhost"
        elif address.startswith(("http://", "https://")):
            try:
                context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
            except (OSError, ssl.SSLError) as exc:
                reason = printable(str(exc))[:200]
                raise InputError(f"{what}: cannot use the CA file {ca_file}: {reason}") from None
            transport = httpx.HTTPTransport(verify=context)
            self.base = address.rstrip("/")
        elif address.startswith("tcp://"):
            transport = httpx.HTTPTransport()
            self.base = "http://" + address.removeprefix("tcp://").rstrip("/")
        else:
            raise InputError(f"{what}: address {address!r} is not unix://PATH or http://HOST:PORT")
        self.address = address
        self._client = httpx.Client(
            transport=transport, timeout=timeout, trust_env=False, headers=headers or {}
        )

    def close(self) -> None:
        self._client.close()

    def _stream(self, path: str, params: dict[str, Any] | None) -> httpx.Response:
        url = path if path.startswith(("http://", "https://")) else self.base + path
        try:
            req = self._client.build_request("GET", url, params=params)
            return self._client.send(req, stream=True)
        except httpx.HTTPError as exc:
            raise NetworkError(
                f"{self.what}: cannot reach {printable(self.address)} "
                f"({printable(str(exc) or type(exc).__name__)[:200]})"
            ) from None

    def _chunks(self, resp: httpx.Response, limit: int, started: float, what: str) -> Any:
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise LimitExceeded(f"{self.what}: {what} declares {declared} bytes, over the limit of {limit}")
        total = 0
        try:
            for chunk in resp.iter_bytes(CHUNK):
                total += len(chunk)
                if total > limit:
                    raise LimitExceeded(f"{self.what}: {what} is larger than the limit of {limit} bytes")
                if time.monotonic() - started > self.deadline:
                    raise NetworkError(f"{self.what}: {what} took longer than {self.deadline:.0f} s")
                yield chunk
        except httpx.HTTPError as exc:
            raise NetworkError(f"{self.what}: {what} broke off ({printable(str(exc))[:200]})") from None

    def get_json(self, path: str, params: dict[str, Any] | None = None, allow_404: bool = False) -> Any:
        started = time.monotonic()
        resp = self._stream(path, params)
        try:
            if resp.status_code == 404 and allow_404:
                return None
            body = b"".join(self._chunks(resp, self.max_json, started, f"GET {path}"))
            if resp.status_code != 200:
                message = _error_message(body)
                raise NetworkError(
                    f"{self.what}: GET {path} answered HTTP {resp.status_code}"
                    + (f": {message}" if message else "")
                )
        finally:
            resp.close()
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InputError(f"{self.what}: GET {path} answered malformed JSON") from None

    def download(self, path: str, dest: Path, limit: int) -> int:
        """Stream a body to `dest` (at most `limit` bytes); returns its size."""
        started = time.monotonic()
        resp = self._stream(path, None)
        total = 0
        try:
            if resp.status_code != 200:
                body = b"".join(self._chunks(resp, 1 << 16, started, f"GET {path}"))
                raise NetworkError(
                    f"{self.what}: GET {path} answered HTTP {resp.status_code}: {_error_message(body)}"
                )
            with dest.open("wb") as out:
                for chunk in self._chunks(resp, limit, started, f"GET {path}"):
                    out.write(chunk)
                    total += len(chunk)
        finally:
            resp.close()
        return total


def _error_message(body: bytes) -> str:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return printable(body[:200].decode("utf-8", "replace"))
    if isinstance(doc, dict):
        return printable(str(doc.get("message") or doc.get("cause") or "")[:200])
    return ""
