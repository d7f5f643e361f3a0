"""`seawall db update`: download the feeds over HTTPS, verify them, rebuild, swap atomically.

Each feed is fetched with If-None-Match / If-Modified-Since from the previous run; a 304 keeps
that feed's rows. Downloads go to temp files next to the database, bounded in size (per feed:
`max_bytes` in the feeds file, else FeedLimits.max_file_bytes) and checked against
Content-Length; every network read of the run shares one overall deadline (`--deadline`: each
request gets what is left of it, enforced on every socket operation by seawall.bounded's
http_client), so a server that sends an endless body or one byte every few seconds -- in the
body or in the headers -- ends the run with one line. Each download is then parsed in full by
its importer (zip CRCs, JSON, XML) while the new database is written to a temp file, which
replaces the old one with os.replace only when everything succeeded. Any failure leaves the old
database untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import yaml

from seawall.bounded import deadline_extension, http_client, read_response_capped, timeout_reason
from seawall.core.errors import InputError, LimitExceeded, NetworkError
from seawall.vulndb.base import FeedLimits, Importer
from seawall.vulndb.importers import IMPORTERS, TYPE_ALIASES, detect, importer_named
from seawall.vulndb.store import FeedSource, FeedStats, build, check_schema, connect_ro

DEFAULT_FEEDS_FILE = Path(__file__).with_name("feeds.yaml")
DEFAULT_DEADLINE = 3600.0  # seconds for the whole update (every feed)
_NAME = re.compile(r"^[A-Za-z0-9:._/+ -]{1,100}$")


@dataclass(frozen=True, slots=True)
class FeedConfig:
    name: str
    url: str
    type: str | None = None
    max_bytes: int | None = None  # this feed's download cap (default FeedLimits.max_file_bytes)


@dataclass(slots=True)
class UpdateResult:
    updated: list[FeedStats]
    not_modified: list[str]
    db_path: Path


def load_feeds(path: Path | None = None) -> list[FeedConfig]:
    file = path or DEFAULT_FEEDS_FILE
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{file}: cannot read feeds file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{file}: not valid YAML ({str(exc).splitlines()[0]})") from None
    entries = doc.get("feeds") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InputError(f"{file}: expected a 'feeds:' list of {{name, url, type}}")
    feeds: list[FeedConfig] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str) \
                or not isinstance(entry.get("name"), str) or not _NAME.match(entry["name"]):
            raise InputError(f"{file}: each feed needs a 'name' (letters, digits, space, :._/+-) and a 'url'")
        ftype = entry.get("type")
        if ftype is not None and importer_named(ftype) is None:
            raise InputError(f"{file}: feed {entry['name']}: unknown type {ftype!r} "
                             f"(known: {', '.join([*IMPORTERS, *TYPE_ALIASES])})")
        max_bytes = entry.get("max_bytes")
        if max_bytes is not None and (not isinstance(max_bytes, int) or isinstance(max_bytes, bool)
                                      or max_bytes <= 0):
            raise InputError(f"{file}: feed {entry['name']}: max_bytes must be a positive integer")
        kind = TYPE_ALIASES.get(ftype, ftype) if ftype else None
        feeds.append(FeedConfig(entry["name"], entry["url"], kind, max_bytes))
    names = [f.name for f in feeds]
    if len(set(names)) != len(names):
        raise InputError(f"{file}: feed names must be unique")
    return feeds


class Downloader:
    def __init__(self, dest_dir: Path, limits: FeedLimits, ca_cert: Path | None = None,
                 timeout: float = 60.0, allow_http: bool = False, deadline: float = DEFAULT_DEADLINE) -> None:
        self.dest_dir = dest_dir
        self.limits = limits
        self.allow_http = allow_http
        self.deadline = deadline
        self.end = time.monotonic() + deadline
        verify: ssl.SSLContext | bool = True
        if ca_cert is not None:
            if not ca_cert.is_file():
                raise InputError(f"{ca_cert}: CA certificate file not found")
            try:
                verify = ssl.create_default_context(cafile=str(ca_cert))
            except (ssl.SSLError, OSError) as exc:
                raise InputError(f"{ca_cert}: not a usable CA certificate ({exc})") from None
        self.client = http_client(verify=verify, timeout=timeout, deadline=deadline,
                                  headers={"User-Agent": "seawall-db-update"})

    def close(self) -> None:
        self.client.close()

    def _check_url(self, url: str) -> None:
        if url.startswith("https://"):
            return
        if url.startswith("http://") and self.allow_http:
            return
        raise InputError(f"feed URL {url!r}: only https:// is allowed (--allow-http for plain http)")

    def _budget(self, what: str) -> dict[str, Any]:
        """This request's deadline: what is left of the update's."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise LimitExceeded(f"{what}: {self._late()}")
        return deadline_extension(left)

    def _late(self) -> str:
        return f"no complete answer within the {self.deadline:g} s deadline of the update (--deadline)"

    def _error(self, what: str, exc: httpx.HTTPError) -> NetworkError | LimitExceeded:
        if isinstance(exc, httpx.TimeoutException):
            if time.monotonic() >= self.end - 0.05:
                return LimitExceeded(f"{what}: {self._late()}")
            return NetworkError(f"{what}: {timeout_reason(exc)}")
        return NetworkError(f"{what}: {type(exc).__name__}: {exc}")

    def get_small(self, url: str, limit: int = 1 << 20) -> bytes:
        self._check_url(url)
        try:
            with self.client.stream("GET", url, extensions=self._budget(url)) as resp:
                if resp.status_code != 200:
                    raise NetworkError(f"{url}: HTTP {resp.status_code}")
                return read_response_capped(resp, limit, url)
        except httpx.HTTPError as exc:
            raise self._error(url, exc) from None

    def fetch(self, name: str, url: str, etag: str | None, last_modified: str | None,
              max_bytes: int | None = None) -> tuple[Path, str | None, str | None, str] | None:
        """Download to a temp file: (path, etag, last-modified, sha256), or None on 304."""
        self._check_url(url)
        limit = max_bytes or self.limits.max_file_bytes
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        dest = self.dest_dir / f".download-{safe}-{time.monotonic_ns()}.tmp"
        digest = hashlib.sha256()
        what = f"feed {name}: {url}"
        try:
            with self.client.stream("GET", url, headers=headers, extensions=self._budget(what)) as resp:
                if resp.status_code == 304:
                    return None
                if resp.status_code != 200:
                    raise NetworkError(f"feed {name}: {url}: HTTP {resp.status_code}")
                declared = resp.headers.get("Content-Length")
                expected = int(declared) if declared and declared.isdigit() else None
                if expected is not None and expected > limit:
                    raise LimitExceeded(f"feed {name}: {expected} bytes is over the {limit}-byte limit")
                size = 0
                with dest.open("wb") as out:
                    for chunk in resp.iter_raw():
                        size += len(chunk)
                        if size > limit:
                            raise LimitExceeded(f"{what}: more than {limit} bytes (the limit)")
                        digest.update(chunk)
                        out.write(chunk)
                if expected is not None and size != expected \
                        and not resp.headers.get("Content-Encoding"):
                    raise NetworkError(f"feed {name}: got {size} of {expected} bytes (truncated download)")
                return dest, resp.headers.get("ETag"), resp.headers.get("Last-Modified"), digest.hexdigest()
        except httpx.HTTPError as exc:
            with contextlib.suppress(FileNotFoundError):
                dest.unlink()
            raise self._error(what, exc) from None
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                dest.unlink()
            raise

    def resolve_alas(self, url: str) -> str:
        """mirror.list -> repomd.xml -> the updateinfo file it lists."""
        if url.endswith("mirror.list"):
            text = self.get_small(url).decode("utf-8", "replace")
            base = next((line.strip() for line in text.splitlines() if line.strip()), "")
            if not base.startswith(("https://", "http://")):
                raise NetworkError(f"{url}: no mirror URL in the mirror list")
            url = base.rstrip("/") + "/repodata/repomd.xml"
        if url.endswith("repomd.xml"):
            text = self.get_small(url, 4 << 20).decode("utf-8", "replace")
            m = re.search(r'<data\s+type="updateinfo">.*?<location\s+href="([^"]+)"', text, re.S)
            if not m:
                raise NetworkError(f"{url}: repomd.xml lists no updateinfo")
            base = url[: -len("repodata/repomd.xml")]
            return urljoin(base, m.group(1))
        return url


