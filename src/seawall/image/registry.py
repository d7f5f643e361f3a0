"""`registry:HOST/REPO:TAG|@DIGEST`: an OCI Distribution v2 client (httpx).

Manifests are fetched with Accept headers for OCI and Docker manifest and index types and
verified (sha256 of the body against the requested digest or Docker-Content-Digest). Blobs
are streamed to temp files under the cache dir while hashed (a mismatch is refused), then
read from there; the temp dir goes away on close(). HTTPS with verification is the default;
`insecure` allows unverified TLS and then plain HTTP; `ca_cert` adds a private CA.

Every body read from the registry is capped (token and error bodies, manifests, indexes, blobs at
their declared size) and every request has an overall deadline (seawall.bounded.http_client):
`options.deadline` for documents, plus the time a blob takes at `options.min_blob_rate` bytes per
second for blobs; `options.timeout` bounds each socket operation.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import ssl
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import httpx

from seawall.bounded import (
    deadline_extension,
    http_client,
    iter_response_capped,
    read_response_capped,
    timeout_reason,
)
from seawall.core.errors import AuthError, InputError, IntegrityError, LimitExceeded, NetworkError
from seawall.core.text import printable
from seawall.image.auth import Challenge, Credentials, find_credentials, parse_challenge
from seawall.image.base import LayerInfo
from seawall.image.manifest import ACCEPT, Descriptor
from seawall.image.oci import BlobImage
from seawall.image.options import SourceOptions
from seawall.image.refs import ImageRef
from seawall.image.streams import parse_digest

USER_AGENT = "seawall/0.1 (+https://github.com/seawall)"
PREFETCH_WORKERS = 3
MAX_TOKEN_BODY = 1 << 20  # a token endpoint's JSON answer
MAX_ERROR_BODY = 64 << 10  # an error answer, read for its message only


def _tls_hint(host: str, exc: BaseException) -> NetworkError:
    return NetworkError(f"TLS verification of registry {host} failed ({_short(exc)}); for a private CA "
                        "pass --ca-cert FILE (or --insecure-registry to skip verification)")


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return printable(text.splitlines()[0][:200])


def _is_tls_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _registry_error(resp: httpx.Response) -> str:
    """The registry's own words for an error answer (its JSON `errors`), else the status code."""
    try:
        body = json.loads(read_response_capped(resp, MAX_ERROR_BODY, "error answer"))
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            code = errors[0].get("code", "")
            message = errors[0].get("message", "")
            return printable(f"{code}: {message}".strip(": ")[:200])
    except (ValueError, RecursionError, LimitExceeded, httpx.HTTPError):
        pass
    return f"HTTP {resp.status_code}"


