"""JSON-lines sources: decoding into Polars with only the fields the rules read.

Each line is decoded by the projector (seawall.telemetry.projector) straight into the fields
that the compiled rules and the common columns need; everything else in the event is skipped.
The lines it cannot decode (not JSON, invalid UTF-8, nesting too deep) are decoded one by one
with orjson: bad lines are counted and quoted, invalid UTF-8 is repaired with replacement
characters (so that it cannot hide an attack), and every good event is cut down to the
schema's shape before the projector reads it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from typing import Any, ClassVar

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from seawall.telemetry import jsonstream
from seawall.telemetry.base import (
    COMMON_COLUMNS,
    JsonSchema,
    ReadPlan,
    ReadStats,
    Segment,
    _Node,
    parse_path,
    path_expr,
    text_series,
)
from seawall.telemetry.projector import Projector

ExprOf = Callable[[str], pl.Expr]

_OPEN_BRACE = 0x7B


def _project(value: Any, node: _Node) -> Any:
    if node.is_list:
        if not isinstance(value, list):
            return None
        return [_project_one(v, node) for v in value]
    return _project_one(value, node)


def _project_one(value: Any, node: _Node) -> Any:
    if node.children:
        if not isinstance(value, dict):
            return None
        return {k: _project(value.get(k), child) for k, child in node.children.items()}
    return value


def invalid_utf8(lines: list[bytes]) -> int:
    """How many lines hold invalid UTF-8 (wherever it is in the line, read by a rule or not)."""
    if all(map(bytes.isascii, lines)):
        return 0
    bad = 0
    for line in lines:
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                bad += 1
    return bad


def projector_of(plan: ReadPlan) -> Projector:
    if plan.decoder is None:
        plan.decoder = Projector(plan.schema)
    decoder: Projector = plan.decoder
    return decoder


def decode_slow(
    lines: list[bytes], rows: list[int], plan: ReadPlan, origin: str, first_lineno: int, stats: ReadStats
) -> tuple[pl.DataFrame, list[int]]:
    """The lines the projector could not decode, one by one with orjson: bad lines are counted
    and quoted, invalid UTF-8 is repaired with replacement characters (so that it cannot hide
    an attack), and every good event is cut down to the schema and decoded again."""
    good_rows: list[int] = []
    projected: list[bytes] = []
    root = plan.schema.root
    for i in rows:
        line = lines[i]
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            try:
                line.decode("utf-8")
                valid_utf8 = True
            except UnicodeDecodeError:
                valid_utf8 = False
            obj = None
            if not valid_utf8:
                try:  # (the line was counted by JsonReader.frame)
                    obj = orjson.loads(line.decode("utf-8", "replace"))
                except orjson.JSONDecodeError:
                    obj = None
            if obj is None:
                reason = "invalid JSON" if valid_utf8 else "invalid UTF-8 / JSON"
                if "recursion" in str(exc).lower():
                    reason = "JSON nested too deeply"
                stats.bad_line(origin, first_lineno + i, line, reason)
                continue
        if not isinstance(obj, dict):
            stats.bad_line(origin, first_lineno + i, line, "not a JSON object")
            continue
        projection = {k: _project(obj.get(k), child) for k, child in root.children.items()}
        good_rows.append(i)
        projected.append(orjson.dumps(projection))
    if not projected:
        return pl.DataFrame(schema=plan.schema.polars_schema()), []
    decoded, failed = projector_of(plan).decode(projected)
    if failed:  # (cannot happen: orjson wrote these lines from shallow projections)
        raise RuntimeError("projected events did not decode")
    return decoded, good_rows



def _dumps(value: Any) -> bytes:
    """A decoded JSON value as compact JSON text. orjson refuses what a document may still hold
    (an integer beyond 64 bits, an unpaired surrogate from a `\\ud800` escape): those are written
    by the json module, escaped as they came, for the line decoders to read or count."""
    try:
        # (copied: orjson's bytes keep a much larger allocation than they use)
        return memoryview(orjson.dumps(value)).tobytes()
    except TypeError:
        return json.dumps(value, separators=(",", ":")).encode("ascii")


class JsonReader:
    """Base of the JSON sources. Subclasses set the field maps and the common columns."""

    name = "json"
    # Sigma / convenience names -> raw field names of this source
    aliases: ClassVar[dict[str, str]] = {}
    # raw fields that hold lists (Sigma rules write them without []): a path through one of
    # these reads every element
    list_fields: frozenset[str] = frozenset()
    # derived fields: name -> function of the field accessor
    derived: ClassVar[dict[str, Callable[[ExprOf], pl.Expr]]] = {}
    derived_needs: ClassVar[dict[str, tuple[str, ...]]] = {}
    list_derived: frozenset[str] = frozenset()
    base_fields: tuple[str, ...] = ()
    keyword_column = "_raw"
    # True when every rule field is a raw JSON path or a derived/common column (so the engine
    # may skip lines that hold none of the rules' literals; see seawall.detect.prefilter)
    prefilter = False
    # keys that every event of this source has, one of them at least (an event with none of them
    # and no timestamp is counted as another kind of input: see ReadStats.unknown_shape)
    signature: tuple[bytes, ...] = ()

    def resolve(self, field_name: str) -> tuple[Segment, ...]:
        name = self.aliases.get(field_name, field_name)
        path = parse_path(name)
        if self.list_fields:
            out, prefix = [], ""
            for seg in path:
                prefix = f"{prefix}.{seg.name}" if prefix else seg.name
                out.append(Segment(seg.name, seg.is_list or prefix in self.list_fields))
            path = tuple(out)
        return path

    def common(self, f: ExprOf) -> dict[str, pl.Expr]:
        raise NotImplementedError

    def is_list(self, field_name: str) -> bool:
        if field_name in self.list_derived:
            return True
        if field_name in COMMON_COLUMNS or field_name in self.derived or field_name == "_raw":
            return False
        try:
            return any(seg.is_list for seg in self.resolve(field_name))
        except ValueError:
            return False

    def needed(self, field_name: str) -> Iterable[str]:
        """Raw fields that a derived field reads."""
        return self.derived_needs.get(field_name, ())

    def plan(self, fields: Iterable[str]) -> ReadPlan:
        schema = JsonSchema()
        raw_paths: dict[str, tuple[Segment, ...]] = {}
        wanted = set(fields)
        raw_needed = set(self.base_fields)
        for name in wanted:
            if name in COMMON_COLUMNS or name == "_raw":
                continue
            if name in self.derived:
                raw_needed.update(self.needed(name))
            else:
                raw_needed.add(name)
        for name in raw_needed:
            raw_paths[name] = self.resolve(name)
            schema.add(raw_paths[name])
        exprs: dict[str, pl.Expr] = {name: path_expr(p, schema) for name, p in raw_paths.items()}

        def f(name: str) -> pl.Expr:
            if name in self.derived:
                return self.derived[name](f)
            if name not in exprs:
                raise KeyError(name)
            return exprs[name]

        columns: dict[str, pl.Expr] = dict(self.common(f))
        columns["source"] = pl.lit(self.name)
        for name in wanted:
            if name in COMMON_COLUMNS or name == "_raw":
                continue
            columns[name] = f(name)
        return ReadPlan(schema=schema, columns=columns, keyword_column="_raw" if "_raw" in wanted else None)

    def prepare_line(self, line: bytes) -> bytes | None:
        """A line that does not start with '{': fix it up (e.g. strip a timestamp prefix) or None."""
        stripped = line.strip()
        if not stripped:
            return None
        if stripped[:1] == b"{":
            return stripped
        return None

    def split_document(self, data: bytes) -> list[bytes] | None:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
        records = self.records_of(doc)
        if records is None:
            return None
        return [_dumps(r) for r in records if isinstance(r, dict)]

    def stream_document(
        self, first: bytes, read: Callable[[], bytes], stats: ReadStats, origin: str, max_record: int
    ) -> Iterator[bytes]:
        """A whole-file document record by record (seawall.telemetry.jsonstream), one JSON line
        per record; what is not a record is counted, damage is a warning (records before it stay)."""
        n = 0
        try:
            for key, item, text in jsonstream.records(first, read, max_record):
                n += 1
                for record in self.record_items(key, item):
                    if not isinstance(record, dict):
                        stats.bad_line(origin, n, _dumps(record)[:200], "not a JSON object")
                    elif record is item and text is not None:
                        yield text.encode("utf-8", "surrogateescape")  # the record's own text
                    else:
                        yield _dumps(record)
        except jsonstream.DocumentError as exc:
            stats.malformed += 1
            stats.warnings.append(f"{origin}: JSON document damaged after {n} record(s): {exc}")

    def record_items(self, key: str, item: Any) -> list[Any]:
        """The records an element of a document's record list (`key`) stands for."""
        return [item]

    def records_of(self, doc: Any) -> list[Any] | None:
        if isinstance(doc, list):
            return doc
        if isinstance(doc, dict):
            for key in ("Records", "items", "events"):
                if isinstance(doc.get(key), list):
                    return list(doc[key])
            return [doc]
        return None

    def frame(
        self, lines: list[bytes], first_lineno: int, origin: str, plan: ReadPlan, stats: ReadStats
    ) -> pl.DataFrame:
        objects = list(map(bytes.startswith, lines, repeat(b"{")))
        rows = list(range(len(lines)))
        if not all(objects):
            rows = []
            for i, line in enumerate(lines):
                if line[:1] == b"{":
                    rows.append(i)
                    continue
                fixed = self.prepare_line(line)
                if fixed is not None:
                    lines[i] = fixed
                    rows.append(i)
                elif line.strip():
                    stats.bad_line(origin, first_lineno + i, line, "not a JSON object")
        stats.lines += len(lines)
        stats.repaired_utf8 += invalid_utf8(lines)
        if not rows:
            return pl.DataFrame()
        objs = lines if len(rows) == len(lines) else [lines[i] for i in rows]
        decoded, failed = projector_of(plan).decode(objs)
        reordered = False
        if failed:  # not valid JSON (or too deep for the projector): line by line
            bad = set(failed)
            slow, slow_rows = decode_slow(lines, [rows[k] for k in failed], plan, origin, first_lineno, stats)
            rows = [r for k, r in enumerate(rows) if k not in bad]
            if slow_rows:
                decoded = pl.concat([decoded, slow], how="vertical_relaxed")
                rows = rows + slow_rows
                reordered = True
            if not rows:
                return pl.DataFrame()
        exprs = [e.alias(n) for n, e in plan.columns.items()]
        exprs.append(pl.lit(pl.Series("_row", rows, dtype=pl.Int32)).alias("_row"))
        out = decoded.select(exprs)
        if reordered:  # back into line order
            out = out.sort("_row")
            rows = sorted(rows)
        if plan.keyword_column:
            raw, _ = text_series("_raw", [lines[i] for i in rows])
            out = out.with_columns(raw)
        stats.events += out.height
        if self.signature and "time" in out.columns and out["time"].null_count():
            undated = out.filter(pl.col("time").is_null()).get_column("_row").to_list()
            stats.unknown_shape += sum(1 for i in undated if not any(k in lines[i] for k in self.signature))
        return out


