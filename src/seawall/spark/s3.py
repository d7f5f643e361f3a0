"""S3 inputs without Hadoop's S3A connector: objects listed on the driver and read in the
executors with boto3 (bounded reads). Spark reads `s3a://` itself when the cluster has the
hadoop-aws jars (EMR's EMRFS serves `s3://`); this path serves `s3://` everywhere else — a
local session, a cluster without the connector — and is what the tests run against moto."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from seawall.core.errors import InputError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

MAX_OBJECT_BYTES = 1 << 30


def endpoint() -> str | None:
    """A non-AWS S3 endpoint (a local moto server, MinIO ...), read on the driver."""
    return os.environ.get("SEAWALL_AWS_ENDPOINT_URL") or None


def _client(endpoint_url: str | None):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client("s3", endpoint_url=endpoint_url)


def split(uri: str) -> tuple[str, str]:
    rest = uri.split("://", 1)[1]
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix


def list_objects(prefixes: list[str]) -> list[tuple[str, int]]:
    """Every object under the prefixes (s3://bucket/prefix), as (uri, size), sorted by key."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = _client(endpoint())
    out: list[tuple[str, int]] = []
    for uri in prefixes:
        bucket, prefix = split(uri)
        try:
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    name = obj["Key"].rsplit("/", 1)[-1]
                    if obj["Key"].endswith("/") or name.startswith("."):
                        continue
                    out.append((f"s3://{bucket}/{obj['Key']}", int(obj["Size"])))
        except (ClientError, BotoCoreError) as exc:
            raise InputError(f"{uri}: cannot list: {exc}") from None
    return sorted(out)


def _fetcher(endpoint_url: str | None) -> Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The executor side: read each listed object (credentials: the executors' own AWS chain)."""
    def fetch(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        client = _client(endpoint_url)
        for batch in batches:
            yield _read_batch(client, batch)
    return fetch


def _read_batch(client: Any, batch: pa.RecordBatch) -> pa.RecordBatch:
    paths = batch.column("path").to_pylist()
    lengths = batch.column("length").to_pylist()
    contents = []
    for uri, length in zip(paths, lengths, strict=True):
        bucket, key = split(uri)
        if length > MAX_OBJECT_BYTES:
            contents.append(b"")
            continue
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        contents.append(body.read(MAX_OBJECT_BYTES + 1)[:MAX_OBJECT_BYTES])
    arrays = [pa.array(paths, pa.string()), pa.array(lengths, pa.int64()), pa.array(contents, pa.binary())]
    return pa.RecordBatch.from_arrays(arrays, names=["path", "length", "content"])


def objects_frame(spark: SparkSession, objects: list[tuple[str, int]]) -> DataFrame:
    """(path, length, content) rows of the objects, one partition per few objects."""
    if not objects:
        raise InputError("no S3 objects to read")
    slices = max(1, min(len(objects), spark.sparkContext.defaultParallelism * 4))
    listing = spark.createDataFrame(objects, "path string, length long").repartition(slices)
    return listing.mapInArrow(_fetcher(endpoint()), "path string, length long, content binary")
