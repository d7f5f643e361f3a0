"""The layered filesystem view: one top-down pass over an image's layers.

Layers are read once, TOP layer first, as tar streams. The first time a path is seen it is
final; whiteouts (`.wh.NAME`) and opaque directories (`.wh..wh..opq`) hide entries of LOWER
layers only. Every final regular file is offered to the visitors that want it, with a bounded
stream of its bytes. A hardlink whose target is in a lower layer is served later in the same
pass, when the first lower layer holding the target is read. Requests that cannot be served in
the pass (a symlinked path such as /etc/os-release -> ../usr/lib/os-release, a hardlink whose
target came earlier in the same layer) are served afterwards by re-reading only the layers
that hold the targets. Visitors that opt in (`wants_hidden`, `visit_hidden`) also get the
regular files upper layers deleted or replaced, from the same streams.

Hostile input is data: names are normalized and an entry escaping the root (`..`, absolute
paths) rejects the image (InputError); symlinks and hardlinks are resolved inside the image
only; device files and fifos are ignored; entry count, file size, total uncompressed size
and layer count are bounded (LimitExceeded).
"""

from __future__ import annotations

import io
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, cast

from seawall.core.errors import InputError, LimitExceeded
from seawall.image.base import (
    EntryKind,
    FileEntry,
    FileVisitor,
    Hidden,
    HiddenFileVisitor,
    HiddenHow,
    ImageSource,
    LayerInfo,
    Limits,
)
from seawall.image.rootfs import DirSource
from seawall.image.streams import (
    CHUNK,
    NAME_ERRORS,
    TAR_ERRORS,
    CountingReader,
    SafeTarInfo,
    SizeBudget,
    drain,
    inside,
)

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
SPOOL_IN_MEMORY = 8 * 1024 * 1024  # several visitors want one file: spool it (memory, then disk)
MAX_LINK_WARNINGS = 20  # dangling hardlinks named one by one; the rest counted


def normalize(name: str, what: str = "entry") -> str:
    """An archive name as an absolute normalized path; InputError if it escapes the root."""
    if (name and name[0] not in "./" and "//" not in name and "/./" not in name and "/../" not in name
            and not name.endswith(("/.", "/..")) and "\x00" not in name):
        return "/" + name.rstrip("/")  # the common case: nothing to normalize
    if "\x00" in name:
        raise InputError(f"{what}: NUL byte in path {name!r}")
    if name.startswith("/"):
        raise InputError(f"{what}: absolute path {name[:200]!r} in a layer (refusing the image)")
    cleaned = inside(name)
    if cleaned is None:
        raise InputError(f"{what}: path {name[:200]!r} escapes the image root (refusing the image)")
    return "/" + cleaned


def _parent(path: str) -> str:
    head = path.rsplit("/", 1)[0]
    return head or "/"


def _ancestors(path: str) -> Iterator[str]:
    """Proper ancestors of an absolute path, including "/"."""
    idx = len(path)
    while True:
        idx = path.rfind("/", 0, idx)
        if idx < 0:
            return
        yield path[:idx] or "/"
        if idx == 0:
            return


@dataclass(slots=True)
class FileIndex:
    """Every final path of the image -> its FileEntry (directories included)."""

    entries: dict[str, FileEntry] = field(default_factory=dict)
    layers: list[LayerInfo] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    max_symlink_depth: int = 40
    # hardlink path -> (index of the layer holding its bytes, member name there), for hardlinks
    # whose target is in a lower layer
    link_sources: dict[str, tuple[int, str]] = field(default_factory=dict)
    # dir: only, for names that are not UTF-8: the indexed path -> the path as the OS names it
    os_paths: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, path: object) -> bool:
        return path in self.entries

    def __iter__(self) -> Iterator[FileEntry]:
        return iter(self.entries.values())

    def __getitem__(self, path: str) -> FileEntry:
        return self.entries[path]

    def get(self, path: str) -> FileEntry | None:
        return self.entries.get(path)

    def resolve_path(self, path: str, follow_final: bool = True) -> str | None:
        """The real path of `path` with symlinks resolved INSIDE the image.

        Absolute targets are re-rooted at the image root, `..` is clamped at the root; None if
        a component is missing or the symlink depth limit is exceeded.
        """
        todo = [p for p in path.split("/") if p not in ("", ".")]
        todo.reverse()  # a stack: next component last
        resolved: list[str] = []
        hops = 0
        while todo:
            comp = todo.pop()
            if comp == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/" + "/".join([*resolved, comp])
            entry = self.entries.get(candidate)
            if entry is not None and entry.kind == EntryKind.SYMLINK and (todo or follow_final):
                hops += 1
                if hops > self.max_symlink_depth:
                    return None
                target = entry.link_target or ""
                if target.startswith("/"):
                    resolved = []
                todo.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
                continue
            if entry is None and not todo:
                return None
            if entry is not None and todo and entry.kind not in (EntryKind.DIR,):
                return None  # a file used as a directory
            resolved.append(comp)
        return "/" + "/".join(resolved)

    def resolve(self, path: str) -> FileEntry | None:
        """The entry `path` names after symlink resolution inside the image (None if dangling)."""
        real = self.resolve_path(path)
        return self.entries.get(real) if real is not None else None


