"""Read configuration files into plain Python values that remember their source lines.

YAML and JSON go through libyaml's C parser (`CSafeLoader`): its events carry start marks, it is
about an order of magnitude faster than ruamel's round-trip loader, and nothing is ever constructed
from tags (safe: no `!!python/...`). One pass over the events builds `LDict` / `LList` (dict / list
subclasses that carry the line of every key and item), so checks read ordinary dicts and ask
`d.ln("key")` for a line.

Hostile input is bounded: a size limit per file, and an expansion budget that refuses
alias-heavy ("billion laughs") and recursive documents before anything is expanded.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import ScalarNode, SequenceNode

from seawall.core.errors import InputError, LimitExceeded

try:  # the C loader is what makes this fast; fall back to the pure-Python one if absent
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

_PLAIN = "!seawall/plain"
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
# first characters with which a plain scalar can be anything but a string (YAML 1.1 resolvers)
_IMPLICIT_FIRST = frozenset(k for k in yaml.resolver.Resolver.yaml_implicit_resolvers if k is not None)


class _Loader(_BaseLoader):
    """Defers plain-scalar resolution to `convert`, which skips it for the usual plain words."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP


MAX_FILE_BYTES = 20 * 1024 * 1024
# expanded nodes allowed per document, as a multiple of the nodes actually written (+ a floor)
EXPANSION_FACTOR = 10
EXPANSION_FLOOR = 10_000
MAX_DEPTH = 200

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_constructor = yaml.constructor.SafeConstructor()


class LDict(dict[str, Any]):
    """A mapping that knows the line of each of its keys (1-based) and its own start line."""

    __slots__ = ("key_lines", "line")

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}

    @property
    def first_line(self) -> int:
        """Line of the first key (a JSON object's `{` often sits alone on the line before)."""
        return min(self.key_lines.values()) if self.key_lines else self.line

    def ln(self, key: str | None = None) -> int:
        """Line of `key` if present, else the mapping's own line."""
        if key is None:
            return self.line
        return self.key_lines.get(key, self.line)


class LList(list[Any]):
    """A sequence that knows the line of each item and its own start line."""

    __slots__ = ("item_lines", "line")

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []

    def ln(self, index: int | None = None) -> int:
        if index is None or index >= len(self.item_lines):
            return self.line
        return self.item_lines[index]


def line_of(value: Any, key: str | None = None, default: int = 0) -> int:
    """Line of `value[key]` (or of `value`) when `value` tracks lines."""
    if isinstance(value, LDict):
        return value.ln(key)
    if isinstance(value, LList):
        return value.line
    return default


@dataclass(slots=True)
class Document:
    """One parsed document: `data` plus where it came from."""

    path: str
    data: Any
    line: int = 1
    index: int = 0
    fmt: str = "yaml"  # yaml | json | text
    text: str | None = None  # raw text for line-oriented formats (Dockerfile, flags)
    source: str | None = None  # Helm `# Source:` template the document was rendered from
    # the Kubernetes objects of the document, built once for every module that reads them
    # (k8s_common.objects), so that what one module learns of an object (its resource, its
    # suppressions) the next one does not compute again
    objects: Any = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- building

_RESOLVER = yaml.resolver.Resolver()


# --------------------------------------------------------------------------- files

def _event_scalar(ev: Any) -> Any:
    tag = ev.tag
    value = ev.value
    if tag is None or tag == "!":
        if not ev.implicit[0]:
            return value  # quoted: always a string
        if value and value[0] not in _IMPLICIT_FIRST:
            return value
        tag = _RESOLVER.resolve(ScalarNode, value, (True, False))
    if tag in (_BOOL, _INT, _NULL, _FLOAT):
        try:
            node = ScalarNode(tag, value)
            return _constructor.yaml_constructors[tag](_constructor, node)
        except (ValueError, yaml.YAMLError):
            return value
    return value  # str, timestamps, binary and unknown tags stay text (never constructed)


class _Frame:
    __slots__ = ("anchor", "container", "is_map", "key", "key_line", "merges", "size")

    def __init__(self, container: LDict | LList, anchor: str | None, is_map: bool) -> None:
        self.container = container
        self.anchor = anchor
        self.is_map = is_map
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.size = 1
        self.merges: list[Any] = []


_NO_KEY = object()
# plain scalar text -> its value (an int, float, bool, None or the text): immutable, so shared
_RESOLVED: dict[str, Any] = {}


