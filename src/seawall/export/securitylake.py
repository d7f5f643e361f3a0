"""Findings as OCSF Parquet in the Amazon Security Lake custom-source layout.

    ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/<uuid>.zstd.parquet

One OCSF class per custom source (Security Lake registers a custom source for one event class):
`seawall-vulnerability-finding` (2002), `seawall-compliance-finding` (2003) and
`seawall-detection-finding` (2004) by default; rows sorted by time; Parquet with zstd. The
destination is a local directory or `s3://bucket/prefix` (boto3; the service and Spark use it).
"""

from __future__ import annotations

import datetime as dt
import io
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from seawall.core import Finding, Report, Target
from seawall.core.errors import InputError
from seawall.report.ocsf import to_event

SOURCE_NAMES = {2002: "vulnerability-finding", 2003: "compliance-finding", 2004: "detection-finding"}
JSON_FIELDS = ("data", "unmapped", "raw_data")  # free-form members kept as JSON text


@dataclass(frozen=True, slots=True)
class Written:
    key: str  # path or s3 key
    class_uid: int
    rows: int


def _event_day(event: dict[str, Any]) -> str:
    ms = event.get("end_time") or event.get("time") or int(time.time() * 1000)
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y%m%d")


def _jsonify(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (orjson.dumps(v).decode() if k in JSON_FIELDS and not isinstance(v, str) else _jsonify(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonify(v) for v in value]
    return value


def table_of(events: list[dict[str, Any]]) -> pa.Table:
    """Events of one class as an Arrow table (the struct type unions every event's fields)."""
    rows = sorted((_jsonify(e) for e in events), key=lambda e: e.get("time") or 0)
    try:
        return pa.Table.from_struct_array(pa.array(rows))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # a member whose type differs between events: keep every nested object as JSON text
        flat = [{k: orjson.dumps(v).decode() if isinstance(v, (dict, list)) else v for k, v in e.items()}
                for e in rows]
        return pa.Table.from_struct_array(pa.array(flat))


def write_findings(findings: Iterable[Finding], dest: str, region: str, account: str,
                   source_prefix: str = "seawall", s3_client: Any = None,
                   now_ms: int | None = None) -> list[Written]:
    """Write `findings` under `dest` in the custom-source layout; returns what was written."""
    if not region or not account:
        raise InputError("Security Lake export needs --region and --account")
    report = Report(target=Target(kind="export", name="seawall"))
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    groups: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        event = to_event(f, report, now_ms)
        event.setdefault("cloud", {"provider": "AWS", "region": region, "account": {"uid": account}})
        groups[(event["class_uid"], _event_day(event))].append(event)
    written: list[Written] = []
    for (class_uid, day), events in sorted(groups.items()):
        source = f"{source_prefix}-{SOURCE_NAMES.get(class_uid, str(class_uid))}"
        partition = f"ext/{source}/region={region}/accountId={account}/eventDay={day}"
        rel = f"{partition}/{uuid.uuid4().hex}.zstd.parquet"
        sink = io.BytesIO()
        pq.write_table(table_of(events), sink, compression="zstd")
        written.append(Written(_put(dest, rel, sink.getvalue(), s3_client), class_uid, len(events)))
    return written


def _put(dest: str, rel: str, data: bytes, s3_client: Any) -> str:
    if dest.startswith("s3://"):
        bucket, _, prefix = dest[len("s3://"):].partition("/")
        key = f"{prefix.rstrip('/')}/{rel}" if prefix else rel
        if s3_client is None:
            import boto3

            s3_client = boto3.client("s3")
        s3_client.put_object(Bucket=bucket, Key=key, Body=data)
        return f"s3://{bucket}/{key}"
    path = Path(dest) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return str(path)
