"""The walk of a `dir:` root filesystem (no layers): every entry indexed, never following a
symlink out of the root, files offered to the visitors that want them.

Names that are not UTF-8 are indexed as text with their bad bytes as `\\xNN` (as tar member names
are, see seawall.image.streams.NAME_ERRORS); `FileIndex.os_paths` keeps the name the OS knows for
those, to open them. A directory that cannot be listed or a file that cannot be read is a warning;
a root that cannot be listed at all is an InputError (an empty, clean result would be a lie).
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator, Sequence

from seawall.bounded import CappedReader
from seawall.core.errors import InputError
from seawall.image.base import EntryKind, FileEntry, FileVisitor, Limits
from seawall.image.fs import FileIndex, _check_count, _deliver, _State, _too_big
from seawall.image.rootfs import DirSource
from seawall.image.streams import CHUNK, SizeBudget

# a live host's kernel filesystems: mounted at the root, they are not part of the root filesystem
# (as in Trivy's rootfs scan); a plain directory of that name (an unpacked image) is walked
PSEUDO_FS_DIRS = frozenset({"proc", "sys", "dev"})


def display_name(name: str) -> str:
    """A name from the OS as valid text: bytes that are not UTF-8 (surrogates) as `\\xNN`."""
    if name.isascii():
        return name
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _listing(root: str, rel: str, index: FileIndex) -> Iterator[os.DirEntry[str]]:
    """The entries of one directory (`rel` as the OS names it); an error while listing ends that
    directory with a warning."""
    shown = display_name(rel)
    try:
        it = os.scandir(os.path.join(root, rel) if rel else root)
    except OSError as exc:
        if not rel:
            raise InputError(f"{root}: cannot list the root directory ({exc.strerror})") from None
        index.warnings.append(f"/{shown}: cannot list ({exc.strerror}); its files were not analyzed")
        return
    with it:
        while True:
            try:
                de = next(it)
            except StopIteration:
                return
            except OSError as exc:
                index.warnings.append(f"/{shown}: cannot list ({exc.strerror}); its files were not analyzed")
                return
            yield de


def _entry(de: os.DirEntry[str], path: str, index: FileIndex) -> FileEntry | None:
    """The index entry of one directory entry (None: a device, a fifo, or gone meanwhile)."""
    try:
        st = de.stat(follow_symlinks=False)
    except OSError as exc:
        index.warnings.append(f"{path}: cannot stat ({exc.strerror}); not analyzed")
        return None
    mode = st.st_mode
    link_target = None
    if stat.S_ISDIR(mode):
        kind = EntryKind.DIR
    elif stat.S_ISREG(mode):
        kind = EntryKind.FILE
    elif stat.S_ISLNK(mode):
        kind = EntryKind.SYMLINK
        try:
            link_target = display_name(os.readlink(de.path))
        except OSError:
            return None
    else:
        return None
    return FileEntry(path=path, kind=kind, size=st.st_size, mode=stat.S_IMODE(mode), layer=None,
                     link_target=link_target, uid=st.st_uid, gid=st.st_gid)


def walk_dir(source: DirSource, visitors: Sequence[FileVisitor], limits: Limits) -> FileIndex:
    state = _State(limits=limits, index=FileIndex(max_symlink_depth=limits.max_symlink_depth))
    index = state.index
    budget = SizeBudget(limits.max_total_size)
    root = str(source.root)
    stack = [""]  # directories to list, relative to the root, as the OS names them
    while stack:
        rel = stack.pop()
        for de in _listing(root, rel, index):
            _check_count(state)
            os_path = f"/{rel}/{de.name}" if rel else f"/{de.name}"
            path = display_name(os_path)
            if path != os_path:
                index.os_paths[path] = os_path
            entry = _entry(de, path, index)
            if entry is None:
                continue
            index.entries[path] = entry
            if entry.kind is EntryKind.DIR:
                if not (not rel and de.name in PSEUDO_FS_DIRS and os.path.ismount(de.path)):
                    stack.append(os_path[1:])
                continue
            wanting = [v for v in visitors if v.wants(entry)]
            if not wanting or (entry.kind is EntryKind.FILE and _too_big(entry.size, path, limits, index)):
                continue
            if entry.kind is EntryKind.SYMLINK:
                state.symlink_requests.append((entry, wanting))
                continue
            budget.charge(entry.size)
            deliver_dir_file(source, path, entry, wanting, index)
    for link, wanting in state.symlink_requests:
        _deliver_symlink(source, link, wanting, index)
    return index


def _deliver_symlink(source: DirSource, link: FileEntry, visitors: list[FileVisitor],
                     index: FileIndex) -> None:
    real = index.resolve_path(link.path)
    target = index.get(real) if real is not None else None
    if target is None or target.kind != EntryKind.FILE or real is None:
        index.warnings.append(f"{link.path}: symlink to {link.link_target} does not resolve to a file "
                              "inside the root")
        return
    delivered = FileEntry(path=link.path, kind=EntryKind.FILE, size=target.size, mode=target.mode,
                          layer=None, link_target=real, uid=target.uid, gid=target.gid)
    deliver_dir_file(source, real, delivered, visitors, index)


def deliver_dir_file(source: DirSource, path: str, entry: FileEntry, visitors: list[FileVisitor],
                     index: FileIndex) -> None:
    """The bytes of `path` (at most the size the walk saw) to `visitors`; a warning if unreadable."""
    try:
        f = source.open_file(index.os_paths.get(path, path))
    except (OSError, InputError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        index.warnings.append(f"{path}: cannot read ({reason}); not analyzed")
        return
    with f, io.BufferedReader(CappedReader(f, entry.size), CHUNK) as bounded:
        _deliver(visitors, entry, bounded)
