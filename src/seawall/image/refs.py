"""Image reference parsing: transports, bare paths and Docker-style registry references."""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from seawall.core.errors import InputError
from seawall.image.streams import NAME_ERRORS, TAR_ERRORS, SafeTarInfo, parse_digest

TRANSPORTS = ("docker-archive", "oci-archive", "oci", "dir", "registry")
DOCKER_HUB = "registry-1.docker.io"
_REPO_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_HOST_RE = re.compile(r"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")


@dataclass(frozen=True, slots=True)
class ImageRef:
    transport: str
    original: str
    path: Path | None = None
    tag: str | None = None
    digest: str | None = None
    registry: str | None = None  # host[:port]
    repository: str | None = None

    def display(self) -> str:
        if self.transport == "registry":
            suffix = f"@{self.digest}" if self.digest else f":{self.tag}"
            return f"{self.registry}/{self.repository}{suffix}"
        return self.original


def _split_suffix(rest: str, allow_digest: bool) -> tuple[str, str | None, str | None]:
    """Split `PATH[:TAG|@DIGEST]` where PATH may itself contain ':' (longest existing path wins)."""
    if allow_digest and "@" in rest:
        head, _, digest = rest.rpartition("@")
        if digest.startswith("sha256:"):
            parse_digest(digest, "image reference")
            return head, None, digest
    if Path(rest).exists() or ":" not in rest:
        return rest, None, None
    idx = len(rest)
    while True:
        idx = rest.rfind(":", 0, idx)
        if idx <= 0:
            return rest, None, None
        if Path(rest[:idx]).exists():
            return rest[:idx], rest[idx + 1:] or None, None


def parse_registry_ref(text: str, original: str | None = None) -> ImageRef:
    """Docker rules: `alpine` -> registry-1.docker.io/library/alpine:latest."""
    ref = text.strip()
    if ref.startswith("//"):
        ref = ref[2:]
    if not ref:
        raise InputError("empty image reference")
    digest = None
    if "@" in ref:
        ref, _, digest = ref.partition("@")
        parse_digest(digest, f"image reference {text!r}")
    tag = None
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1:]
        if not _TAG_RE.match(tag):
            raise InputError(f"invalid tag {tag!r} in image reference {text!r}")
    first, sep, remainder = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, repo = first, remainder
    else:
        host, repo = "docker.io", ref
    if host in ("docker.io", "index.docker.io", "registry.hub.docker.com"):
        host = DOCKER_HUB
        if "/" not in repo:
            repo = f"library/{repo}"
    if not _HOST_RE.match(host):
        raise InputError(f"invalid registry host {host!r} in image reference {text!r}")
    if not _REPO_RE.match(repo):
        raise InputError(f"invalid repository name {repo!r} in image reference {text!r} "
                         "(lowercase letters, digits, '.', '_', '-', '/')")
    if tag is None and digest is None:
        tag = "latest"
    return ImageRef("registry", original or text, registry=host, repository=repo, tag=tag, digest=digest)


def _detect_file(path: Path) -> str:
    try:
        with tarfile.open(path, "r:*", tarinfo=SafeTarInfo, errors=NAME_ERRORS) as tf:
            names = set()
            for i, member in enumerate(tf):
                names.add(member.name.removeprefix("./"))
                if i > 2000:
                    break
    except (*TAR_ERRORS, OSError) as exc:
        raise InputError(f"{path}: not an image archive (not a readable tar file: {exc})") from None
    if "manifest.json" in names:
        return "docker-archive"
    if "oci-layout" in names or "index.json" in names:
        return "oci-archive"
    raise InputError(f"{path}: a tar file but neither a docker-archive (manifest.json) "
                     "nor an oci-archive (index.json)")


def parse_ref(ref: str) -> ImageRef:
    if not ref or not ref.strip():
        raise InputError("empty image reference")
    transport, sep, rest = ref.partition(":")
    if sep and transport in TRANSPORTS:
        if transport == "registry":
            return parse_registry_ref(rest, ref)
        if not rest:
            raise InputError(f"image reference {ref!r} names no path")
        if transport == "dir":
            return ImageRef("dir", ref, path=Path(rest))
        path, tag, digest = _split_suffix(rest, allow_digest=transport == "oci")
        return ImageRef(transport, ref, path=Path(path), tag=tag, digest=digest)
    if ref.startswith("docker://"):
        return parse_registry_ref(ref[len("docker://"):], ref)
    p = Path(ref)
    if p.exists():
        if p.is_dir():
            if (p / "oci-layout").is_file() or (p / "index.json").is_file():
                return ImageRef("oci", ref, path=p)
            return ImageRef("dir", ref, path=p)
        return ImageRef(_detect_file(p), ref, path=p)
    if ref.startswith(("/", "./", "../", "~")) or ref.endswith((".tar", ".tar.gz", ".tgz")):
        raise InputError(f"{ref}: no such file or directory")
    return parse_registry_ref(ref)