def _events_to_documents(loader: Any) -> Iterator[tuple[Any, int]]:
    """Build LDict/LList trees straight from libyaml events (no node graph, no second walk), one
    document at a time: a document is yielded as soon as it ends, so a file of many documents is
    never held whole (memory: the largest document, not the file).

    Aliases share the anchored object (nothing is copied); each value carries the size it would
    have if aliases were expanded, so a "billion laughs" document is refused from its arithmetic
    before anything downstream walks it. This loop runs once per YAML event (~100,000 for 600
    manifests), so the common cases (a plain word, a mapping key) take the shortest path."""
    get = loader.get_event
    stack: list[_Frame] = []
    parent: _Frame | None = None  # stack[-1]
    anchors: dict[str, tuple[Any, int]] = {}
    open_anchors: set[str] = set()
    written = 0
    doc_value: Any = None
    doc_line = 0
    while True:
        ev = get()
        cls = type(ev)
        if cls is ScalarEvent:
            value: Any = ev.value
            if ev.tag is not None:
                value = _event_scalar(ev)
            elif ev.implicit[0] and (not value or value[0] in _IMPLICIT_FIRST):
                # a plain scalar that may be a number, bool or null: the same few ("8080", "1",
                # "true") recur across files, and resolving one runs the YAML 1.1 regexes
                resolved = _RESOLVED.get(value, _NO_KEY)
                if resolved is _NO_KEY:
                    resolved = _event_scalar(ev)
                    if len(value) <= 32 and len(_RESOLVED) < 4096:
                        _RESOLVED[value] = resolved
                value = resolved
            size = 1
            line = ev.start_mark.line + 1
            if ev.anchor:
                anchors[ev.anchor] = (value, 1)
            if parent is not None and parent.is_map and parent.key is _NO_KEY:  # a mapping key
                written += 1
                parent.size += 1
                if parent.size > EXPANSION_FLOOR and parent.size > EXPANSION_FACTOR * written:
                    raise LimitExceeded(f"aliases expand to more than {parent.size} nodes from "
                                        f"{written} written (YAML bomb?); refusing to expand")
                if value == "<<" and ev.implicit[0]:
                    parent.key = _MERGE
                else:
                    parent.key = value if isinstance(value, str) else str(value)
                parent.key_line = line
                continue
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            line = ev.start_mark.line + 1
            if parent is None:
                doc_line = line
            if len(stack) >= MAX_DEPTH:
                raise LimitExceeded(f"nesting deeper than {MAX_DEPTH} levels")
            is_map = cls is MappingStartEvent
            parent = _Frame(LDict(line) if is_map else LList(line), ev.anchor, is_map)
            stack.append(parent)
            if ev.anchor:
                open_anchors.add(ev.anchor)
            written += 1
            continue
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            frame = stack.pop()
            parent = stack[-1] if stack else None
            value, size = frame.container, frame.size
            if frame.merges and isinstance(value, LDict):
                for merged in frame.merges:
                    for src in merged if isinstance(merged, LList) else [merged]:
                        if isinstance(src, LDict):
                            for k, v in src.items():
                                if k not in value:
                                    value[k] = v
                                    value.key_lines[k] = src.key_lines.get(k, value.line)
            line = value.line
            if frame.anchor:
                open_anchors.discard(frame.anchor)
                anchors[frame.anchor] = (value, size)
        elif cls is AliasEvent:
            name = ev.anchor
            if name in open_anchors:
                raise LimitExceeded("recursive alias (a document that contains itself)")
            if name not in anchors:
                raise InputError(f"undefined alias *{name} at line {ev.start_mark.line + 1}")
            value, size = anchors[name]
            line = ev.start_mark.line + 1
        elif cls is DocumentStartEvent:
            anchors.clear()
            written = 0
            doc_value, doc_line = None, ev.end_mark.line + 1
            continue
        elif cls is DocumentEndEvent:
            if doc_value is not None:
                yield doc_value, doc_line
                doc_value = None
            continue
        elif ev is None or cls is StreamEndEvent:
            return
        else:
            continue
        written += 1
        if parent is None:  # the document's root
            limit = max(EXPANSION_FLOOR, EXPANSION_FACTOR * written)
            if size > limit:
                raise LimitExceeded(f"aliases expand to {size} nodes from {written} written "
                                    "(YAML bomb?); refusing to expand")
            doc_value = value
            if cls is ScalarEvent:
                doc_line = line
            continue
        parent.size += size
        if parent.size > EXPANSION_FLOOR and parent.size > EXPANSION_FACTOR * written:
            raise LimitExceeded(f"aliases expand to more than {parent.size} nodes from {written} "
                                "written (YAML bomb?); refusing to expand")
        container: Any = parent.container  # LList when not is_map, else LDict
        if not parent.is_map:
            container.append(value)
            container.item_lines.append(line)
        elif parent.key is _NO_KEY:  # a key that is not a scalar (an alias, a collection)
            parent.key = value if isinstance(value, str) else str(value)
            parent.key_line = line
        elif parent.key is _MERGE:
            parent.merges.append(value)
            parent.key = _NO_KEY
        else:
            container[parent.key] = value
            container.key_lines[parent.key] = parent.key_line
            parent.key = _NO_KEY