_UTC_US = pl.Datetime("us", "UTC")


def _rfc3339(expr: pl.Expr) -> pl.Expr:
    zulu = expr.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", strict=False, time_zone="UTC", time_unit="us")
    offset = expr.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us"
    ).dt.convert_time_zone("UTC")
    return pl.coalesce(zulu, offset)


# the texts that Arrow's ISO 8601 parser and the two strptime formats read the same way
_PLAIN_RFC3339 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$"


def _parse_times(texts: pl.Series) -> pl.Series:
    # Arrow's ISO 8601 parser is an order of magnitude faster than strptime, but all or
    # nothing, and more lenient: a batch with any other text (nanoseconds, garbage, a date
    # alone) goes through strptime
    texts = texts.cast(pl.String)
    if not texts.str.contains(_PLAIN_RFC3339).all():
        return pl.select(_rfc3339(pl.lit(texts))).to_series().alias(texts.name)
    try:
        parsed = pc.cast(texts.to_arrow().cast(pa.large_string()), pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pl.select(_rfc3339(pl.lit(texts))).to_series().alias(texts.name)
    out = pl.Series(texts.name, parsed)
    return out if out.dtype == _UTC_US else out.cast(_UTC_US)


def ts(expr: pl.Expr) -> pl.Expr:
    """RFC 3339 text (Z or offset, any fraction) -> UTC datetime; unreadable -> null."""
    return expr.map_batches(_parse_times, return_dtype=_UTC_US)
