"""Read configuration files into plain Python values that remember their source lines.

YAML and JSON go through libyaml's C composer (`yaml.compose_all` with `CSafeLoader`): it gives
every node a start mark, is about an order of magnitude faster than ruamel's round-trip loader,
and builds no Python objects from tags (safe: nothing is ever constructed from `!!python/...`).
The node graph is then converted into `LDict` / `LList` (dict / list subclasses that carry the
line of every key and item), so checks read ordinary dicts and ask `d.ln("key")` for a line.

Hostile input is bounded: a size limit per file, and an expansion budget that refuses
alias-heavy ("billion laughs") and recursive documents before anything is expanded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:  # the C loader is what makes this fast; fall back to the pure-Python one if absent
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

from seawall.core.errors import InputError, LimitExceeded

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


@dataclass(slots=True)
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- node conversion


def _expanded_size(root: Node, limit: int) -> int:
    """Nodes the document would have once aliases are expanded; raises past `limit` or on cycles."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node, depth: int) -> int:
        key = id(node)
        cached = memo.get(key)
        if cached is not None:
            return cached
        if depth > MAX_DEPTH:
            raise LimitExceeded(f"nesting deeper than {MAX_DEPTH} levels")
        if key in active:
            raise LimitExceeded("recursive alias (a document that contains itself)")
        total = 1
        if isinstance(node, MappingNode):
            active.add(key)
            for k, v in node.value:
                total += size(k, depth + 1) + size(v, depth + 1)
                if total > limit:
                    break
            active.discard(key)
        elif isinstance(node, SequenceNode):
            active.add(key)
            for item in node.value:
                total += size(item, depth + 1)
                if total > limit:
                    break
            active.discard(key)
        if total > limit:
            raise LimitExceeded(
                f"aliases expand to more than {limit} nodes (YAML bomb?); refusing to expand")
        memo[key] = total
        return total

    return size(root, 0)


def _count_nodes(root: Node) -> int:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for k, v in node.value:
                stack.append(k)
                stack.append(v)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return len(seen)


def _scalar(node: ScalarNode) -> Any:
    tag = node.tag
    if tag in (_BOOL, _INT, _NULL, _FLOAT):
        try:
            return _constructor.yaml_constructors[tag](_constructor, node)
        except (ValueError, yaml.YAMLError):
            return node.value
    return node.value  # str, timestamps, binary and unknown tags stay text (never constructed)


def convert(node: Node) -> Any:
    if isinstance(node, ScalarNode):
        return _scalar(node)
    line = node.start_mark.line + 1
    if isinstance(node, MappingNode):
        out = LDict(line)
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = convert(key_node)
            if not isinstance(key, str):
                key = str(key)
            out[key] = convert(value_node)
            out.key_lines[key] = key_node.start_mark.line + 1
        for merge in merges:  # YAML merge keys: explicit keys win
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for src in sources:
                value = convert(src)
                if isinstance(value, LDict):
                    for k, v in value.items():
                        if k not in out:
                            out[k] = v
                            out.key_lines[k] = value.key_lines.get(k, line)
        return out
    if isinstance(node, SequenceNode):
        seq = LList(line)
        for item in node.value:
            seq.append(convert(item))
            seq.item_lines.append(item.start_mark.line + 1)
        return seq
    return None


# --------------------------------------------------------------------------- files

_SOURCE_RE = re.compile(r"^# Source: (.+)$", re.MULTILINE)
_DOC_SEP_RE = re.compile(r"^---", re.MULTILINE)


def _helm_sources(text: str) -> list[tuple[int, str]]:
    """(line, template) of each `# Source:` comment Helm writes above rendered documents."""
    if "# Source:" not in text:
        return []
    out = []
    for m in _SOURCE_RE.finditer(text):
        out.append((text.count("\n", 0, m.start()) + 1, m.group(1).strip()))
    return out


def parse_structured(text: str, path: str, fmt: str = "yaml") -> list[Document]:
    """Parse YAML or JSON (any number of documents) into line-tracking documents."""
    if fmt == "json":
        # raw tabs can only be whitespace in valid JSON; libyaml refuses them as indentation
        text = text.replace("\t", " ")
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"invalid {fmt.upper()}{where}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"invalid {fmt.upper()}: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise LimitExceeded(f"nesting deeper than the parser allows in {fmt.upper()}") from None
    sources = _helm_sources(text)
    docs: list[Document] = []
    for index, node in enumerate(nodes):
        if node is None:
            continue
        written = _count_nodes(node)
        _expanded_size(node, max(EXPANSION_FLOOR, written * EXPANSION_FACTOR))
        try:
            data = convert(node)
        except RecursionError:
            raise LimitExceeded("document nested too deeply") from None
        start = node.start_mark.line + 1
        source = None
        for src_line, template in sources:
            if src_line <= start:
                source = template
            else:
                break
        docs.append(Document(path=path, data=data, line=start, index=index, fmt=fmt, source=source))
    return docs


def read_text(path: Path, max_bytes: int = MAX_FILE_BYTES) -> str:
    """Read a file as UTF-8 within the size bound (errors are InputError with the reason)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}") from None
    if size > max_bytes:
        raise LimitExceeded(f"file is {size} bytes, over the {max_bytes}-byte limit")
    try:
        with path.open("rb") as fh:
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


_COMMAND_LINE = re.compile(r"(kube-apiserver|kubelet|dockerd)\S*\s+(--|-H\b|\$)")


def load_file(path: Path, display: str | None = None, max_bytes: int = MAX_FILE_BYTES) -> list[Document]:
    """All documents in one file; raises InputError/LimitExceeded with the reason."""
    shown = display or str(path)
    text = read_text(path, max_bytes)
    kind = classify_file(path, text)
    if kind in ("yaml", "json"):
        return parse_structured(text, shown, kind)
    if kind in ("dockerfile", "text"):
        return [Document(path=shown, data=None, line=1, fmt=kind, text=text)]
    return []


def iter_files(paths: list[Path]) -> Iterator[tuple[Path, str]]:
    """Files under `paths` (recursively, sorted, never following symlinks out of a directory)."""
    for root in paths:
        if root.is_file():
            yield root, str(root)
            continue
        if not root.is_dir():
            raise InputError(f"{root}: no such file or directory")
        for sub in sorted(root.rglob("*")):
            if sub.is_symlink() or not sub.is_file():
                continue
            if any(part.startswith(".") and part not in (".", "..") for part in sub.relative_to(root).parts):
                continue  # .git, .terraform, editor swap files
            yield sub, str(sub)
