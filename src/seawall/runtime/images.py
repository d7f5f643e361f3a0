"""Images of running containers, read once per digest: SBOM + drift manifest into the store.

    stored = snapshot_image("docker-archive:/tmp/x.tar", SourceOptions(), digest="sha256:...")

One pass over the layers (seawall.scan.inventory.inventory) gives the packages, the OS and, with
the drift hash visitor riding along, the file manifest (seawall.runtime.drift.build_manifest).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from seawall.core import Skip
from seawall.core.errors import SeawallError
from seawall.core.text import printable
from seawall.image import SourceOptions, open_image
from seawall.runtime.base import Container, ImageExporter, InventorySource
from seawall.runtime.drift import HashVisitor, build_manifest
from seawall.runtime.sbomstore import SbomStore, StoredImage


def snapshot_image(
    ref: str,
    options: SourceOptions,
    digest: str | None = None,
    image_id: str | None = None,
    name: str | None = None,
    with_files: bool = True,
    origin: str = "scan",
) -> StoredImage:
    from seawall.scan.inventory import inventory

    with open_image(ref, options) as source:
        hashes = HashVisitor(options.limits.max_file_size)
        inv = inventory(source, options.limits, extra_visitors=[hashes] if with_files else [])
        key = digest or source.digest or image_id
        if key is None:
            raise SeawallError(f"{printable(ref)}: the image has no digest to store its SBOM under")
        config_digest = image_id
        return StoredImage(
            digest=key,
            name=name or source.name,
            packages=inv.packages,
            os=inv.os,
            image_id=config_digest,
            files=build_manifest(inv.files, hashes.hashes) if with_files else None,
            origin=origin,
        )


def registry_ref(container: Container) -> str | None:
    """`registry:HOST/REPO@DIGEST` for a container whose image names a registry and a digest."""
    image = container.image
    if not image or not container.image_digest:
        return None
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: len(repo) - len(last) + last.index(":")]
    if "/" not in repo or ("." not in repo.split("/", 1)[0] and ":" not in repo.split("/", 1)[0]):
        return None  # not a registry host (a local name such as localhost/demo is exported instead)
    if repo.startswith("localhost/"):
        return None
    return f"registry:{repo}@{container.image_digest}"


def ensure_image(
    container: Container,
    source: InventorySource,
    store: SbomStore,
    options: SourceOptions,
    cache: dict[str, StoredImage | Skip],
) -> StoredImage | Skip:
    """The stored image of `container` (read and stored the first time its digest is seen)."""
    key = container.digest_key
    if key is None:
        return Skip(
            subject="image of a container without a digest",
            reason="the runtime reports no image digest",
            category="unsupported",
        )
    if key in cache:
        return cache[key]
    found = store.get(key)
    if found is None and container.image_id and container.image_id != key:
        found = store.get(container.image_id)
    if found is not None and found.files is not None:
        cache[key] = found
        return found
    try:
        stored = _read_image(container, source, options, key)
    except SeawallError as exc:
        skip = Skip(
            subject=f"image {printable(container.image)}",
            reason=printable(exc.message),
            category="unreadable",
        )
        cache[key] = skip
        return skip
    if stored is None:
        skip = Skip(
            subject=f"image {printable(container.image)}",
            reason=f"the {source.name} source cannot export images and the reference names no "
            "registry digest",
            category="unsupported",
        )
        cache[key] = skip
        return skip
    store.put(stored)
    cache[key] = stored
    return stored


def _read_image(
    container: Container, source: InventorySource, options: SourceOptions, key: str
) -> StoredImage | None:
    if isinstance(source, ImageExporter):
        with tempfile.TemporaryDirectory(prefix="seawall-export-", dir=options.temp_root()) as tmp:
            archive = Path(tmp) / "image.tar"
            source.export_image(container, archive)
            return snapshot_image(
                f"docker-archive:{archive}",
                options,
                digest=key,
                image_id=container.image_id,
                name=container.image,
            )
    ref = registry_ref(container)
    if ref is None:
        return None
    return snapshot_image(ref, options, digest=key, image_id=container.image_id, name=container.image)
