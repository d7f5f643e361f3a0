"""Small registry reads for the runtime parts (registry watch, signatures): the `_catalog` and
tag lists, manifests (and their digests) and small blobs, through seawall.image's RegistryClient
(auth dance, TLS policy, bounded bodies, overall deadlines). Layers are never fetched here."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx
import orjson

from seawall.bounded import read_response_capped
from seawall.core.errors import InputError, NetworkError
from seawall.core.text import printable
from seawall.image.manifest import ACCEPT
from seawall.image.options import SourceOptions
from seawall.image.registry import RegistryClient

MAX_LIST = 16 << 20  # one page of _catalog or tags/list
MAX_MANIFEST = 4 << 20
MAX_SMALL_BLOB = 1 << 20  # a signature payload or envelope
PAGE = 1000
_NEXT = re.compile(r"<([^>]+)>\s*;\s*rel=\"?next\"?")


class Registry:
    """One registry host; a client per repository (tokens are scoped to one repository)."""

    def __init__(self, host: str, options: SourceOptions) -> None:
        self.host = host
        self.options = options
        self._clients: dict[str, RegistryClient] = {}
        self.requests: dict[str, int] = {"manifests": 0, "blobs": 0, "lists": 0}
        self.blob_bytes = 0

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def client(self, repository: str) -> RegistryClient:
        if repository not in self._clients:
            self._clients[repository] = _Client(self.host, repository, self.options)
        return self._clients[repository]

    def _get(
        self, repository: str, path: str, limit: int, what: str, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, httpx.Headers]:
        resp = self.client(repository).get(path, headers)
        try:
            if resp.status_code == 404:
                return 404, b"", resp.headers
            body = read_response_capped(resp, limit, what)
            return resp.status_code, body, resp.headers
        except httpx.HTTPError as exc:
            raise NetworkError(f"registry {self.host}: {what}: {printable(str(exc))[:200]}") from None
        finally:
            resp.close()

    def _list(self, repository: str, path: str, key: str, what: str) -> list[str]:
        items: list[str] = []
        next_path: str | None = f"{path}?n={PAGE}"
        for _ in range(100_000):
            if next_path is None:
                break
            self.requests["lists"] += 1
            status, body, headers = self._get(repository, next_path, MAX_LIST, what)
            if status == 404:
                break
            if status != 200:
                raise NetworkError(f"registry {self.host}: {what} answered HTTP {status}")
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise InputError(f"registry {self.host}: {what}: malformed JSON") from None
            page = doc.get(key) if isinstance(doc, dict) else None
            items.extend(str(x) for x in page or [] if isinstance(x, str))
            link = _NEXT.search(headers.get("link", ""))
            next_path = None
            if link:
                target = link.group(1)
                marker = "/v2/" + (f"{repository}/" if repository else "")
                next_path = target.split(marker, 1)[1] if marker in target else None
        return items

    def catalog(self) -> list[str]:
        """Every repository (`GET /v2/_catalog`, paginated by Link headers)."""
        return self._list("", "_catalog", "repositories", "the _catalog")

    def tags(self, repository: str) -> list[str]:
        return self._list(repository, "tags/list", "tags", f"the tags of {repository}")

    def manifest(self, repository: str, reference: str) -> tuple[str, dict[str, Any], str] | None:
        """(digest, manifest JSON, media type) of `reference` (a tag or digest); None if absent."""
        self.requests["manifests"] += 1
        status, body, headers = self._get(
            repository,
            f"manifests/{reference}",
            MAX_MANIFEST,
            f"manifest {repository}:{reference}",
            {"Accept": ACCEPT},
        )
        if status == 404:
            return None
        if status != 200:
            raise NetworkError(
                f"registry {self.host}: manifest {repository}:{reference} answered HTTP {status}"
            )
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InputError(
                f"registry {self.host}: manifest {repository}:{reference}: malformed JSON"
            ) from None
        if not isinstance(doc, dict):
            raise InputError(f"registry {self.host}: manifest {repository}:{reference} is not an object")
        media = str(doc.get("mediaType") or headers.get("content-type", "")).split(";")[0]
        return digest, doc, media

    def small_blob(self, repository: str, digest: str, limit: int = MAX_SMALL_BLOB) -> bytes | None:
        """A small blob (a signature payload), digest verified."""
        self.requests["blobs"] += 1
        status, body, _ = self._get(repository, f"blobs/{digest}", limit, f"blob {digest[:19]}")
        if status == 404:
            return None
        self.blob_bytes += len(body)
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise InputError(f"registry {self.host}: blob {digest[:19]}... does not match its digest")
        return body


class _Client(RegistryClient):
    def url(self, path: str) -> str:
        if not self.repository:
            return f"{self.scheme}://{self.host}/v2/{path}"
        return super().url(path)