@dataclass(slots=True)
class _Request:
    """Content wanted after the pass: `member` (normalized path) of `layer`, delivered as `entry`."""

    member: str
    entry: FileEntry
    visitors: list[FileVisitor]


@dataclass(slots=True)
class _LowerLink:
    """A final hardlink whose target is not in its own layer: served from the first lower layer
    that holds the target, later in the same pass (layers are read top-down)."""

    entry: FileEntry
    pos: int  # position of the hardlink's layer (0 = top)


# a delivery: visitor, entry, and why it is hidden (None: a final file)
_Call = tuple[FileVisitor, FileEntry, Hidden | None]


@dataclass(slots=True)
class _State:
    limits: Limits
    index: FileIndex
    whiteouts: dict[str, int] = field(default_factory=dict)  # path -> position of the hiding layer
    opaque: dict[str, int] = field(default_factory=dict)  # dir -> position of the layer that made it opaque
    count: int = 0
    symlink_requests: list[tuple[FileEntry, list[FileVisitor]]] = field(default_factory=list)
    layer_requests: dict[int, list[_Request]] = field(default_factory=dict)  # layer index -> requests
    top_down: list[LayerInfo] = field(default_factory=list)  # layers by position (0 = top)
    hidden_visitors: list[HiddenFileVisitor] = field(default_factory=list)
    lower_links: dict[str, list[_LowerLink]] = field(default_factory=dict)  # target path -> links


def _hider(state: _State, path: str, pos: int, parent_cache: dict[str, int]) -> int:
    """The position of the upper layer that deletes `path` (in the layer at position `pos`,
    0 = top) from the final view, or -1 when no upper layer does."""
    w = state.whiteouts.get(path)
    if w is not None and w < pos:
        return w
    parent = _parent(path)
    verdict = parent_cache.get(parent)
    if verdict is None:
        # upper layers' marks do not change while this layer is read: cache per parent dir
        verdict = parent_cache[parent] = _hider_dir(state, parent, pos)
    return verdict


def _hider_dir(state: _State, parent: str, pos: int) -> int:
    """The position of the upper layer that hides everything below `parent` (-1: none); when
    several do, the lowest of them (the first to hide it)."""
    found = -1
    last = len(state.top_down) - 1
    for anc in (parent, *_ancestors(parent)) if parent != "/" else ("/",):
        for marks in (state.whiteouts, state.opaque):
            p = marks.get(anc)
            if p is not None and found < p < pos:
                found = p
        final = state.index.entries.get(anc)
        if final is not None and final.kind is not EntryKind.DIR and final.layer is not None:
            p = last - final.layer.index  # an upper layer made the ancestor a non-directory
            if found < p < pos:
                found = p
    return found


def _deliver(visitors: list[FileVisitor], entry: FileEntry, content: IO[bytes]) -> None:
    if len(visitors) == 1:
        visitors[0].visit(entry, content)
        return
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        shutil.copyfileobj(content, spool, CHUNK)
        for v in visitors:
            spool.seek(0)
            v.visit(entry, spool)


def _call(call: _Call, content: IO[bytes]) -> None:
    visitor, entry, hidden = call
    if hidden is None:
        visitor.visit(entry, content)
    else:
        visitor.visit_hidden(entry, content, hidden)  # type: ignore[attr-defined]


def _deliver_calls(calls: list[_Call], content: IO[bytes]) -> None:
    """One member's bytes to several (visitor, entry) pairs: final, hidden and hardlink views."""
    if len(calls) == 1:
        _call(calls[0], content)
        return
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        shutil.copyfileobj(content, spool, CHUNK)
        for call in calls:
            spool.seek(0)
            _call(call, spool)


