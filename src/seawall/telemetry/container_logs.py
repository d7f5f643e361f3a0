"""Container logs: Docker json-file (`{"log": ..., "stream": ..., "time": ...}`), CRI lines as
containerd/kubelet write them under /var/log/pods (`TIME STREAM F|P MESSAGE`), CloudWatch Logs
exports of the `awslogs` driver (`TIME MESSAGE` lines in S3, or `{"events": [...]}` from the
CLI), and plain text. The container or pod comes from the path (or the log stream name).

Web access lines (common/combined log format, as nginx/apache/most frameworks print them) are
parsed into Sigma's webserver fields: `c-ip`, `cs-method`, `c-uri`, `cs-uri-stem`,
`cs-uri-query`, `sc-status`, `cs-referer`, `cs-user-agent`, `cs-username`."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
import polars as pl

from seawall.telemetry.base import COMMON_COLUMNS, JsonSchema, ReadPlan, ReadStats, text_series
from seawall.telemetry.jsonread import ts

_CRI = r"^(\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) (.*)$"
_AWSLOGS = r"^(\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)) (.*)$"
_ACCESS = (
    r'^(\S+) \S+ (\S+) \[[^\]]*\] "([A-Z]{3,10}) (\S+)(?: [^"]*)?" (\d{3}) \S+'
    r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?'
)

_POD_LOG = re.compile(r"(?:^|/)pods/([^/_]+)_([^/_]+)_[^/]+/([^/]+)/[^/]+$")
_CONTAINERS_LOG = re.compile(r"(?:^|/)([^/_]+)_([^/_]+)_(.+)-([0-9a-f]{64})\.log$")
_DOCKER_LOG = re.compile(r"(?:^|/)([0-9a-f]{64})/[0-9a-f]{64}-json\.log")

WEB_FIELDS = (
    "c-ip",
    "cs-username",
    "cs-method",
    "c-uri",
    "sc-status",
    "cs-referer",
    "cs-user-agent",
    "cs-uri-stem",
    "cs-uri-query",
)
ALIASES = {
    "log": "message",
    "msg": "message",
    "Message": "message",
    "c-useragent": "cs-user-agent",
    "cs-uri": "c-uri",
}


def identity_from_path(origin: str) -> dict[str, str | None]:
    ident: dict[str, str | None] = {
        "namespace": None,
        "pod": None,
        "container_name": None,
        "container_id": None,
    }
    if m := _POD_LOG.search(origin):
        ident.update(namespace=m.group(1), pod=m.group(2), container_name=m.group(3))
    elif m := _CONTAINERS_LOG.search(origin):
        ident.update(pod=m.group(1), namespace=m.group(2), container_name=m.group(3), container_id=m.group(4))
    elif m := _DOCKER_LOG.search(origin):
        ident.update(container_id=m.group(1))
    return ident


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class ContainerLogsReader:
    name = "container-logs"

    def plan(self, fields: Iterable[str]) -> ReadPlan:
        columns: dict[str, pl.Expr] = {}
        for name in set(fields):
            if name in COMMON_COLUMNS or name == "_raw":
                continue
            target = ALIASES.get(name, name)
            if target in ("message", "stream", *WEB_FIELDS):
                columns[name] = pl.col(target)
            else:
                columns[name] = pl.lit(None, pl.String)
        return ReadPlan(schema=JsonSchema(), columns=columns, keyword_column="message")

    def is_list(self, field_name: str) -> bool:
        return False

    def split_document(self, data: bytes) -> list[bytes] | None:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
        events: Any = doc.get("events") if isinstance(doc, dict) else doc
        if not isinstance(events, list):
            return None
        out = []
        for ev in events:
            if not isinstance(ev, dict):
                continue
            stamp = ev.get("timestamp")
            out.append(
                orjson.dumps(
                    {
                        "log": ev.get("message"),
                        "stream": "stdout",
                        "time": datetime.fromtimestamp(stamp / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                        if isinstance(stamp, int) and 0 <= stamp < 10**14
                        else None,
                        "awslogs_stream": ev.get("logStreamName"),
                    }
                )
            )
        return out

    def frame(
        self, lines: list[bytes], first_lineno: int, origin: str, plan: ReadPlan, stats: ReadStats
    ) -> pl.DataFrame:
        stats.lines += len(lines)
        text, repaired = text_series("line", lines)
        stats.repaired_utf8 += repaired
        df = pl.DataFrame({"line": text, "_row": pl.int_range(0, len(lines), dtype=pl.Int32, eager=True)})
        df = df.with_columns(pl.col("line").str.strip_chars_end("\r"))
        df = df.filter(pl.col("line").str.len_bytes() > 0)
        is_json = pl.col("line").str.starts_with("{")
        json_part = df.filter(is_json)
        text_part = df.filter(~is_json)
        frames = []
        if json_part.height:
            schema = {"log": pl.String, "stream": pl.String, "time": pl.String, "awslogs_stream": pl.String}
            payload = "\n".join(json_part["line"].to_list()).encode()
            try:
                decoded = pl.read_ndjson(io.BytesIO(payload), schema=schema)
            except Exception:
                decoded = self._slow(json_part, origin, first_lineno, stats, schema)
                json_part = json_part.filter(pl.col("_row").is_in(decoded["_row"].implode()))
                decoded = decoded.drop("_row")
            frames.append(
                pl.DataFrame(
                    {
                        "_row": json_part["_row"],
                        "message": decoded["log"].str.strip_chars_end("\n"),
                        "stream": decoded["stream"],
                        "stamp": decoded["time"],
                        "log_stream": decoded["awslogs_stream"],
                    }
                )
            )
        if text_part.height:
            line = pl.col("line")
            cri = line.str.extract_groups(_CRI)
            aws = line.str.extract_groups(_AWSLOGS)
            parsed = text_part.select(
                "_row",
                pl.coalesce(cri.struct.field("4"), aws.struct.field("2"), line).alias("message"),
                cri.struct.field("2").alias("stream"),
                pl.coalesce(cri.struct.field("1"), aws.struct.field("1")).alias("stamp"),
                pl.lit(None, pl.String).alias("log_stream"),
            )
            frames.append(parsed)
        if not frames:
            return pl.DataFrame()
        df = pl.concat(frames, how="vertical_relaxed").sort("_row")
        ident = identity_from_path(origin)
        access = pl.col("message").str.extract_groups(_ACCESS)
        uri = access.struct.field("4")
        # awslogs stream names: PREFIX/CONTAINER/TASK-ID
        stream_parts = pl.col("log_stream").str.split("/")
        df = df.with_columns(
            access.struct.field("1").alias("c-ip"),
            access.struct.field("2").alias("cs-username"),
            access.struct.field("3").alias("cs-method"),
            uri.alias("c-uri"),
            access.struct.field("5").alias("sc-status"),
            access.struct.field("6").alias("cs-referer"),
            access.struct.field("7").alias("cs-user-agent"),
            uri.str.replace(r"\?.*$", "").alias("cs-uri-stem"),
            uri.alias("cs-uri-query"),
            ts(pl.col("stamp")).alias("time"),
            pl.coalesce(
                pl.lit(ident["container_name"], pl.String), stream_parts.list.get(1, null_on_oob=True)
            ).alias("container_name"),
            pl.coalesce(
                pl.lit(ident["container_id"], pl.String), stream_parts.list.get(2, null_on_oob=True)
            ).alias("task"),
        )
        pod = pl.lit(ident["pod"], pl.String)
        df = df.with_columns(
            pl.lit(self.name).alias("source"),
            pl.col("c-ip").alias("src_ip"),
            pl.lit(None, pl.String).alias("dst_ip"),
            pl.lit(None, pl.String).alias("actor"),
            pl.when(pod.is_not_null())
            .then(pl.lit("k8s"))
            .when(pl.col("log_stream").is_not_null())
            .then(pl.lit("ecs"))
            .otherwise(pl.lit("container"))
            .alias("workload_type"),
            pl.lit(ident["namespace"], pl.String).alias("namespace"),
            pl.when(pod.is_not_null())
            .then(pl.lit("Pod"))
            .when(pl.col("log_stream").is_not_null())
            .then(pl.lit("task"))
            .otherwise(pl.lit("container"))
            .alias("workload_kind"),
            pl.coalesce(
                pod, pl.col("task"), pl.col("container_name"), pl.lit(ident["container_id"], pl.String)
            ).alias("workload_name"),
            pl.lit(None, pl.String).alias("cluster"),
            pl.coalesce(pl.lit(ident["container_id"], pl.String), pl.col("task")).alias("container_id"),
        )
        out = df.select(
            [
                *COMMON_COLUMNS,
                "_row",
                "message",
                *[e.alias(n) for n, e in plan.columns.items() if n != "message"],
            ]
        )
        stats.events += out.height
        return out

    def _slow(
        self, part: pl.DataFrame, origin: str, first_lineno: int, stats: ReadStats, schema: dict[str, Any]
    ) -> pl.DataFrame:
        rows, recs = [], []
        for row, line in zip(part["_row"].to_list(), part["line"].to_list(), strict=True):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                obj = None
            if not isinstance(obj, dict):
                # not JSON after all: keep it as a plain text message
                obj = {"log": line}
            rows.append(row)
            recs.append({k: _text(obj.get(k)) for k in schema})
        df = pl.DataFrame(recs, schema=schema)
        return df.with_columns(pl.Series("_row", rows, dtype=pl.Int32))

    # the CLI asks every reader the same questions
    def records_of(self, doc: Any) -> list[Any] | None:  # pragma: no cover - API symmetry
        return None


READER = ContainerLogsReader()
