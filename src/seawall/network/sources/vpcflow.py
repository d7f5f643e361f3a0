"""AWS VPC Flow Logs: default (v2) and custom formats (v2-v8+), plain or gzip, as delivered to
S3 (a header line names the fields) and as CloudWatch Logs exports (an ISO timestamp before
each message, or `aws logs filter-log-events` JSON). Parsed with Polars' CSV reader in batches.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from seawall.core.errors import InputError
from seawall.network.base import FlowBatch
from seawall.network.options import NetworkOptions
from seawall.network.sources._io import LineFlowSource, line_chunks, read_bounded

DEFAULT_V2 = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
]

# every documented field, with the version that introduced it
FIELD_VERSIONS: dict[str, int] = {
    **dict.fromkeys(DEFAULT_V2, 2),
    **dict.fromkeys(
        ["vpc-id", "subnet-id", "instance-id", "tcp-flags", "type", "pkt-srcaddr", "pkt-dstaddr"], 3
    ),
    **dict.fromkeys(["region", "az-id", "sublocation-type", "sublocation-id"], 4),
    **dict.fromkeys(["pkt-src-aws-service", "pkt-dst-aws-service", "flow-direction", "traffic-path"], 5),
    **dict.fromkeys(
        [
            "ecs-cluster-arn",
            "ecs-cluster-name",
            "ecs-container-instance-arn",
            "ecs-container-instance-id",
            "ecs-container-id",
            "ecs-second-container-id",
            "ecs-service-name",
            "ecs-task-definition-arn",
            "ecs-task-arn",
            "ecs-task-id",
        ],
        7,
    ),
    "reject-reason": 8,
    **dict.fromkeys(["resource-id", "encryption-status"], 9),
}

INT_FIELDS = {
    "srcport": pl.Int32,
    "dstport": pl.Int32,
    "protocol": pl.Int16,
    "packets": pl.Int64,
    "bytes": pl.Int64,
    "start": pl.Int64,
    "end": pl.Int64,
    "tcp-flags": pl.Int32,
}
# the columns the analyses use; others are parsed as strings and dropped early
USED = {
    "srcaddr",
    "dstaddr",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "tcp-flags",
    "flow-direction",
    "ecs-cluster-name",
    "ecs-service-name",
    "ecs-task-id",
    "ecs-task-definition-arn",
    "ecs-container-id",
}
_EXTRA = "__extra__"
_REASONS = (  # the skip reasons of _batch, by code 1..
    "repeated header lines",
    "records with the wrong field count",
    "records with invalid UTF-8 (damaged)",
    "NODATA records",
    "SKIPDATA records",
    "records without addresses (unparseable values)",
)
_CW_TS = "__cw_timestamp__"
_ISO = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def parse_format(text: str) -> list[str]:
    """`${version} ${srcaddr} ...` or `version srcaddr ...` -> field names (validated)."""
    names = [t.strip().removeprefix("${").removesuffix("}") for t in text.split() if t.strip()]
    unknown = [n for n in names if n not in FIELD_VERSIONS]
    if not names or unknown:
        raise InputError(
            f"unknown VPC flow log field(s) {', '.join(unknown) or '(none)'}; "
            "see the AWS 'Flow log records' page for the field names"
        )
    return names


def _is_header(tokens: list[str]) -> bool:
    return bool(tokens) and all(t in FIELD_VERSIONS for t in tokens)


class VpcFlowSource(LineFlowSource):
    name = "vpc-flow"
    file_kind = "flow log file"

    def __init__(self, options: NetworkOptions) -> None:
        super().__init__(options)
        self._origins: dict[str, list[str]] = {}  # streaming: each origin's columns

    def _read_file(self, path: Path) -> Iterator[FlowBatch]:
        chunks = line_chunks(path, self.options.batch_bytes, self.damage(path))
        first = next(chunks, b"")
        stripped = first.lstrip()
        if not stripped:
            if path.stat().st_size and _is_gzip(path):
                return  # a damaged gzip: the damage warning says it
            self.warnings.append(f"{path}: empty flow log")
            return
        if stripped[:1] in (b"{", b"["):
            yield from self._read_json(path)
            return
        nl = first.find(b"\n")
        head_line = (first if nl < 0 else first[:nl]).decode("utf-8", "replace").strip()
        header, fields, prefix = self._layout(head_line, str(path))
        if header:
            first = b"" if nl < 0 else first[nl + 1 :]
        columns = prefix + fields
        # bounded chunks of lines (plain files mapped, copied once per chunk), each parsed at once
        for chunk in _chain(first, chunks):
            if chunk and not chunk.isspace():  # (isspace stops at the first other byte; strip copies)
                yield self._parse(chunk, columns, path)

    def _layout(self, head_line: str, where: str) -> tuple[bool, list[str], list[str]]:
        """(is the line a header, the field names, a CloudWatch timestamp prefix column or none)."""
        tokens = head_line.split()
        if _is_header(tokens):
            return True, tokens, []
        prefix = [_CW_TS] if _ISO.match(head_line.encode()) else []
        fields = parse_format(self.options.vpc_format) if self.options.vpc_format else list(DEFAULT_V2)
        width = len(tokens) - len(prefix)
        if not self.options.vpc_format and width != len(DEFAULT_V2):
            raise InputError(
                f"{where}: no header line and {width} fields per record (the default v2 "
                f"format has {len(DEFAULT_V2)}); pass the custom log format (--vpc-format)"
            )
        return False, fields, prefix

    # -- streaming (seawall.analyzers: Batch of raw lines) --------------------------------------
    def parse_lines(self, lines: Sequence[bytes], origin: str) -> FlowBatch | None:
        """Flow records of one origin in input order; the origin's first line may be its header.
        A line that is not a record is counted like in a file, never fatal."""
        data = [line for line in lines if line.strip()]
        if not data:
            return None
        columns = self._origins.get(origin)
        if columns is None:
            head = data[0].decode("utf-8", "replace").strip()
            try:
                header, fields, prefix = self._layout(head, origin)
            except InputError as exc:
                self.stats.records += len(data)
                self.stats.skip("records with the wrong field count", len(data))
                if len(self.warnings) < 100:
                    self.warnings.append(str(exc))
                return None
            columns = self._origins[origin] = prefix + fields
            if header:
                data = data[1:]
                if not data:
                    return None
        return self._parse(b"\n".join(data) + b"\n", columns, Path(origin))

    def state(self) -> dict[str, Any]:
        return {"origins": self._origins}

    def restore(self, state: dict[str, Any]) -> None:
        origins = state.get("origins", {})
        self._origins = {str(k): [str(c) for c in v] for k, v in dict(origins).items()}

    def _read_json(self, path: Path) -> Iterator[FlowBatch]:
        """CloudWatch Logs JSON: `{"events": [{"message": ...}]}` or one event per line."""
        data = read_bounded(path, self.options.max_json_bytes)
        messages: list[str] = []
        try:
            doc = orjson.loads(data)
            docs = doc if isinstance(doc, list) else [doc]
        except orjson.JSONDecodeError:
            docs = []
            for line in data.splitlines():
                if line.strip():
                    try:
                        docs.append(orjson.loads(line))
                    except orjson.JSONDecodeError:
                        self.stats.skip("invalid JSON line")
        for item in docs:
            events = item.get("events") if isinstance(item, dict) and "events" in item else [item]
            for event in events if isinstance(events, list) else []:
                msg = event.get("message") if isinstance(event, dict) else None
                if isinstance(msg, str):
                    messages.append(msg.strip())
                else:
                    self.stats.skip("JSON event without a message")
        if not messages:
            return
        tokens = messages[0].split()
        if _is_header(tokens):
            fields = tokens
            messages = messages[1:]
        else:
            fields = parse_format(self.options.vpc_format) if self.options.vpc_format else list(DEFAULT_V2)
        step = 500_000
        for i in range(0, len(messages), step):
            text = ("\n".join(messages[i : i + step]) + "\n").encode()
            yield self._parse(text, fields, path)

    # -- parsing --------------------------------------------------------------------------------
    @staticmethod
    def _probe(columns: list[str]) -> str | None:
        """A string column whose value names itself on a (repeated) header line."""
        for name in ("srcaddr", "pkt-srcaddr", "action", "log-status", *columns):
            if name in columns and name not in INT_FIELDS and name != _CW_TS:
                return name
        return None

    @classmethod
    def _csv_args(cls, columns: list[str], strict: bool = False) -> dict[str, Any]:
        """Arguments of the CSV reader. `strict`: for ASCII text, without the tolerance of damage
        (a quarter faster); a record it cannot parse fails the chunk, which is then parsed again
        with tolerance -- what it does parse is exactly what the tolerant reader gives."""
        names = [*columns, _EXTRA]
        last = columns[-1]
        schema = {c: INT_FIELDS.get(c, pl.String) for c in names}
        schema[last] = pl.String  # a short line leaves the last column null, never "-"
        wanted = USED | {cls._probe(columns), last, _EXTRA}
        return {
            "separator": " ",
            "schema": schema,
            "columns": [i for i, c in enumerate(names) if c in wanted],
            "quote_char": None,
            "null_values": {c: "-" for c in columns if c != last},
            "truncate_ragged_lines": True,
            "ignore_errors": not strict,
            "missing_columns": "insert",
            "extra_columns": "ignore",
            "raise_if_empty": False,
            # a damaged byte costs its record (counted), not the file
            "encoding": "utf8" if strict else "utf8-lossy",
        }

    def _parse(self, chunk: bytes, columns: list[str], path: Path) -> FlowBatch:
        ascii_only = chunk.isascii()  # then no byte can be damaged UTF-8 (or a replaced one)
        try:
            if ascii_only:
                try:
                    raw = pl.read_csv(chunk, has_header=False, **self._csv_args(columns, strict=True))
                except pl.exceptions.PolarsError:
                    raw = pl.read_csv(chunk, has_header=False, **self._csv_args(columns))
            else:
                raw = pl.read_csv(chunk, has_header=False, **self._csv_args(columns))
            return self._batch(raw, columns, path, ascii_only)
        except pl.exceptions.PolarsError as exc:
            raise InputError(f"{path}: cannot parse flow log records ({str(exc).splitlines()[0]})") from exc

    def _batch(self, raw: pl.DataFrame, columns: list[str], path: Path,
               ascii_only: bool = False) -> FlowBatch:
        """The normalized flows of a raw frame; what cannot be a flow is counted by reason."""
        present = set(columns)
        if not present & {"srcaddr", "dstaddr", "pkt-srcaddr", "pkt-dstaddr"}:
            raise InputError(f"{path}: the flow log format has no source/destination address fields")
        last = columns[-1]
        probe = self._probe(columns)
        kept = [c for c in [*columns, _EXTRA] if c in USED or c in (probe, last, _EXTRA)]
        src = pl.coalesce([pl.col(c) for c in ("pkt-srcaddr", "srcaddr") if c in present])
        dst = pl.coalesce([pl.col(c) for c in ("pkt-dstaddr", "dstaddr") if c in present])
        # every field of a flow record is ASCII: anything else is a byte the lossy decoder replaced
        texts = [] if ascii_only else [c for c in kept if (c == last or c not in INT_FIELDS)
                                       and c not in (_CW_TS, _EXTRA)]
        status = pl.col("log-status") if "log-status" in present else pl.lit(None, pl.String)
        # one reason per record, each test evaluated once (0: a flow)
        why = (
            pl.when((pl.col(probe) == probe).fill_null(False) if probe else pl.lit(False)).then(1)
            .when(pl.col(last).is_null() | pl.col(_EXTRA).is_not_null()).then(2)
            .when(pl.any_horizontal([pl.col(c).str.len_bytes() != pl.col(c).str.len_chars() for c in texts]
                                    or [pl.lit(False)]).fill_null(False)).then(3)
            .when((status == "NODATA").fill_null(False)).then(4)
            .when((status == "SKIPDATA").fill_null(False)).then(5)
            .when(src.is_null() | dst.is_null()).then(6)
            .otherwise(0)
            .cast(pl.UInt8)
        )
        raw = raw.select(kept).with_columns(why.alias("__why"))
        counts = raw["__why"].value_counts()
        tally = dict(zip(counts["__why"].to_list(), counts["count"].to_list(), strict=True))
        self.stats.records += raw.height
        self.stats.flows += tally.get(0, 0)
        for code, reason in enumerate(_REASONS, start=1):
            self.stats.skip(reason, tally.get(code, 0))
        flows = raw.lazy() if tally.get(0, 0) == raw.height else raw.lazy().filter(pl.col("__why") == 0)
        flows = flows.with_columns(src.alias("src_addr"), dst.alias("dst_addr"))
        # the last column is read without the "-" -> null rule (a short line must leave it null)
        unset = pl.when(pl.col(last) == "-").then(None).otherwise(pl.col(last))
        flows = flows.with_columns(
            (unset.cast(INT_FIELDS[last], strict=False) if last in INT_FIELDS else unset).alias(last)
        )
        return FlowBatch(flows=self._normalize(flows, present).collect())

    def _normalize(self, frame: pl.LazyFrame, cols: set[str]) -> pl.LazyFrame:

        def col(name: str, dtype: pl.DataType) -> pl.Expr:
            return pl.col(name) if name in cols else pl.lit(None, dtype=dtype)

        exprs: list[pl.Expr] = [
            col("start", pl.Int64()).alias("start"),
            col("end", pl.Int64()).alias("end"),
            pl.col("src_addr"),
            pl.col("dst_addr"),
            col("srcport", pl.Int32()).alias("src_port"),
            col("dstport", pl.Int32()).alias("dst_port"),
            col("protocol", pl.Int16()).alias("protocol"),
            col("packets", pl.Int64()).fill_null(0).alias("packets"),
            col("bytes", pl.Int64()).fill_null(0).alias("bytes"),
            col("action", pl.String()).fill_null("ACCEPT").alias("action"),
            col("tcp-flags", pl.Int32()).alias("tcp_flags"),
        ]
        if {"ecs-task-id", "ecs-service-name", "ecs-cluster-name"} & cols:
            # ECS fields describe the task behind the ENI that recorded the flow: the source
            # for egress records, the destination for ingress ones (egress when unknown).
            service = col("ecs-service-name", pl.String())
            task = col("ecs-task-id", pl.String())
            family = col("ecs-task-definition-arn", pl.String()).str.extract(r"task-definition/([^:]+)")
            has = task.is_not_null() | service.is_not_null()
            id_type = (
                pl.when(service.is_not_null()).then(pl.lit("ECSService")).when(has).then(pl.lit("ECSTask"))
            )
            id_name = pl.coalesce([service, family, task])
            id_ns = col("ecs-cluster-name", pl.String())
            id_inst = pl.coalesce([task, col("ecs-container-id", pl.String())])
            ingress = col("flow-direction", pl.String()) == "ingress"
            for side, cond in (("src", ~ingress.fill_null(False)), ("dst", ingress.fill_null(False))):
                for fname, expr in (("type", id_type), ("name", id_name), ("ns", id_ns), ("inst", id_inst)):
                    exprs.append(pl.when(cond & has).then(expr).otherwise(None).alias(f"{side}_id_{fname}"))
        return frame.select(exprs)


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
