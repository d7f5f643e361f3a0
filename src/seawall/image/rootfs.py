"""`dir:PATH`: a root filesystem on disk (no layers). Walked by `seawall.image.fs` without
ever following a symlink; files are opened component by component with O_NOFOLLOW."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

from seawall.core.errors import InputError
from seawall.image.base import ImageConfig, LayerInfo


class DirSource:
    def __init__(self, path: Path, name: str) -> None:
        if not path.exists():
            raise InputError(f"{path}: no such directory")
        if not path.is_dir():
            raise InputError(f"{path}: not a directory (dir: needs a root filesystem directory)")
        self.root = path.resolve()
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    @property
    def digest(self) -> str | None:
        return None

    def config(self) -> ImageConfig:
        return ImageConfig()

    def layers(self) -> list[LayerInfo]:
        return []

    def open_layer(self, layer: LayerInfo) -> IO[bytes]:
        raise InputError(f"{self._name}: a directory has no layers")

    def open_file(self, path: str) -> IO[bytes]:
        """Open regular file `path` ("/etc/os-release") under the root, never following a symlink."""
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            raise InputError(f"{self._name}: invalid path {path!r}")
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for comp in parts[:-1]:
                nfd = os.open(comp, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = nfd
            ffd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
        finally:
            os.close(fd)
        if not stat.S_ISREG(os.fstat(ffd).st_mode):
            os.close(ffd)
            raise InputError(f"{self._name}: {path} is not a regular file")
        return os.fdopen(ffd, "rb")

    def close(self) -> None:
        pass

    def __enter__(self) -> DirSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
