"""Helpers shared by the catalogers: bounded reads, locations, purls, warnings and skips."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING

from packageurl import PackageURL

from seawall.bounded import read_capped_or_none
from seawall.catalog.limits import DEFAULT_LIMITS, CatalogLimits
from seawall.core import Location, OSInfo, Package, SeawallError, Skip
from seawall.image.base import EntryKind, FileEntry, LayerInfo, Limits

if TYPE_CHECKING:
    from seawall.image.fs import FileIndex

MAX_WARNINGS = 200
LINE_CHUNK = 1024 * 1024


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
    """Common state of a cataloger: its name, limits, and the warnings and skips it recorded."""

    name = "base"
    # what this cataloger reads, for skip subjects ("dpkg database /var/lib/dpkg/status")
    what = "file"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None,
                 catalog_limits: CatalogLimits | None = None) -> None:
        self.limits = limits or Limits()
        self.ownership = ownership or Ownership()
        self.catalog_limits = catalog_limits or DEFAULT_LIMITS
        self.warnings: list[str] = []
        self.skips: list[Skip] = []
        self._suppressed = 0
        self._skips_suppressed = 0

    def visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        """Read one file; a file that breaks the parser is skipped with a warning, never the scan.

        Errors of the image itself (SeawallError: limits, digests) still stop the scan.
        """
        try:
            self._visit(entry, content)
        except SeawallError:
            raise
        except Exception as exc:
            self.skip(entry, f"unexpected {type(exc).__name__}: {str(exc)[:200]}")

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

    def skip(self, entry: FileEntry | str, reason: str, count: int = 1, what: str | None = None,
             category: str = "unreadable") -> None:
        """Record that `entry` (or `count` records in it) could not be analyzed, and why.

        The subject names the cataloger's kind of input and the path ("dpkg database
        /var/lib/dpkg/status"); `what` overrides the kind ("damaged records in")."""
        path = entry if isinstance(entry, str) else entry.path
        if len(self.skips) < MAX_WARNINGS:
            self.skips.append(Skip(subject=f"{what or self.what} {path}", reason=reason, count=count,
                                   category=category))
            return
        # past the cap: one skip keeps the count honest without the names
        first = self._skips_suppressed == 0
        self._skips_suppressed += count
        over = Skip(subject=f"further {self.name} inputs", reason="details suppressed past the cap of "
                    f"{MAX_WARNINGS} skips", count=self._skips_suppressed, category="skipped")
        if first:
            self.skips.append(over)
        else:
            self.skips[-1] = over

    def read_bounded(self, entry: FileEntry, content: IO[bytes], cap: int) -> bytes | None:
        """Read at most `cap` bytes (and never past the global single-file limit).

        Returns None (and records a skip) when the file is larger than allowed.
        """
        cap = min(cap, self.limits.max_file_size)
        data = read_capped_or_none(content, cap)
        if data is None:
            self.skip(entry, f"larger than the limit of {cap} bytes", category="skipped")
        return data


def layer_id(layer: LayerInfo | None) -> str | None:
    """The one id of a layer in every report, whatever the input: its diff_id (the digest of the
    uncompressed tar, as `rootfs.diff_ids` and `docker inspect` name it), the same whether the
    image came as a docker-archive, an OCI layout or from a registry (where blobs are named by
    their compressed digest). The blob digest only when a source has no diff_id."""
    return layer.id if layer is not None else None


def location(entry: FileEntry, path: str | None = None) -> Location:
    return layer_location(entry.layer, path or entry.path)


def layer_location(layer: LayerInfo | None, path: str) -> Location:
    return Location(path=path, layer=layer_id(layer),
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


class LineReader:
    """The lines of a stream (without their newline), read in chunks: memory is bounded by the
    longest line allowed (`max_line`) plus a chunk. Longer lines are dropped and counted in
    `overlong` (`marked()` yields None in their place); past `max_bytes` the rest is not read
    (`truncated`)."""

    def __init__(self, stream: IO[bytes], max_line: int, max_bytes: int | None = None) -> None:
        self._stream = stream
        self.max_line = max_line
        self.max_bytes = max_bytes
        self.overlong = 0
        self.truncated = False
        self.bytes_read = 0

    def __iter__(self) -> Iterator[bytes]:
        return (line for line in self.marked() if line is not None)

    def marked(self) -> Iterator[bytes | None]:
        """The lines, and None where a line over `max_line` was dropped (after the lines before it)."""
        tail = b""
        skipping = False
        while True:
            want = LINE_CHUNK
            if self.max_bytes is not None:
                want = min(want, self.max_bytes - self.bytes_read)
                if want <= 0:
                    self.truncated = bool(self._stream.read(1))
                    break
            chunk = self._stream.read(want)
            if not chunk:
                break
            self.bytes_read += len(chunk)
            if skipping:
                nl = chunk.find(b"\n")
                if nl < 0:
                    continue
                chunk, skipping = chunk[nl + 1:], False
            lines = (tail + chunk if tail else chunk).split(b"\n")
            tail = lines.pop()
            overlong = len(tail) > self.max_line
            if overlong:
                tail, skipping = b"", True
                self.overlong += 1
            yield from lines
            if overlong:
                yield None
        if tail and not skipping:
            yield tail


def in_installing_layer(loc: Location, paths: Iterable[str], files: FileIndex | None,
                        default_path: str = "") -> tuple[Location, str | None]:
    """`loc` moved to the layer that installed the package (`installing_layer`), with the file that
    shows it (`metadata.layer_evidence`); `loc` itself and None when none of its files is there."""
    found = installing_layer(paths, files)
    if found is None:
        return loc, None
    return layer_location(found[0], loc.path or default_path), found[1]


def installing_layer(paths: Iterable[str], files: FileIndex | None) -> tuple[LayerInfo, str] | None:
    """The layer that installed a package, from the package's own files in the final image: the
    lowest layer holding one of them (an upgrade rewrites every file of the package, a later
    edit of one configuration file does not move the package). None when no file is there."""
    if files is None:
        return None
    best: tuple[LayerInfo, str] | None = None
    for path in paths:
        entry = files.get(path)
        if entry is None or entry.layer is None or entry.kind not in (EntryKind.FILE, EntryKind.HARDLINK):
            continue
        if best is None or entry.layer.index < best[0].index:
            best = (entry.layer, path)
    return best