class _Stream:
    """What libyaml reads from: a binary file, read in chunks, bounded to `max_bytes`, that notes
    Helm's `# Source:` comments (with their lines) as the parser pulls the text through it, and
    turns raw tabs of JSON into spaces (libyaml refuses tabs as indentation; in valid JSON a raw
    tab can only be whitespace)."""

    def __init__(self, raw: BinaryIO, max_bytes: int, json: bool) -> None:
        self.raw = raw
        self.max_bytes = max_bytes
        self.json = json
        self.consumed = 0
        self.lines = 0  # newlines before the unfinished line
        self.tail = b""  # the unfinished line (a `# Source:` comment may span two chunks)
        self.sources: list[tuple[int, str]] = []

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size if size > 0 else 65536)
        self.consumed += len(data)
        if self.consumed > self.max_bytes:
            raise LimitExceeded(f"file grew over the {self.max_bytes}-byte limit while reading")
        if self.json and b"\t" in data:
            data = data.replace(b"\t", b" ")
        if b"# Source:" in data or b"# Source:" in self.tail + data[:16]:
            self._sources(data)
        else:
            cut = data.rfind(b"\n")
            if cut < 0:
                self.tail = (self.tail + data)[-4096:]
            else:
                self.lines += self.tail.count(b"\n") + data.count(b"\n", 0, cut + 1)
                self.tail = data[cut + 1:][-4096:]
        return data

    def _sources(self, data: bytes) -> None:
        text = self.tail + data
        cut = text.rfind(b"\n")
        complete, self.tail = (text[:cut + 1], text[cut + 1:]) if cut >= 0 else (b"", text)
        for n, line in enumerate(complete.split(b"\n")[:-1]):
            if line.startswith(b"# Source: "):
                self.sources.append((self.lines + n + 1, line[10:].decode("utf-8", "replace").strip()))
        self.lines += complete.count(b"\n")


def iter_structured(raw: BinaryIO, path: str, fmt: str = "yaml",
                    max_bytes: int = MAX_FILE_BYTES) -> Iterator[Document]:
    """Documents of a YAML or JSON stream, one at a time, each with its line and Helm `# Source:`.

    Raises InputError / LimitExceeded with the reason (and the line) at the first thing that cannot
    be read; the documents before it have been yielded already."""
    stream = _Stream(raw, max_bytes, fmt == "json")
    try:
        loader = _Loader(stream)
    except yaml.YAMLError as exc:
        raise InputError(f"invalid {fmt.upper()}: {str(exc).splitlines()[0]}") from None
    source: str | None = None
    pending = 0  # sources noted so far that belong to documents already yielded (or this one)
    try:
        for index, (data, start) in enumerate(_events_to_documents(loader)):
            while pending < len(stream.sources) and stream.sources[pending][0] <= start:
                source = stream.sources[pending][1]
                pending += 1
            yield Document(path=path, data=data, line=start, index=index, fmt=fmt, source=source)
    except yaml.reader.ReaderError as exc:
        raise InputError(f"not valid UTF-8 (byte {exc.position})") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"invalid {fmt.upper()}{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid {fmt.upper()}: {str(exc).splitlines()[0]}") from None
    finally:
        loader.dispose()


def parse_structured(text: str, path: str, fmt: str = "yaml") -> list[Document]:
    """Parse YAML or JSON text (any number of documents) into line-tracking documents."""
    data = text.encode("utf-8")
    return list(iter_structured(io.BytesIO(data), path, fmt, max_bytes=len(data)))


def _open_within(path: Path, max_bytes: int) -> BinaryIO:
    """The file opened for reading when its size is within the bound (InputError/LimitExceeded
    with the reason otherwise)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}") from None
    if size > max_bytes:
        raise LimitExceeded(f"file is {size} bytes, over the {max_bytes}-byte limit")
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}") from None


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a file as UTF-8 within the size bound (errors are InputError with the reason)."""
    with _open_within(path, max_bytes) as fh:
        try:
            raw = fh.read(max_bytes + 1)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise LimitExceeded(f"file grew over the {max_bytes}-byte limit while reading")
    if b"\x00" in raw[:8192]:
        raise InputError("binary file (NUL bytes), not a configuration file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 (byte {exc.start})") from None
    return text.removeprefix("\ufeff")