def _is_plain_http_answer(exc: BaseException) -> bool:
    """An HTTPS request answered in plain HTTP (`SSL: WRONG_VERSION_NUMBER`, or the like)."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        if "WRONG_VERSION_NUMBER" in text or "HTTP_REQUEST" in text or "record layer failure" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class RegistryClient:
    """Requests against one registry host, with the auth dance and TLS policy."""

    def __init__(self, host: str, repository: str, options: SourceOptions) -> None:
        self.host = host
        self.repository = repository
        self._options = options
        self._creds: Credentials | None = find_credentials(host, options)
        self._auth_header: str | None = None
        verify: ssl.SSLContext | bool = True
        if options.ca_cert is not None:
            if not options.ca_cert.is_file():
                raise InputError(f"--ca-cert {options.ca_cert}: no such file")
            try:
                verify = ssl.create_default_context(cafile=str(options.ca_cert))
            except (ssl.SSLError, OSError) as exc:
                raise InputError(f"--ca-cert {options.ca_cert}: not a PEM certificate bundle "
                                 f"({exc})") from None
        if options.insecure:
            verify = False
        self.scheme = "https"
        self._client = http_client(verify=verify, timeout=options.timeout, deadline=options.deadline,
                                   headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self._client.close()

    def cancel(self) -> None:
        """Stop the requests in flight at once (from another thread)."""
        self._client.cancel()

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.host}/v2/{self.repository}/{path}"

    # -- auth --------------------------------------------------------------------------------
    def _authenticate(self, header: str | None) -> None:
        if not header:
            raise AuthError(f"registry {self.host} answered 401 without an authentication challenge")
        challenge = parse_challenge(header)
        if challenge.scheme == "basic":
            if self._creds is None:
                raise self._need_creds()
            self._auth_header = self._creds.basic_header()
        elif challenge.scheme == "bearer":
            self._auth_header = f"Bearer {self._token(challenge)}"
        else:
            raise AuthError(f"registry {self.host} asks for unsupported auth scheme {challenge.scheme!r}")

    def _need_creds(self) -> AuthError:
        return AuthError(f"registry {self.host} requires authentication: pass --username/--password, set "
                         "SEAWALL_REGISTRY_USERNAME/SEAWALL_REGISTRY_PASSWORD, or log in with docker")

    def _refused(self) -> AuthError:
        assert self._creds is not None
        return AuthError(f"registry {self.host} refused the credentials of user {self._creds.username!r} "
                         f"(from {self._creds.source}): wrong username or password, or no pull access "
                         f"to {self.repository}")

    def _token(self, challenge: Challenge) -> str:
        realm = challenge.params.get("realm")
        if not realm or not realm.startswith(("https://", "http://")):
            raise AuthError(f"registry {self.host} sent a Bearer challenge without a valid realm")
        params = {"scope": challenge.params.get("scope") or f"repository:{self.repository}:pull"}
        if challenge.params.get("service"):
            params["service"] = challenge.params["service"]
        auth = None
        if self._creds is not None:
            if realm.startswith("http://") and not self._options.insecure:
                raise AuthError(f"registry {self.host} wants credentials sent to a plain-HTTP token "
                                "endpoint; refusing (use --insecure-registry to allow)")
            auth = (self._creds.username, self._creds.password)
        what = f"token endpoint of registry {self.host}"
        try:
            with self._client.stream("GET", realm, params=params, auth=auth) as resp:
                if resp.status_code in (401, 403):
                    if self._creds is None:
                        raise self._need_creds()
                    raise self._refused()
                if resp.status_code != 200:
                    raise AuthError(f"{what} answered HTTP {resp.status_code}")
                raw = read_response_capped(resp, MAX_TOKEN_BODY, f"the answer of the {what}")
        except httpx.HTTPError as exc:
            raise self._network(exc) from None
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise AuthError(f"{what} answered malformed JSON") from None
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError(f"token endpoint of registry {self.host} returned no token")
        return token

    def _network(self, exc: BaseException) -> NetworkError:
        if _is_tls_error(exc):
            return _tls_hint(self.host, exc)
        if self.scheme == "https" and _is_plain_http_answer(exc):
            return NetworkError(f"registry {self.host} speaks plain HTTP, not HTTPS; use "
                                "--insecure-registry if you trust it")
        if isinstance(exc, httpx.TimeoutException):
            return NetworkError(f"registry {self.host} timed out ({printable(timeout_reason(exc))})")
        return NetworkError(f"cannot reach registry {self.host} ({_short(exc)})")

    # -- requests ----------------------------------------------------------------------------
    def get(self, path: str, headers: dict[str, str] | None = None,
            deadline: float | None = None) -> httpx.Response:
        """GET (streamed), within `deadline` seconds (default: options.deadline) from the request
        to the end of its body. The caller must close the response."""
        reauthed = False  # one fresh authentication per request (a Bearer token may have expired)
        for _attempt in range(4):
            hdrs = dict(headers or {})
            if self._auth_header:
                hdrs["Authorization"] = self._auth_header
            try:
                extensions = deadline_extension(deadline) if deadline is not None else None
                req = self._client.build_request("GET", self.url(path), headers=hdrs, extensions=extensions)
                resp = self._client.send(req, stream=True)
            except httpx.ConnectError as exc:
                if (self._options.insecure and self.scheme == "https" and not _is_tls_error(exc)
                        and _attempt == 0):
                    self.scheme = "http"  # --insecure-registry: plain HTTP after HTTPS failed
                    continue
                raise self._network(exc) from None
            except httpx.HTTPError as exc:
                if self._options.insecure and self.scheme == "https" and _attempt == 0:
                    self.scheme = "http"
                    continue
                raise self._network(exc) from None
            if resp.status_code == 401:
                challenge = resp.headers.get("www-authenticate")
                resp.close()
                if reauthed:
                    if self._creds is None:
                        raise self._need_creds()
                    raise self._refused()
                self._authenticate(challenge)
                reauthed = True
                continue
            if resp.status_code == 403:
                resp.close()
                raise AuthError(f"registry {self.host} denied access to {self.repository} (HTTP 403)")
            return resp
        raise NetworkError(f"registry {self.host}: too many retries for {path}")


class RegistrySource(BlobImage):
    def __init__(self, ref: ImageRef, options: SourceOptions) -> None:
        assert ref.registry is not None and ref.repository is not None
        super().__init__(ref.display(), options)
        self._ref = ref
        self._tmp = Path(tempfile.mkdtemp(prefix="seawall-blobs-", dir=options.temp_root()))
        self._blobs: dict[str, Future[Path]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._cancelled = threading.Event()
        try:
            self._client = RegistryClient(ref.registry, ref.repository, options)
            top_ref = ref.digest or ref.tag or "latest"
            body, media_type = self._fetch_manifest(top_ref, ref.digest)
            top = Descriptor(media_type, "sha256:" + hashlib.sha256(body).hexdigest(), len(body))
            self._resolve(top, lambda d: body if d.digest == top.digest else self._fetch_manifest(
                d.digest, d.digest)[0])
        except BaseException:
            self.close()
            raise

    def _fetch_manifest(self, reference: str, digest: str | None) -> tuple[bytes, str]:
        limit = self._limits.max_manifest_size
        what = f"{self._name}: manifest {reference}"
        resp = self._client.get(f"manifests/{reference}", {"Accept": ACCEPT})
        try:
            if resp.status_code == 404:
                raise InputError(f"{what} not found in registry ({_registry_error(resp)})")
            if resp.status_code != 200:
                raise NetworkError(f"{what}: registry answered {_registry_error(resp)}")
            body = read_response_capped(resp, limit, what)
            media_type = resp.headers.get("content-type", "").split(";")[0].strip()
            header_digest = resp.headers.get("docker-content-digest")
        except httpx.HTTPError as exc:
            raise self._client._network(exc) from None
        finally:
            resp.close()
        actual = "sha256:" + hashlib.sha256(body).hexdigest()
        if header_digest is not None and not header_digest.startswith("sha256:"):
            header_digest = None
        expected = digest or header_digest
        if expected is not None and actual != expected:
            raise IntegrityError(f"{what}: digest mismatch (expected {expected}, got {actual})")
        return body, media_type

    def _download(self, digest: str, size: int | None) -> Path:
        hexpart = parse_digest(digest, self._name)
        target = self._tmp / hexpart
        what = f"{self._name}: blob {digest}"
        resp = self._client.get(f"blobs/{digest}", deadline=self._options.blob_deadline(size))
        try:
            if resp.status_code == 404:
                raise InputError(f"{what} named by the manifest is missing from the registry "
                                 f"({_registry_error(resp)})")
            if resp.status_code != 200:
                raise NetworkError(f"{what}: registry answered {_registry_error(resp)}")
            h = hashlib.sha256()
            total = 0
            cap = size if size is not None else self._limits.max_total_size
            with target.open("wb") as out:
                try:
                    for chunk in iter_response_capped(resp, cap, what):
                        if self._cancelled.is_set():
                            raise InputError(f"{what}: download cancelled")
                        total += len(chunk)
                        h.update(chunk)
                        out.write(chunk)
                except LimitExceeded:
                    if size is None:
                        raise
                    raise IntegrityError(f"{what}: more bytes than the {size} declared by the manifest") \
                        from None
        except httpx.HTTPError as exc:
            target.unlink(missing_ok=True)
            raise self._client._network(exc) from None
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        finally:
            resp.close()
        actual = "sha256:" + h.hexdigest()
        if actual != digest:
            target.unlink(missing_ok=True)
            raise IntegrityError(f"{what}: digest mismatch (got {actual}); refusing the image")
        if size is not None and total != size:
            target.unlink(missing_ok=True)
            raise IntegrityError(f"{what}: size mismatch (expected {size} bytes, got {total})")
        return target

    def _prefetch(self) -> None:
        """Download the layers in the background, in the order the walk reads them (top first),
        so that the network overlaps the reading of the layers before them."""
        if self._pool is not None:
            return
        self._pool = ThreadPoolExecutor(max_workers=PREFETCH_WORKERS, thread_name_prefix="seawall-blob")
        for layer in reversed(self.layers()):
            if layer.digest not in self._blobs:
                self._blobs[layer.digest] = self._pool.submit(self._download, layer.digest, layer.size)

    def open_layer(self, layer: LayerInfo) -> IO[bytes]:
        self._prefetch()
        return super().open_layer(layer)

    def _open_blob(self, digest: str, size: int | None) -> IO[bytes]:
        future = self._blobs.get(digest)
        if future is None:
            future = Future()
            try:
                future.set_result(self._download(digest, size))
            except BaseException as exc:
                future.set_exception(exc)
            self._blobs[digest] = future
        return future.result().open("rb")

    def close(self) -> None:
        cancelled = getattr(self, "_cancelled", None)
        if cancelled is not None:
            cancelled.set()
        client: Any = getattr(self, "_client", None)
        if client is not None:
            client.cancel()  # downloads waiting for the registry stop now (Ctrl-C, SIGTERM, an error)
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if client is not None:
            client.close()
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