def _previous(db_path: Path) -> dict[str, tuple[str | None, str | None, str | None]]:
    if not db_path.is_file():
        return {}
    try:
        check_schema(db_path)
        conn = connect_ro(db_path)
    except InputError:
        return {}
    try:
        return {r[0]: (r[1], r[2], r[3])
                for r in conn.execute("SELECT name, etag, last_modified, source FROM feeds")}
    finally:
        conn.close()


def update(db_path: Path, feeds: Sequence[FeedConfig], *, ca_cert: Path | None = None,
           limits: FeedLimits | None = None, timeout: float = 60.0, allow_http: bool = False,
           deadline: float = DEFAULT_DEADLINE,
           progress: Callable[[str], Any] | None = None) -> UpdateResult:
    limits = limits or FeedLimits()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    previous = _previous(db_path)
    downloader = Downloader(db_path.parent, limits, ca_cert, timeout, allow_http, deadline)
    downloads: list[Path] = []
    sources: list[FeedSource] = []
    touched: list[tuple[str, float]] = []
    try:
        for feed in feeds:
            if progress:
                progress(f"fetching {feed.name} from {feed.url}")
            url = downloader.resolve_alas(feed.url) if feed.type == "alas" else feed.url
            etag, modified, old_url = previous.get(feed.name, (None, None, None))
            if old_url != url:  # validators only mean something for the same URL
                etag = modified = None
            now = time.time()
            got = downloader.fetch(feed.name, url, etag, modified, feed.max_bytes)
            if got is None:
                touched.append((feed.name, now))
                continue
            path, new_etag, new_modified, sha = got
            downloads.append(path)
            named = importer_named(feed.type) if feed.type else None
            importer: Importer = named if named is not None else detect(path)
            if feed.type and not importer.sniff(path, _head(path)):
                raise InputError(f"feed {feed.name}: {url} did not return a {feed.type} feed")
            sources.append(FeedSource(path=path, importer=importer, name=feed.name, source=url,
                                      etag=new_etag, last_modified=new_modified, checked_at=now,
                                      sha256=sha))
        stats = build(db_path, sources, limits, touch=touched)
    finally:
        downloader.close()
        for path in downloads:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return UpdateResult(stats, [name for name, _ in touched], db_path)


def _head(path: Path) -> bytes:
    from seawall.vulndb.importers.common import read_head

    return read_head(path)
