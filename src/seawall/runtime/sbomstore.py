"""Stored SBOMs by digest: what a rescan re-matches without pulling a layer again.

One protocol (`SbomStore`), one SQLAlchemy implementation over the tables of migration 0002
(`seawall.service.tables.runtime_*`): in the service's database when one is configured
(`--store postgresql://...`, `SEAWALL_DATABASE_URL`, the `database:` of seawall.yaml; its
Alembic migrations make the tables), else a local SQLite file
(`user_cache_dir("seawall")/runtime.sqlite`) whose tables are made here.

An image is stored once per digest: its packages (the SBOM), its OS, and for images that were
read layer by layer, the file manifest drift compares live files with. Beside it: the references
(registry/repo:tag) it was seen under, the containers seen running it, and the advisory IDs that
matched it against the DB it was last matched with (to tell what a DB update changed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson
import zstandard
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from seawall.core import Location, OSInfo, Package
from seawall.core.errors import InputError
from seawall.service.tables import runtime_images, runtime_refs, runtime_running
from seawall.service.timeutil import now_iso

MAX_BLOB = 512 << 20  # one stored SBOM or manifest, decompressed


@dataclass(slots=True)
class StoredImage:
    digest: str
    name: str
    packages: list[Package]
    os: OSInfo | None = None
    image_id: str | None = None
    files: dict[str, Any] | None = None  # drift manifest: path -> [kind, mode, size, sha256, link, layer]
    origin: str = "scan"
    db_fingerprint: str | None = None
    vulns: list[str] | None = None


@dataclass(frozen=True, slots=True)
class Running:
    container: str  # runtime:id
    digest: str
    workload: str
    name: str


@dataclass(slots=True)
class StoreStats:
    images: int = 0
    references: int = 0
    running: int = 0
    by_origin: dict[str, int] = field(default_factory=dict)


class SbomStore(Protocol):
    url: str

    def get(self, digest: str) -> StoredImage | None: ...

    def put(self, image: StoredImage) -> None: ...

    def has(self, digest: str) -> bool: ...

    def digests(self) -> list[str]: ...

    def iter_images(self, with_files: bool = False) -> Iterator[StoredImage]: ...

    def set_matches(self, digest: str, fingerprint: str, vulns: list[str]) -> None: ...

    def set_matches_many(self, matches: list[tuple[str, str, list[str]]]) -> None:
        """(digest, fingerprint, vulns) for many images in one transaction."""
        ...

    def add_reference(self, reference: str, digest: str, registry: str) -> None: ...

    def references(self, digest: str | None = None) -> list[tuple[str, str]]: ...

    def set_running(
        self, running: list[Running], scope: str | None = None, keep: frozenset[str] = frozenset()
    ) -> None: ...

    def running(self) -> list[Running]: ...

    def stats(self) -> StoreStats: ...

    def close(self) -> None: ...


# -- (de)serialization -----------------------------------------------------------------------

_CCTX = zstandard.ZstdCompressor(level=6)


def pack(value: Any) -> bytes:
    return _CCTX.compress(orjson.dumps(value))


def unpack(blob: bytes) -> Any:
    try:
        with zstandard.ZstdDecompressor().stream_reader(blob) as reader:
            data = reader.read(MAX_BLOB + 1)
    except zstandard.ZstdError:
        raise InputError("stored SBOM is damaged (zstd)") from None
    if len(data) > MAX_BLOB:
        raise InputError("stored SBOM is larger than the limit")
    return orjson.loads(data)


def package_from_dict(raw: dict[str, Any]) -> Package:
    return Package(
        name=str(raw["name"]),
        version=str(raw["version"]),
        ecosystem=str(raw["ecosystem"]),
        purl=str(raw.get("purl", "")),
        locations=[Location.from_dict(loc) for loc in raw.get("locations") or [] if isinstance(loc, dict)],
        source_name=raw.get("source_name"),
        source_version=raw.get("source_version"),
        arch=raw.get("arch"),
        licenses=list(raw.get("licenses") or []),
        cataloger=raw.get("cataloger"),
        metadata=dict(raw.get("metadata") or {}),
        cpes=list(raw.get("cpes") or []),
        dependencies=list(raw.get("dependencies") or []),
    )


def os_to_dict(os_info: OSInfo | None) -> dict[str, Any]:
    if os_info is None:
        return {}
    return {
        "id": os_info.id,
        "version": os_info.version,
        "name": os_info.name,
        "codename": os_info.codename,
        "id_like": list(os_info.id_like),
    }


def os_from_dict(raw: dict[str, Any]) -> OSInfo | None:
    if not raw or not raw.get("id"):
        return None
    return OSInfo(
        id=raw["id"],
        version=raw.get("version"),
        name=raw.get("name"),
        codename=raw.get("codename"),
        id_like=tuple(raw.get("id_like") or ()),
    )


# -- the SQL implementation ------------------------------------------------------------------


def default_store_url() -> str:
    from platformdirs import user_cache_dir

    env = os.environ.get("SEAWALL_DATABASE_URL")
    if env:
        return env
    return f"sqlite:///{Path(user_cache_dir('seawall')) / 'runtime.sqlite'}"


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).strip().splitlines()[0][:200] if str(orig or exc).strip() else type(exc).__name__


class SqlSbomStore:
    """The SBOM store on SQLite or PostgreSQL (SQLAlchemy Core)."""

    def __init__(self, url: str | None = None, migrate: bool = True) -> None:
        from seawall.service.store import _safe_url, create

        self.url = url or default_store_url()
        self.safe_url = _safe_url(self.url)
        self.engine: Engine = create(self.url)
        if migrate:
            self._migrate()

    def _migrate(self) -> None:
        """The service's Alembic migrations, whatever the database (a local file is then a valid
        service database too, and a service database gets migration 0002)."""
        from seawall.service.store import Store

        store = Store(self.url)
        try:
            store.migrate()
        finally:
            store.close()

    def close(self) -> None:
        self.engine.dispose()

    def _run(self, fn: Any) -> Any:
        try:
            with self.engine.begin() as conn:
                return fn(conn)
        except SQLAlchemyError as exc:
            raise InputError(f"SBOM store {self.safe_url}: {_reason(exc)}") from None

    # -- images --------------------------------------------------------------------------
    def get(self, digest: str) -> StoredImage | None:
        def fn(conn: Any) -> Any:
            row = (
                conn.execute(select(runtime_images).where(runtime_images.c.digest == digest))
                .mappings()
                .first()
            )
            if row is None:
                row = (
                    conn.execute(select(runtime_images).where(runtime_images.c.image_id == digest))
                    .mappings()
                    .first()
                )
            return dict(row) if row is not None else None

        row = self._run(fn)
        return self._image(row, with_files=True) if row else None

    def has(self, digest: str) -> bool:
        def fn(conn: Any) -> bool:
            col = runtime_images.c
            found = conn.execute(
                select(col.digest).where((col.digest == digest) | (col.image_id == digest)).limit(1)
            ).first()
            return found is not None

        return bool(self._run(fn))

    def _image(self, row: dict[str, Any], with_files: bool) -> StoredImage:
        packages = [package_from_dict(p) for p in unpack(row["sbom"])]
        files = unpack(row["files"]) if with_files and row.get("files") else None
        return StoredImage(
            digest=row["digest"],
            name=row["name"],
            packages=packages,
            os=os_from_dict(orjson.loads(row["os"] or "{}")),
            image_id=row["image_id"],
            files=files,
            origin=row["origin"],
            db_fingerprint=row["db_fingerprint"],
            vulns=orjson.loads(row["vulns"]) if row["vulns"] else None,
        )

    def put(self, image: StoredImage) -> None:
        now = now_iso()
        values = {
            "image_id": image.image_id,
            "name": image.name[:4000],
            "os": orjson.dumps(os_to_dict(image.os)).decode(),
            "sbom": pack([p.to_dict() for p in image.packages]),
            "files": pack(image.files) if image.files is not None else None,
            "origin": image.origin,
            "packages": len(image.packages),
            "db_fingerprint": image.db_fingerprint,
            "vulns": orjson.dumps(image.vulns).decode() if image.vulns is not None else None,
            "updated_at": now,
        }

        def fn(conn: Any) -> None:
            found = conn.execute(
                select(runtime_images.c.digest).where(runtime_images.c.digest == image.digest)
            ).first()
            if found is None:
                try:
                    conn.execute(insert(runtime_images).values(digest=image.digest, created_at=now, **values))
                    return
                except IntegrityError:
                    pass
            conn.execute(
                update(runtime_images).where(runtime_images.c.digest == image.digest).values(**values)
            )

        self._run(fn)

    def digests(self) -> list[str]:
        return list(
            self._run(
                lambda conn: [
                    r[0]
                    for r in conn.execute(select(runtime_images.c.digest).order_by(runtime_images.c.digest))
                ]
            )
        )

    def iter_images(self, with_files: bool = False) -> Iterator[StoredImage]:
        """Every stored image, read in pages (memory: one page of SBOMs at a time)."""
        cols = [c for c in runtime_images.c if with_files or c.name != "files"]
        last = ""
        while True:
            rows = self._run(
                lambda conn, last=last: [
                    dict(r)
                    for r in conn.execute(
                        select(*cols)
                        .where(runtime_images.c.digest > last)
                        .order_by(runtime_images.c.digest)
                        .limit(200)
                    ).mappings()
                ]
            )
            if not rows:
                return
            for row in rows:
                yield self._image(row, with_files=with_files)
            last = rows[-1]["digest"]

    def set_matches(self, digest: str, fingerprint: str, vulns: list[str]) -> None:
        self._run(
            lambda conn: conn.execute(
                update(runtime_images)
                .where(runtime_images.c.digest == digest)
                .values(
                    db_fingerprint=fingerprint,
                    vulns=orjson.dumps(sorted(vulns)).decode(),
                    updated_at=now_iso(),
                )
            )
        )

    def set_matches_many(self, matches: list[tuple[str, str, list[str]]]) -> None:
        if not matches:
            return
        now = now_iso()

        def fn(conn: Any) -> None:
            for digest, fingerprint, vulns in matches:
                conn.execute(
                    update(runtime_images)
                    .where(runtime_images.c.digest == digest)
                    .values(
                        db_fingerprint=fingerprint, vulns=orjson.dumps(sorted(vulns)).decode(), updated_at=now
                    )
                )

        self._run(fn)

    # -- references and running containers -----------------------------------------------
    def add_reference(self, reference: str, digest: str, registry: str) -> None:
        now = now_iso()

        def fn(conn: Any) -> None:
            found = conn.execute(
                select(runtime_refs.c.reference).where(runtime_refs.c.reference == reference)
            ).first()
            if found is None:
                conn.execute(
                    insert(runtime_refs).values(
                        reference=reference, digest=digest, registry=registry, seen_at=now
                    )
                )
            else:
                conn.execute(
                    update(runtime_refs)
                    .where(runtime_refs.c.reference == reference)
                    .values(digest=digest, seen_at=now)
                )

        self._run(fn)

    def references(self, digest: str | None = None) -> list[tuple[str, str]]:
        query = select(runtime_refs.c.reference, runtime_refs.c.digest).order_by(runtime_refs.c.reference)
        if digest is not None:
            query = query.where(runtime_refs.c.digest == digest)
        return list(self._run(lambda conn: [(r[0], r[1]) for r in conn.execute(query)]))

    def set_running(
        self, running: list[Running], scope: str | None = None, keep: frozenset[str] = frozenset()
    ) -> None:
        """Replace what is running (for containers whose id starts with `scope`, e.g. `podman:`);
        the rows of `keep` stay as they were (containers still running that a filtered scan
        did not look at)."""
        now = now_iso()

        def fn(conn: Any) -> None:
            if not keep:
                gone = delete(runtime_running)
                if scope is not None:
                    gone = gone.where(runtime_running.c.container.startswith(scope))
                conn.execute(gone)
            else:
                listed = select(runtime_running.c.container)
                if scope is not None:
                    listed = listed.where(runtime_running.c.container.startswith(scope))
                untouched = keep - {r.container for r in running}
                stale = sorted({row[0] for row in conn.execute(listed)} - untouched)
                for i in range(0, len(stale), 500):
                    chunk = stale[i : i + 500]
                    conn.execute(delete(runtime_running).where(runtime_running.c.container.in_(chunk)))
            for r in {r.container: r for r in running}.values():
                conn.execute(
                    insert(runtime_running).values(
                        container=r.container[:255],
                        digest=r.digest,
                        workload=r.workload[:512],
                        name=r.name[:512],
                        seen_at=now,
                    )
                )

        self._run(fn)

    def running(self) -> list[Running]:
        return list(
            self._run(
                lambda conn: [
                    Running(r[0], r[1], r[2], r[3])
                    for r in conn.execute(
                        select(
                            runtime_running.c.container,
                            runtime_running.c.digest,
                            runtime_running.c.workload,
                            runtime_running.c.name,
                        ).order_by(runtime_running.c.container)
                    )
                ]
            )
        )

    def stats(self) -> StoreStats:
        def fn(conn: Any) -> StoreStats:
            stats = StoreStats()
            for origin, count in conn.execute(select(runtime_images.c.origin, runtime_images.c.digest)):
                stats.images += 1
                stats.by_origin[origin] = stats.by_origin.get(origin, 0) + 1
                del count
            stats.references = len(conn.execute(select(runtime_refs.c.reference)).all())
            stats.running = len(conn.execute(select(runtime_running.c.container)).all())
            return stats

        result: StoreStats = self._run(fn)
        return result


def open_store(url: str | None = None) -> SbomStore:
    """The store at `url` (`sqlite:///...`, `postgresql://...`, or a file path), else the
    service database of `SEAWALL_DATABASE_URL`, else the local SQLite file."""
    if url and "://" not in url:
        url = f"sqlite:///{Path(url).expanduser().resolve()}"
    return SqlSbomStore(url)