def _take_links(state: _State, path: str, pos: int) -> list[_LowerLink]:
    """Pending hardlinks of UPPER layers whose target is `path`."""
    links = state.lower_links.pop(path, None)
    if not links:
        return []
    same = [link for link in links if link.pos >= pos]  # a target later in the link's own layer
    if same:
        state.lower_links[path] = same
    return [link for link in links if link.pos < pos]


def _serve_links(state: _State, links: list[_LowerLink], layer: LayerInfo, member: str, size: int,
                 visitors: Sequence[FileVisitor]) -> list[_Call]:
    """The hardlinks now know their bytes (`member` of `layer`): fix their size in the index and
    say which visitors want them."""
    calls: list[_Call] = []
    index = state.index
    for link in links:
        old = link.entry
        entry = FileEntry(path=old.path, kind=old.kind, size=size, mode=old.mode, layer=old.layer,
                          link_target=old.link_target, uid=old.uid, gid=old.gid)
        if index.entries.get(old.path) is old:
            index.entries[old.path] = entry
        index.link_sources[old.path] = (layer.index, member)
        calls.extend((v, entry, None) for v in visitors if v.wants(entry))
    return calls


def _check_count(state: _State) -> None:
    state.count += 1
    if state.count > state.limits.max_entries:
        raise LimitExceeded(f"image has more than {state.limits.max_entries} entries "
                            "(max_entries, --max-entries)")


def _too_big(size: int, path: str, limits: Limits, index: FileIndex) -> bool:
    """A file over max_file_size stays in the index but is read by no visitor (a warning says so):
    one large model or binary must not stop the scan, nor be read whole."""
    if size <= limits.max_file_size:
        return False
    index.warnings.append(f"{path}: file of {size} bytes is over the limit of {limits.max_file_size} "
                          "(max_file_size, --max-file-size); not read")
    return True


def _open_tar(stream: IO[bytes], what: str) -> tarfile.TarFile:
    try:
        return tarfile.open(fileobj=stream, mode="r|", tarinfo=SafeTarInfo, errors=NAME_ERRORS)
    except TAR_ERRORS as exc:
        raise InputError(f"{what}: not a tar stream ({type(exc).__name__}: {exc})") from None


def _members(tf: tarfile.TarFile, what: str) -> Iterator[tarfile.TarInfo]:
    """The members of a tar stream; malformed headers become InputError (not the visitors' errors)."""
    members = cast(list[tarfile.TarInfo], tf.members)  # type: ignore[attr-defined]
    while True:
        try:
            member = tf.next()
        except TAR_ERRORS as exc:
            raise InputError(f"{what}: corrupt tar stream ({type(exc).__name__}: {str(exc)[:200]})") from None
        if member is None:
            return
        members.clear()  # tarfile keeps every header it read: memory would grow with the entries
        yield member


def _layer_stream(source: ImageSource, layer: LayerInfo, what: str, budget: SizeBudget) -> IO[bytes]:
    """The layer's uncompressed tar, every byte charged to `budget`."""
    stream = source.open_layer(layer)
    raw = getattr(stream, "raw", None)
    if isinstance(raw, CountingReader) and raw.budget is None:
        raw.budget = budget  # our own decompressed stream: charge it directly
        return stream
    return io.BufferedReader(CountingReader(stream, budget, what, [stream]), CHUNK)


def _walk_layer(source: ImageSource, layer: LayerInfo, pos: int, state: _State,
                visitors: Sequence[FileVisitor], budget: SizeBudget) -> None:
    """One layer of the top-down pass (`pos` 0 = the top layer): every member in turn."""
    what = f"layer {layer.index} ({layer.digest})"
    layer_limit = state.limits.layer_limit(layer.size)
    if layer_limit is not None:
        budget = SizeBudget(layer_limit, budget, f"{what} holds more than {layer_limit} uncompressed bytes: "
                            f"over {state.limits.max_layer_ratio} times its compressed size of {layer.size} "
                            "(max_layer_ratio, --max-layer-ratio); refusing a decompression bomb")
    counted = _layer_stream(source, layer, what, budget)
    try:
        tf = _open_tar(counted, what)
        one_layer = _LayerPass(state, layer, pos, visitors, tf, what)
        try:
            for member in _members(tf, what):
                one_layer.member(member)
        except tarfile.TarError as exc:
            raise InputError(f"{what}: corrupt tar stream ({exc})") from None
        except EOFError as exc:
            raise InputError(f"{what}: truncated layer ({exc})") from None
        drain(counted)  # the rest of the stream: lets the digest check at its end run
    finally:
        counted.close()


