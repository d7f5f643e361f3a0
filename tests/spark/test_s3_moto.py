"""CloudTrail as S3 delivers it (AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz) in a
moto S3 server, read by the Spark engine: the same findings as the files on disk.

Spark's own S3A connector needs the hadoop-aws jars, which are on Maven Central only (not
reachable from this machine): `s3://` objects are read through boto3 in the executors here."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from seawall import analyzers
from seawall.detect import DetectOptions
from seawall.spark.detect import detect_files

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TRAIL = REPO / "devtools/samples/logs/cloudtrail"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def test_cloudtrail_prefix_in_s3(spark: Any, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEAWALL_AWS_ENDPOINT_URL", s3_endpoint)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="eu-west-1")
    s3.create_bucket(Bucket="trail", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for f in sorted(TRAIL.glob("*.json.gz")):
        key = f"AWSLogs/111122223333/CloudTrail/eu-west-1/2026/03/02/{f.name}"
        s3.put_object(Bucket="trail", Key=key, Body=f.read_bytes())
    prefix = "s3://trail/AWSLogs/111122223333/CloudTrail/"
    on_spark = detect_files(spark, [prefix], DetectOptions(source="cloudtrail", paths=[]))
    one = analyzers.get("detect").run([str(TRAIL)], DetectOptions(source="cloudtrail", paths=[], workers=1))

    def key(findings: list[Any]) -> list[tuple[Any, ...]]:
        return sorted((f.rule, f.count, f.first_seen, f.last_seen, f.resource.to_dict(), f.location.line)
                      for f in findings)

    assert len(one.findings) >= 10
    assert key(on_spark.findings) == key(one.findings)
    assert all(f.location.path.startswith("s3://trail/AWSLogs/") for f in on_spark.findings)
