"""Manifests, indexes and image configs (OCI and Docker v2), shared by every source."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from seawall.core.errors import InputError
from seawall.image.base import HistoryEntry, ImageConfig, LayerInfo
from seawall.image.streams import check_layer_media_type, parse_digest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                  "application/vnd.docker.distribution.manifest.v1+prettyjws")
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)
# Sent as Accept by the registry client: without it the registry may convert to schema1,
# with only Docker types an OCI manifest answers 404.
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))

REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] | None = None

    @classmethod
    def parse(cls, raw: Any, where: str) -> Descriptor:
        if not isinstance(raw, dict):
            raise InputError(f"{where}: malformed descriptor")
        digest = raw.get("digest")
        size = raw.get("size")
        media_type = raw.get("mediaType") or ""
        if not isinstance(digest, str):
            raise InputError(f"{where}: descriptor without a digest")
        parse_digest(digest, where)
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InputError(f"{where}: descriptor {digest} without a valid size")
        if not isinstance(media_type, str):
            raise InputError(f"{where}: descriptor {digest} with a malformed mediaType")
        platform = raw.get("platform")
        annotations = raw.get("annotations")
        annotated = ({str(k): str(v) for k, v in annotations.items()}
                     if isinstance(annotations, dict) else None)
        return cls(media_type, digest, size, platform if isinstance(platform, dict) else None, annotated)


@dataclass(frozen=True, slots=True)
class Platform:
    os: str = "linux"
    architecture: str = "amd64"
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) < 2 or len(parts) > 3 or not all(parts):
            raise InputError(f"invalid platform {text!r} (expected OS/ARCH[/VARIANT], e.g. linux/amd64)")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")

    def matches(self, p: dict[str, Any] | None) -> bool:
        if not p:
            return False
        if p.get("os") != self.os or p.get("architecture") != self.architecture:
            return False
        if self.variant is None:
            return True
        variant = p.get("variant")
        # arm64 images usually omit the v8 variant
        return bool(variant == self.variant or (variant is None and self.architecture == "arm64"
                                                and self.variant == "v8"))


def load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{what} is not a JSON object")
    return doc


def document_type(doc: dict[str, Any], declared: str | None, what: str) -> str:
    """The media type of a manifest or index document (declared by its descriptor or itself)."""
    media_type = doc.get("mediaType") or declared or ""
    if media_type in DOCKER_SCHEMA1 or doc.get("schemaVersion") == 1:
        raise InputError(f"{what}: Docker schema1 manifests are not supported (deprecated format)")
    if not media_type:
        # OCI allows omitting mediaType: infer from the shape
        if "manifests" in doc:
            media_type = OCI_INDEX
        elif "layers" in doc and "config" in doc:
            media_type = OCI_MANIFEST
    if media_type not in MANIFEST_TYPES + INDEX_TYPES:
        raise InputError(f"{what}: unsupported manifest media type {media_type!r}")
    return media_type


def index_manifests(doc: dict[str, Any], what: str) -> list[Descriptor]:
    raw = doc.get("manifests")
    if not isinstance(raw, list):
        raise InputError(f"{what}: index without a manifests list")
    return [Descriptor.parse(m, f"{what} manifests[{i}]") for i, m in enumerate(raw)]


def select_platform(descs: list[Descriptor], platform: Platform, what: str) -> Descriptor:
    """Pick the manifest for `platform` in an index (skipping attestation manifests)."""
    candidates = [d for d in descs if d.platform and d.platform.get("os") != "unknown"]
    for d in candidates:
        if platform.matches(d.platform):
            return d
    have = sorted({f"{d.platform.get('os')}/{d.platform.get('architecture')}"
                   + (f"/{d.platform['variant']}" if d.platform.get("variant") else "")
                   for d in candidates if d.platform})
    if not candidates and len(descs) == 1:
        return descs[0]
    raise InputError(f"{what}: no image for platform {platform} (available: {', '.join(have) or 'none'})")


@dataclass(frozen=True, slots=True)
class ImageManifest:
    config: Descriptor
    layers: list[Descriptor]
    media_type: str


def parse_manifest(doc: dict[str, Any], media_type: str, what: str) -> ImageManifest:
    config = Descriptor.parse(doc.get("config"), f"{what} config")
    if config.media_type and config.media_type not in CONFIG_TYPES:
        raise InputError(f"{what}: not a container image (config media type {config.media_type!r})")
    raw_layers = doc.get("layers")
    if not isinstance(raw_layers, list):
        raise InputError(f"{what}: manifest without a layers list")
    layers = [Descriptor.parse(x, f"{what} layers[{i}]") for i, x in enumerate(raw_layers)]
    for i, layer in enumerate(layers):
        check_layer_media_type(layer.media_type or None, f"{what} layers[{i}]")
    return ImageManifest(config, layers, media_type)


def _str_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [value]
    return []


def parse_config(data: bytes, what: str = "image config") -> ImageConfig:
    doc = load_json(data, what)
    cfg = doc.get("config") or doc.get("container_config") or {}
    if not isinstance(cfg, dict):
        cfg = {}
    history: list[HistoryEntry] = []
    for h in doc.get("history") or []:
        if isinstance(h, dict):
            created, comment = h.get("created"), h.get("comment")
            history.append(HistoryEntry(created_by=str(h.get("created_by") or ""),
                                        created=created if isinstance(created, str) else None,
                                        empty_layer=bool(h.get("empty_layer", False)),
                                        comment=comment if isinstance(comment, str) else None))
    rootfs = doc.get("rootfs") or {}
    diff_ids = _str_list(rootfs.get("diff_ids")) if isinstance(rootfs, dict) else []
    labels = cfg.get("Labels") or {}
    ports = cfg.get("ExposedPorts") or {}
    health = cfg.get("Healthcheck")
    return ImageConfig(
        os=str(doc.get("os") or "linux"),
        architecture=str(doc.get("architecture") or "amd64"),
        variant=doc.get("variant") if isinstance(doc.get("variant"), str) else None,
        user=cfg.get("User") if isinstance(cfg.get("User"), str) else None,
        env=_str_list(cfg.get("Env")),
        entrypoint=_str_list(cfg.get("Entrypoint")),
        cmd=_str_list(cfg.get("Cmd")),
        working_dir=cfg.get("WorkingDir") if isinstance(cfg.get("WorkingDir"), str) else None,
        exposed_ports=sorted(str(p) for p in ports) if isinstance(ports, dict) else [],
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        healthcheck=health if isinstance(health, dict) else None,
        history=history,
        diff_ids=diff_ids,
        created=doc.get("created") if isinstance(doc.get("created"), str) else None,
        raw=doc,
    )


def layer_infos(layers: list[Descriptor], config: ImageConfig, limit: int) -> list[LayerInfo]:
    """LayerInfo per layer: history entries that are not empty_layer map onto layers in order."""
    from seawall.core.errors import LimitExceeded

    if len(layers) > limit:
        raise LimitExceeded(f"image has {len(layers)} layers, more than the limit of {limit} (max_layers)")
    created = [h.created_by for h in config.history if not h.empty_layer]
    shown = _redact_history(created)
    infos = []
    for i, d in enumerate(layers):
        infos.append(LayerInfo(
            index=i, digest=d.digest,
            diff_id=config.diff_ids[i] if i < len(config.diff_ids) else None,
            created_by=shown[i] if i < len(shown) and shown[i] else None,
            media_type=d.media_type or None, size=d.size))
    return infos


def _redact_history(lines: list[str]) -> list[str]:
    """History lines as they may be shown: `LayerInfo.created_by` is output (SBOM layers, package
    and finding locations, every format), so a build argument such as `|2 NPM_TOKEN=ghp_...`
    is redacted here, once, at the source. Scanners read the raw lines from
    `ImageConfig.history`."""
    if not any(lines):
        return lines
    from seawall.secrets import SecretScanner, redact_text  # lazy: rules load only when needed

    scanner = SecretScanner()
    return [redact_text(line, scanner) if line else line for line in lines]