_KINDS = {tarfile.REGTYPE: EntryKind.FILE, tarfile.AREGTYPE: EntryKind.FILE, tarfile.CONTTYPE: EntryKind.FILE,
          tarfile.GNUTYPE_SPARSE: EntryKind.FILE, tarfile.DIRTYPE: EntryKind.DIR,
          tarfile.SYMTYPE: EntryKind.SYMLINK, tarfile.LNKTYPE: EntryKind.HARDLINK}


class _LayerFiles:
    """The regular files of one layer so far, and the hardlinks naming them: path -> (the regular
    file holding the bytes, its size). Sizes only for plain files (memory: one int per file)."""

    def __init__(self) -> None:
        self._sizes: dict[str, int] = {}
        self._links: dict[str, tuple[str, int]] = {}

    def add_file(self, path: str, size: int) -> None:
        self._sizes[path] = size
        self._links.pop(path, None)

    def add_link(self, path: str, named: tuple[str, int]) -> None:
        self._links[path] = named

    def get(self, path: str) -> tuple[str, int] | None:
        size = self._sizes.get(path)
        if size is not None and path not in self._links:
            return path, size
        return self._links.get(path)


class _LayerPass:
    """The members of one layer, in tar order: whiteouts recorded, hidden copies offered to the
    visitors that read them, final entries indexed and offered to the visitors that want them."""

    def __init__(self, state: _State, layer: LayerInfo, pos: int, visitors: Sequence[FileVisitor],
                 tf: tarfile.TarFile, what: str) -> None:
        self.state = state
        self.layer = layer
        self.pos = pos
        self.visitors = visitors
        self.tf = tf
        self.what = what
        self.files = _LayerFiles()
        self.symlinks: set[str] = set()
        self.through_ok: set[str] = set()  # parent dirs known not to pass through a symlink of this layer
        self.parent_cache: dict[str, int] = {}  # parent dir -> the upper layer hiding it (see _hider)

    def member(self, member: tarfile.TarInfo) -> None:
        _check_count(self.state)
        path = normalize(member.name, self.what)
        if path == "/":
            return
        if self.symlinks:
            self._refuse_through_symlink(path)
        if self._whiteout(path):
            return
        kind = _KINDS.get(member.type)
        if kind is None:
            return  # devices, fifos: ignored
        target = ""
        if kind is EntryKind.HARDLINK:
            target = normalize(member.linkname, f"{self.what}: hardlink {path}")
        self._track(path, kind, member.size)
        calls: list[_Call] | None = None
        if kind is not EntryKind.DIR and self.state.lower_links and path in self.state.lower_links:
            calls = _lower_link_target(self.state, path, self.pos, kind, member, self.layer, self.files,
                                       target, self.visitors)
        if self._hidden(path, kind, member, calls):
            return
        entry = self._index(path, kind, member, target)
        self._offer(entry, member, calls)

    def _refuse_through_symlink(self, path: str) -> None:
        """An entry written under a symlink of the same layer would land wherever the link points."""
        parent = _parent(path)
        if parent in self.through_ok:
            return
        for anc in (parent, *_ancestors(parent)):
            if anc in self.symlinks:
                raise InputError(f"{self.what}: entry {path} is written through the symlink {anc} "
                                 "(refusing the image)")
        self.through_ok.add(parent)

    def _whiteout(self, path: str) -> bool:
        """Record a whiteout or opaque marker (they hide LOWER layers only); True if it was one."""
        parent, _, base = path.rpartition("/")
        if not base.startswith(WHITEOUT):
            return False
        parent = parent or "/"
        if base == OPAQUE:
            self.state.opaque.setdefault(parent, self.pos)
        elif not base.startswith(WHITEOUT + WHITEOUT):
            self.state.whiteouts.setdefault(parent.rstrip("/") + "/" + base[len(WHITEOUT):], self.pos)
        return True

    def _track(self, path: str, kind: EntryKind, size: int) -> None:
        """What this layer holds so far: regular files (for hardlinks) and symlinks."""
        if kind is EntryKind.FILE:
            self.files.add_file(path, size)
        elif kind is EntryKind.SYMLINK:
            self.symlinks.add(path)
            self.through_ok.clear()
        if kind is not EntryKind.SYMLINK and self.symlinks:
            self.symlinks.discard(path)  # replaced later in the same layer

    def _hidden(self, path: str, kind: EntryKind, member: tarfile.TarInfo, calls: list[_Call] | None) -> bool:
        """True when an upper layer deleted or replaced `path`: not final, though its bytes are here
        (offered to the visitors that read hidden files, and to hardlinks of upper layers)."""
        state = self.state
        hider = _hider(state, path, self.pos, self.parent_cache)
        existing = state.index.entries.get(path) if hider < 0 else None
        if hider < 0 and (existing is None or existing.layer is self.layer):
            return False
        if kind is EntryKind.FILE and state.hidden_visitors:
            if hider >= 0:
                hidden = Hidden(HiddenHow.DELETED, state.top_down[hider])
            else:
                assert existing is not None and existing.layer is not None
                hidden = Hidden(HiddenHow.REPLACED, existing.layer)
            entry = FileEntry(path=path, kind=kind, size=member.size, mode=stat.S_IMODE(member.mode),
                              layer=self.layer, uid=member.uid, gid=member.gid)
            for hv in state.hidden_visitors:
                if hv.wants(entry) and not _too_big(member.size, path, state.limits, state.index):
                    calls = calls or []
                    calls.append((hv, entry, hidden))
        if calls:
            f = self.tf.extractfile(member)
            if f is not None:
                _deliver_calls(calls, f)
        return True

    def _index(self, path: str, kind: EntryKind, member: tarfile.TarInfo, target: str) -> FileEntry:
        """The final entry of `path`, in the index (a hardlink gets the size of the file it names)."""
        link_target: str | None = None
        size = member.size
        if kind is EntryKind.SYMLINK:
            link_target = member.linkname
            size = len(member.linkname)
        elif kind is EntryKind.HARDLINK:
            link_target = target
            named = self.files.get(target)
            if named is not None:
                self.files.add_link(path, named)
            size = named[1] if named is not None else 0
        entry = FileEntry(path=path, kind=kind, size=size, mode=stat.S_IMODE(member.mode), layer=self.layer,
                          link_target=link_target, uid=member.uid, gid=member.gid)
        self.state.index.entries[path] = entry
        return entry

    def _offer(self, entry: FileEntry, member: tarfile.TarInfo, calls: list[_Call] | None) -> None:
        """Give the final entry to the visitors that want it: a file now, from the stream; a symlink
        or a hardlink after the pass, when what it names is known."""
        state, kind = self.state, entry.kind
        if kind is EntryKind.HARDLINK and self.files.get(entry.link_target or "") is None:
            # the target is in a lower layer: served when the pass reaches it
            state.lower_links.setdefault(entry.link_target or "", []).append(_LowerLink(entry, self.pos))
            return
        if kind is EntryKind.DIR or not self.visitors:
            return
        wanting = [v for v in self.visitors if v.wants(entry)]
        if wanting and _too_big(entry.size, entry.path, state.limits, state.index):
            wanting = []
        if kind is EntryKind.FILE:
            calls = [*(calls or []), *((v, entry, None) for v in wanting)]
            if calls:
                f = self.tf.extractfile(member)
                if f is not None:
                    _deliver_calls(calls, f)
        elif not wanting:
            return
        elif kind is EntryKind.SYMLINK:
            state.symlink_requests.append((entry, wanting))
        else:
            named = self.files.get(entry.link_target or "")
            assert named is not None
            state.layer_requests.setdefault(self.layer.index, []).append(_Request(named[0], entry, wanting))


