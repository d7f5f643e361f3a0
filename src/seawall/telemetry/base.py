"""The telemetry contract: a Reader turns lines of one source into columnar event batches.

A batch is a Polars DataFrame holding the raw fields that the compiled rules asked for
(one column per dotted field name, values as strings, lists for ``[]`` paths) plus the
common columns every source fills in the same way:

``time`` (UTC), ``source``, ``actor``, ``src_ip``, ``dst_ip``, the workload columns
``workload_type``, ``namespace``, ``workload_kind``, ``workload_name``, ``cluster``,
``container_id``, ``container_name``, and ``_row`` (index of the line in the batch).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

# the columns that name the workload an event concerns (a finding's resource is built from them)
WORKLOAD_COLUMNS: tuple[str, ...] = (
    "workload_type",
    "namespace",
    "workload_kind",
    "workload_name",
    "cluster",
    "container_id",
    "container_name",
)
COMMON_COLUMNS: tuple[str, ...] = ("time", "source", "actor", "src_ip", "dst_ip", *WORKLOAD_COLUMNS)

MAX_QUOTED = 5  # malformed lines quoted in warnings, per input


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    is_list: bool = False


def parse_path(field_name: str) -> tuple[Segment, ...]:
    """`a.b[].c` -> (a)(b, list)(c). A literal key with dots can be quoted: `output_fields."proc.name"`."""
    segments: list[Segment] = []
    i, n = 0, len(field_name)
    while i < n:
        if field_name[i] == '"':
            end = field_name.find('"', i + 1)
            if end < 0:
                raise ValueError(f"unterminated quote in field {field_name!r}")
            name = field_name[i + 1 : end]
            i = end + 1
        else:
            j = i
            while j < n and field_name[j] not in ".[":
                j += 1
            name = field_name[i:j]
            i = j
        is_list = False
        if field_name.startswith("[]", i):
            is_list = True
            i += 2
        if i < n and field_name[i] == ".":
            i += 1
        if not name:
            raise ValueError(f"empty segment in field {field_name!r}")
        segments.append(Segment(name, is_list))
    if not segments:
        raise ValueError("empty field name")
    return tuple(segments)


class _Node:
    __slots__ = ("children", "is_list", "leaf")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.is_list = False
        self.leaf = False

    def dtype(self) -> pl.DataType:
        inner: pl.DataType
        inner = pl.Struct({k: v.dtype() for k, v in self.children.items()}) if self.children else pl.String()
        return pl.List(inner) if self.is_list else inner


class JsonSchema:
    """The part of a JSON document that the rules read, as a Polars schema."""

    def __init__(self) -> None:
        self.root = _Node()

    def add(self, path: tuple[Segment, ...]) -> None:
        node = self.root
        for seg in path:
            node = node.children.setdefault(seg.name, _Node())
            node.is_list = node.is_list or seg.is_list
        node.leaf = True

    def polars_schema(self) -> dict[str, pl.DataType]:
        return {k: v.dtype() for k, v in self.root.children.items()}

    def effective(self, path: tuple[Segment, ...]) -> tuple[Segment, ...]:
        """The path with the list flags the schema ended up with (a field written without `[]`
        by one rule and with it by another reads the same list)."""
        node, out = self.root, []
        for seg in path:
            node = node.children[seg.name]
            out.append(Segment(seg.name, node.is_list))
        return tuple(out)

    def is_interior(self, path: tuple[Segment, ...]) -> bool:
        node = self.root
        for seg in path:
            node = node.children[seg.name]
        return bool(node.children)


def path_expr(path: tuple[Segment, ...], schema: JsonSchema) -> pl.Expr:
    """The expression reading `path` from the struct columns; lists flatten into one list."""

    def build(base: pl.Expr, segs: tuple[Segment, ...], in_list: bool) -> pl.Expr:
        expr = base
        for k, seg in enumerate(segs):
            expr = expr.struct.field(seg.name)
            if seg.is_list:
                if in_list:
                    expr = expr.explode()
                else:
                    rest = build(pl.element(), segs[k + 1 :], True)
                    return expr.list.eval(rest)
        return expr

    path = schema.effective(path)
    first = path[0]
    expr = pl.col(first.name)
    if first.is_list:
        expr = expr.list.eval(build(pl.element(), path[1:], True))
    else:
        expr = build(expr, path[1:], False)
    if schema.is_interior(path):
        # asked as a leaf and as a parent: the leaf is the JSON text of what was read
        expr = expr.struct.json_encode() if not any(s.is_list for s in path) else expr
    return expr


def text_series(name: str, lines: list[bytes]) -> tuple[pl.Series, int]:
    """Lines as a String series; invalid UTF-8 is replaced (and counted), never fatal."""
    try:
        return pl.Series(name, lines, dtype=pl.Binary).cast(pl.String), 0
    except Exception:  # polars refuses invalid UTF-8 even when not strict
        out, bad = [], 0
        for line in lines:
            try:
                out.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                out.append(line.decode("utf-8", "replace"))
                bad += 1
        return pl.Series(name, out, dtype=pl.String), bad


@dataclass(slots=True)
class ReadStats:
    """What one run read: lines, events, and what was wrong with the input."""

    lines: int = 0
    events: int = 0
    malformed: int = 0
    overlong: int = 0
    repaired_utf8: int = 0
    no_timestamp: int = 0
    unknown_shape: int = 0  # events without any field of this source (another kind of input?)
    inputs: int = 0
    unreadable_inputs: int = 0
    bad: list[tuple[str, int, str]] = field(default_factory=list)  # (origin, line, what) of the first few
    warnings: list[str] = field(default_factory=list)

    @property
    def quoted(self) -> list[str]:
        return [f"{origin}:{lineno}: {what}" for origin, lineno, what in self.bad]

    def merge(self, other: ReadStats) -> None:
        """Add the counters of another reader of the same run (e.g. the reading thread)."""
        counters = ("lines", "events", "malformed", "overlong", "repaired_utf8", "no_timestamp",
                    "unknown_shape")
        for name in counters:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.inputs += other.inputs
        self.unreadable_inputs += other.unreadable_inputs
        self.bad = (self.bad + other.bad)[:MAX_QUOTED]
        self.warnings = other.warnings + self.warnings

    def shift_lines(self, by: int) -> None:
        """Line numbers counted from a later start (a part of a file read on its own)."""
        self.bad = [(origin, lineno + by, what) for origin, lineno, what in self.bad]

    def bad_line(self, origin: str, lineno: int, line: bytes, reason: str) -> None:
        self.malformed += 1
        if len(self.bad) < MAX_QUOTED:
            from seawall.secrets import redact_text  # (a bad line may hold a credential too)

            text = redact_text(line[:4096].decode("utf-8", "backslashreplace"))[:60]
            text = text.encode("ascii", "backslashreplace").decode("ascii")
            text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
            self.bad.append((origin, lineno, f"{reason}: '{text}'"))

    def summary(self) -> list[str]:
        out = list(self.warnings)
        if self.malformed:
            out.append(f"{self.malformed} malformed line(s) skipped; first: " + "; ".join(self.quoted))
        if self.overlong:
            out.append(f"{self.overlong} line(s) longer than the line limit skipped")
        if self.repaired_utf8:
            out.append(f"{self.repaired_utf8} line(s) with invalid UTF-8 read with replacement characters")
        if self.no_timestamp:
            out.append(
                f"{self.no_timestamp} event(s) without a readable timestamp (kept; time windows ignore them)"
            )
        return out


@dataclass(slots=True)
class Batch:
    """Events of one source read from one input. Frame row i is `lines[frame["_row"][i]]`."""

    source: str
    origin: str
    first_lineno: int
    lines: list[bytes]
    frame: pl.DataFrame
    document: bool = False


@dataclass(slots=True)
class ReadPlan:
    """What to read for a set of rule fields: the JSON schema and one expression per column."""

    schema: JsonSchema
    columns: dict[str, pl.Expr]  # output column name -> expression over the decoded frame
    keyword_column: str | None = None
    decoder: Any = None  # the reader's compiled decoder for this schema (built on first use)


class Reader(Protocol):
    """One telemetry source (k8s-audit, cloudtrail, ...). Registered in telemetry/__init__.py."""

    name: str

    def plan(self, fields: Iterable[str]) -> ReadPlan:
        """Columns for the fields the rules use, plus the common columns."""
        ...

    def frame(
        self, lines: list[bytes], first_lineno: int, origin: str, plan: ReadPlan, stats: ReadStats
    ) -> pl.DataFrame:
        """Decode lines into the planned columns plus `_row`; bad lines are counted, not fatal."""
        ...

    def split_document(self, data: bytes) -> list[bytes] | None:
        """A whole-file document (CloudTrail `Records`, k8s `EventList`) -> one line per event."""
        ...
