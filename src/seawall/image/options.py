"""Options shared by every image source."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from seawall.image.base import Limits


@dataclass(slots=True)
class SourceOptions:
    platform: str = "linux/amd64"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    insecure: bool = False  # plain HTTP or unverified TLS, only when asked
    ca_cert: Path | None = None  # a PEM bundle for a private CA
    limits: Limits = field(default_factory=Limits)
    cache_dir: Path | None = None  # where temp files (registry blobs) go; default: $TMPDIR
    timeout: float = 60.0  # seconds per network operation (connect, each read or write)
    deadline: float = 300.0  # seconds for one whole request and its body (token, manifest, ...)
    min_blob_rate: int = 64 * 1024  # bytes/s: a blob gets `deadline` + its size at this rate

    def blob_deadline(self, size: int | None) -> float:
        """The overall deadline of downloading a blob of `size` bytes (declared by the manifest)."""
        return self.deadline + (size or 0) / self.min_blob_rate

    def temp_root(self) -> Path:
        root = self.cache_dir if self.cache_dir is not None else Path(tempfile.gettempdir())
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return root


def env_credentials() -> tuple[str | None, str | None]:
    return os.environ.get("SEAWALL_REGISTRY_USERNAME"), os.environ.get("SEAWALL_REGISTRY_PASSWORD")