def _lower_link_target(state: _State, path: str, pos: int, kind: EntryKind, member: tarfile.TarInfo,
                       layer: LayerInfo, layer_files: _LayerFiles, hardlink_target: str,
                       visitors: Sequence[FileVisitor]) -> list[_Call] | None:
    """`path` is the target of hardlinks in upper layers: this entry is what they name."""
    links = _take_links(state, path, pos)
    if not links:
        return None
    if kind == EntryKind.FILE:
        return _serve_links(state, links, layer, path, member.size, visitors) or None
    if kind == EntryKind.HARDLINK:
        named = layer_files.get(hardlink_target)
        if named is None:  # a chain down to a still lower layer: keep looking there
            for link in links:
                link.pos = pos
            state.lower_links.setdefault(hardlink_target, []).extend(links)
            return None
        # the bytes came earlier in this layer: a second read of this layer (rare)
        for call in _serve_links(state, links, layer, named[0], named[1], visitors):
            visitor, entry, _ = call
            state.layer_requests.setdefault(layer.index, []).append(_Request(named[0], entry, [visitor]))
        return None
    for link in links:
        state.index.warnings.append(f"{link.entry.path}: hardlink to {path}, which is not a regular file "
                                    "in a lower layer; ignored")
    return None


def _serve_layer_requests(source: ImageSource, layer: LayerInfo, requests: list[_Request]) -> None:
    by_member: dict[str, list[_Request]] = {}
    for r in requests:
        by_member.setdefault(r.member, []).append(r)
    what = f"layer {layer.index} ({layer.digest})"
    stream = source.open_layer(layer)
    try:
        tf = _open_tar(stream, what)
        for member in _members(tf, what):
            if not member.isreg():
                continue
            path = normalize(member.name, what)
            reqs = by_member.pop(path, None)
            if reqs is None:
                continue
            f = tf.extractfile(member)
            if f is None:
                continue
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
                shutil.copyfileobj(f, spool, CHUNK)
                for r in reqs:
                    for v in r.visitors:
                        spool.seek(0)
                        v.visit(r.entry, spool)
            if not by_member:
                break
    except tarfile.TarError as exc:
        raise InputError(f"{what}: corrupt tar stream ({exc})") from None
    finally:
        stream.close()


