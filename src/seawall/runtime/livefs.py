"""A running container's root filesystem, read safely through `/proc/PID/root`.

`/proc/PID/root` is opened once as a directory file descriptor (the kernel's magic link takes us
to the container's root); from there every directory and file is opened relative to its parent
with `O_NOFOLLOW`, so no symlink — whatever a hostile container plants, and however it races us —
is ever followed, least of all out of the container root (an absolute symlink resolved by path
would land on the HOST's root). Mount points inside the container (`/proc/PID/mountinfo`:
volumes, /proc, /sys, /dev, the runtime's /etc/hosts ...) are not part of the image and are not
walked. Reads are bounded: entries, bytes per file, bytes in all.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from seawall.bounded import CappedReader, read_file_capped
from seawall.core.errors import InputError, LimitExceeded
from seawall.image.base import EntryKind

O_PATH_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
O_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
MAX_MOUNTINFO = 4 << 20
HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class LiveEntry:
    path: str
    kind: EntryKind
    size: int
    mode: int  # permission bits incl. setuid/setgid
    uid: int
    gid: int
    mtime: float
    ctime: float
    link_target: str | None = None

    @property
    def executable(self) -> bool:
        return self.kind is EntryKind.FILE and bool(self.mode & 0o111)


def _unescape_mount(path: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040 ...)."""
    if "\\" not in path:
        return path
    out, i = [], 0
    while i < len(path):
        if path[i] == "\\" and i + 3 < len(path) + 1 and path[i + 1 : i + 4].isdigit():
            out.append(chr(int(path[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def mount_points(mountinfo: str) -> set[str]:
    """The mount points of a mountinfo text, other than "/" (field 5, unescaped)."""
    points: set[str] = set()
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) > 5:
            point = os.path.normpath(_unescape_mount(fields[4]))
            if point != "/":
                points.add(point)
    return points


class LiveRoot:
    """The live root of process `pid` (or, for tests and hosts, a directory `root`)."""

    def __init__(
        self,
        pid: int | None = None,
        root: Path | None = None,
        max_entries: int = 1_000_000,
        mounts: bool = True,
    ) -> None:
        if pid is None and root is None:
            raise InputError("a live root needs a PID or a directory")
        self.pid = pid
        self.max_entries = max_entries
        where = f"/proc/{pid}/root" if pid is not None else str(root)
        self.where = where
        try:
            self.fd = os.open(where, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except PermissionError:
            raise InputError(
                f"{where}: permission denied (reading a container's root filesystem needs "
                "root or CAP_SYS_PTRACE over it)"
            ) from None
        except OSError as exc:
            raise InputError(f"{where}: cannot open ({exc.strerror})") from None
        self.root_dev = os.fstat(self.fd).st_dev
        self.mounts: set[str] = set()
        if pid is not None and mounts:  # the agent's single stat needs no mount table
            try:
                text = read_file_capped(Path(f"/proc/{pid}/mountinfo"), MAX_MOUNTINFO).decode(
                    "utf-8", "replace"
                )
            except (OSError, InputError):
                text = ""
            self.mounts = mount_points(text)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> LiveRoot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- opening, component by component -----------------------------------------------------
    def _open_dir(self, parts: list[str]) -> int:
        fd = os.dup(self.fd)
        try:
            for comp in parts:
                nfd = os.open(comp, O_PATH_DIR, dir_fd=fd)
                os.close(fd)
                fd = nfd
        except BaseException:
            os.close(fd)
            raise
        return fd

    def open_file(self, path: str) -> IO[bytes]:
        """Open regular file `path` of the container, never following a symlink."""
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if not parts or ".." in parts:
            raise InputError(f"invalid path {path!r}")
        dfd = self._open_dir(parts[:-1])
        try:
            ffd = os.open(parts[-1], O_FILE, dir_fd=dfd)
        finally:
            os.close(dfd)
        if not stat.S_ISREG(os.fstat(ffd).st_mode):
            os.close(ffd)
            raise InputError(f"{path} is not a regular file")
        return os.fdopen(ffd, "rb")

    def read(self, path: str, limit: int) -> bytes | None:
        """The bytes of `path` (None when missing, not a regular file or over `limit`)."""
        try:
            with self.open_file(path) as f:
                data = f.read(limit + 1)
        except (OSError, InputError):
            return None
        return data if len(data) <= limit else None

    def sha256(self, path: str, limit: int) -> str | None:
        """SHA-256 of a regular file of at most `limit` bytes (None when it cannot be read)."""
        try:
            f = self.open_file(path)
        except (OSError, InputError):
            return None
        digest = hashlib.sha256()
        with f, CappedReader(f, limit + 1) as capped:
            total = 0
            while chunk := capped.read(HASH_CHUNK):
                total += len(chunk)
                if total > limit:
                    return None
                digest.update(chunk)
        return "sha256:" + digest.hexdigest()

    def head(self, path: str, n: int = 4) -> bytes:
        try:
            with self.open_file(path) as f:
                return f.read(n)
        except (OSError, InputError):
            return b""

    # -- the walk ------------------------------------------------------------------------------
    def walk(self, warnings: list[str] | None = None) -> Iterator[LiveEntry]:
        """Every entry (directories included), parents before children, without following a
        symlink or crossing a mount point. Unreadable directories are warnings."""
        count = 0
        stack: list[tuple[str, ...]] = [()]
        while stack:
            parts = stack.pop()
            rel = "/" + "/".join(parts) if parts else ""
            try:
                dfd = self._open_dir(list(parts))
            except OSError as exc:
                if warnings is not None:
                    warnings.append(f"{rel or '/'}: cannot list ({exc.strerror})")
                continue
            try:
                with os.scandir(dfd) as it:
                    names = list(it)
                for de in names:
                    count += 1
                    if count > self.max_entries:
                        raise LimitExceeded(
                            f"{self.where}: more than {self.max_entries} entries (max_entries)"
                        )
                    path = f"{rel}/{de.name}"
                    try:
                        st = os.stat(de.name, dir_fd=dfd, follow_symlinks=False)
                    except OSError:
                        continue
                    mode = st.st_mode
                    link = None
                    if stat.S_ISDIR(mode):
                        kind = EntryKind.DIR
                        if path not in self.mounts and st.st_dev == self.root_dev:
                            stack.append((*parts, de.name))
                    elif stat.S_ISREG(mode):
                        kind = EntryKind.FILE
                    elif stat.S_ISLNK(mode):
                        kind = EntryKind.SYMLINK
                        try:
                            link = os.readlink(de.name, dir_fd=dfd)
                        except OSError:
                            continue
                    else:
                        continue
                    if path in self.mounts:
                        continue  # a bind-mounted file (/etc/hosts) or volume: not the image's
                    yield LiveEntry(
                        path=path,
                        kind=kind,
                        size=st.st_size,
                        mode=stat.S_IMODE(mode),
                        uid=st.st_uid,
                        gid=st.st_gid,
                        mtime=st.st_mtime,
                        ctime=st.st_ctime,
                        link_target=link,
                    )
            finally:
                os.close(dfd)

    def is_mounted_over(self, path: str) -> bool:
        return any(path == m or path.startswith(m + "/") for m in self.mounts)