DOCKERFILE_NAMES = re.compile(r"^(Dockerfile|Containerfile)(\..+)?$|.+\.(dockerfile|Dockerfile)$")
STRUCTURED_SUFFIXES = {".yaml", ".yml", ".json"}
TEXT_SUFFIXES = {".conf", ".service", ".socket", ".flags", ".args", ".rules", ".txt", ".env", ""}


def classify_file(path: Path, text: str) -> str:
    """`yaml`, `json`, `dockerfile`, `text` (flags, unit files) or `skip`."""
    name = path.name
    if DOCKERFILE_NAMES.match(name):
        return "dockerfile"
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES and suffix:
        if _COMMAND_LINE.search(text):
            return "text"
        if suffix in (".txt", ".conf") and re.search(r"^(apiVersion|kind):", text, re.MULTILINE):
            return "yaml"
        return "skip"
    stripped = text.lstrip()
    if suffix == ".json" or (suffix not in STRUCTURED_SUFFIXES and stripped[:1] in ("{", "[")):
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if re.match(r"(?i)^(#[^\n]*\n|\s)*(ARG\s[^\n]*\n\s*)*FROM\s+\S", text):
        return "dockerfile"
    if _COMMAND_LINE.search(text):
        return "text"
    if re.search(r"^(apiVersion|kind):", text, re.MULTILINE) and re.search(r"^kind:", text, re.MULTILINE):
        return "yaml"
    return "skip"


_COMMAND_LINE = re.compile(
    r"(kube-apiserver|kube-controller-manager|kube-scheduler|etcd|kubelet|dockerd)\S*\s+(--|-H\b|\$)")


def load_file(path: Path, display: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> list[Document]:
    """All documents in one file; raises InputError/LimitExceeded with the reason."""
    return list(iter_file(path, display, max_bytes))


def iter_file(path: Path, display: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> Iterator[Document]:
    """The documents of one file, one at a time. YAML and JSON files are streamed through the
    parser (memory: the largest document, not the file); Dockerfiles and flag/unit files, which are
    line-oriented and small, are read whole. Raises InputError/LimitExceeded with the reason, after
    the documents before the problem."""
    shown = display or str(path)
    suffix = path.suffix.lower()
    if suffix not in STRUCTURED_SUFFIXES or DOCKERFILE_NAMES.match(path.name):
        text = read_text(path, max_bytes)
        kind = classify_file(path, text)
        if kind in ("yaml", "json"):
            yield from iter_structured(io.BytesIO(text.encode("utf-8")), shown, kind, max_bytes=len(text) * 4)
        elif kind in ("dockerfile", "text"):
            yield Document(path=shown, data=None, line=1, fmt=kind, text=text)
        return
    with _open_within(path, max_bytes) as fh:
        try:
            head = fh.read(8192)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}") from None
        if b"\x00" in head:
            raise InputError("binary file (NUL bytes), not a configuration file")
        fh.seek(0)
        try:
            yield from iter_structured(fh, shown, "json" if suffix == ".json" else "yaml", max_bytes)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}") from None


def iter_files(paths: list[Path]) -> Iterator[tuple[Path, str]]:
    """Files under `paths` (recursively, sorted, never following symlinks out of a directory)."""
    for root in paths:
        if root.is_file():
            yield root, str(root)
            continue
        if not root.is_dir():
            raise InputError(f"{root}: no such file or directory")
        for path in _walk(root):
            yield Path(path), str(Path(path))


def _walk(root: Path) -> list[str]:
    """Regular files under `root`, in `sorted(root.rglob("*"))` order (by path components).

    Entries whose name starts with a dot (.git, .terraform, editor swap files) are skipped with
    everything under them; symlinks are neither followed nor read; unreadable directories are
    passed over (as rglob does). One scandir per directory: no stat per file."""
    found: list[tuple[tuple[str, ...], str]] = []
    stack: list[tuple[str | Path, tuple[str, ...]]] = [(root, ())]
    while stack:
        directory, rel = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except PermissionError:
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            parts = (*rel, name)
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, parts))
                    continue
                if entry.is_symlink() or not entry.is_file():
                    continue
            except OSError:
                continue
            found.append((parts, entry.path))
    found.sort(key=itemgetter(0))
    return [path for _, path in found]