def _plan_symlink(state: _State, link: FileEntry, visitors: list[FileVisitor]) -> None:
    index = state.index
    real = index.resolve_path(link.path)
    target = index.entries.get(real) if real is not None else None
    if target is None or real is None:
        index.warnings.append(f"{link.path}: symlink to {link.link_target} does not resolve inside the image")
        return
    if target.kind not in (EntryKind.FILE, EntryKind.HARDLINK):
        return
    layer_index, member = _bytes_of(index, real, target)
    delivered = FileEntry(path=link.path, kind=EntryKind.FILE, size=target.size, mode=target.mode,
                          layer=target.layer, link_target=real, uid=target.uid, gid=target.gid)
    state.layer_requests.setdefault(layer_index, []).append(_Request(member, delivered, visitors))


def _bytes_of(index: FileIndex, real: str, entry: FileEntry) -> tuple[int, str]:
    """(layer index, member name) holding the bytes of the final file or hardlink `real`."""
    if entry.kind == EntryKind.HARDLINK:
        lower = index.link_sources.get(real)
        if lower is not None:
            return lower
        return (entry.layer.index if entry.layer is not None else -1), entry.link_target or real
    return (entry.layer.index if entry.layer is not None else -1), real


def walk(source: ImageSource, visitors: Sequence[FileVisitor], limits: Limits) -> FileIndex:
    """Read `source` once, top layer first; feed `visitors`; return the final file index."""
    if isinstance(source, DirSource):
        from seawall.image.dirwalk import walk_dir  # (it builds on this module)

        return walk_dir(source, visitors, limits)
    layers = source.layers()
    if len(layers) > limits.max_layers:
        raise LimitExceeded(f"image has {len(layers)} layers, more than the limit of {limits.max_layers} "
                            "(max_layers)")
    state = _State(limits=limits,
                   index=FileIndex(layers=list(layers), max_symlink_depth=limits.max_symlink_depth),
                   top_down=list(reversed(layers)),
                   hidden_visitors=[cast(HiddenFileVisitor, v) for v in visitors
                                    if getattr(v, "wants_hidden", False)])
    budget = SizeBudget(limits.max_total_size)
    for pos, layer in enumerate(state.top_down):
        _walk_layer(source, layer, pos, state, visitors, budget)
    dangling = [(lower.entry.path, target) for target, pending in state.lower_links.items()
                for lower in pending]
    for path, target in dangling[:MAX_LINK_WARNINGS]:
        state.index.warnings.append(f"{path}: hardlink to {target}, which no lower layer holds; ignored")
    if len(dangling) > MAX_LINK_WARNINGS:
        state.index.warnings.append(f"{len(dangling) - MAX_LINK_WARNINGS} more hardlinks to files no lower "
                                    "layer holds; ignored")
    for link, wanting in state.symlink_requests:
        _plan_symlink(state, link, wanting)
    by_index = {layer.index: layer for layer in layers}
    for layer_index in sorted(state.layer_requests, reverse=True):
        _serve_layer_requests(source, by_index[layer_index], state.layer_requests[layer_index])
    return state.index
