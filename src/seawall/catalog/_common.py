"""Helpers shared by the catalogers: bounded reads, locations, purls, warnings."""

from __future__ import annotations

from typing import IO

from packageurl import PackageURL

from seawall.bounded import read_capped_or_none
from seawall.core import Location, OSInfo, Package, SeawallError
from seawall.image.base import FileEntry, Limits

MAX_WARNINGS = 200


class Ownership:
    """Which OS package installed a file ("deb:python3-urllib3"), shared by the catalogers of one
    pass: the OS catalogers fill it while they read their file lists, the language catalogers
    read it in packages() (after the pass) to mark packages the distribution shipped."""

    def __init__(self) -> None:
        self.owners: dict[str, str] = {}

    def add(self, path: str, owner: str) -> None:
        self.owners.setdefault(path, owner)

    def owner(self, location: Location) -> str | None:
        """The owner of a location's file (for `a.jar:inner.jar`, of `a.jar`)."""
        path = location.path or ""
        return self.owners.get(path.split(":", 1)[0]) if path else None

    def mark(self, packages: list[Package]) -> list[Package]:
        """Set metadata["os_package"] on packages whose file an OS package installed."""
        if not self.owners:
            return packages
        for pkg in packages:
            for loc in pkg.locations:
                owner = self.owner(loc)
                if owner:
                    pkg.metadata["os_package"] = owner
                    break
        return packages


class BaseCataloger:
    """Common state of a cataloger: its name, limits and the warnings it recorded."""

    name = "base"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None) -> None:
        self.limits = limits or Limits()
        self.ownership = ownership or Ownership()
        self.warnings: list[str] = []
        self._suppressed = 0

    def visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        """Read one file; a file that breaks the parser is skipped with a warning, never the scan.

        Errors of the image itself (SeawallError: limits, digests) still stop the scan.
        """
        try:
            self._visit(entry, content)
        except SeawallError:
            raise
        except Exception as exc:
            self.warn(entry, f"skipped, unexpected {type(exc).__name__}: {str(exc)[:200]}")

    def _visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        raise NotImplementedError

    def warn(self, entry: FileEntry | str, message: str) -> None:
        path = entry if isinstance(entry, str) else entry.path
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(f"{self.name}: {path}: {message}")
        else:
            self._suppressed += 1
            if self._suppressed == 1:
                self.warnings.append(f"{self.name}: further warnings suppressed")

    def read_bounded(self, entry: FileEntry, content: IO[bytes], cap: int) -> bytes | None:
        """Read at most `cap` bytes (and never past the global single-file limit).

        Returns None (and records a warning) when the file is larger than allowed.
        """
        cap = min(cap, self.limits.max_file_size)
        data = read_capped_or_none(content, cap)
        if data is None:
            self.warn(entry, f"larger than {cap} bytes, skipped")
        return data


def location(entry: FileEntry, path: str | None = None) -> Location:
    layer = entry.layer
    return Location(path=path or entry.path,
                    layer=layer.digest if layer is not None else None,
                    layer_created_by=layer.created_by if layer is not None else None)


def purl(type_: str, namespace: str | None, name: str, version: str | None,
         qualifiers: dict[str, str | None] | None = None, subpath: str | None = None) -> str:
    quals = {k: v for k, v in (qualifiers or {}).items() if v}
    return str(PackageURL(type=type_, namespace=namespace or None, name=name, version=version or None,
                          qualifiers=quals or None, subpath=subpath).to_string())


def distro_qualifier(os_info: OSInfo | None) -> str | None:
    """`debian-12`, `ubuntu-22.04`, `alpine-3.18.4`, `amzn-2023` (as Syft and Trivy write it)."""
    if os_info is None:
        return None
    return f"{os_info.id}-{os_info.version}" if os_info.version else os_info.id


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
