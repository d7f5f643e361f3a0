"""Pulled sources against real parts: S3 and CloudWatch Logs in moto's server, files tailed
through rotation and truncation; a kill -9 in between changes no count."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import time
from pathlib import Path

import boto3
import pytest

from tests.conftest import run_cli
from tests.service.conftest import AUDIT_LOG, REPO, all_pages, make_token, source_row, wait_for, write_config

pytestmark = pytest.mark.slow
TRAIL = next((REPO / "devtools/samples/logs/cloudtrail").glob("*.json.gz"))
POD_LOG = next((REPO / "devtools/samples/logs/container-logs/var/log/pods").glob("*/nginx/0.log"))
CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
}
PREFIX = "AWSLogs/111122223333/CloudTrail/eu-west-1/"


def _detect(source: str, *paths: Path) -> list[tuple[str, int]]:
    out = run_cli("detect", "--source", source, *map(str, paths), "--format", "json", "--no-state")
    assert out.returncode in (0, 1), out.stderr
    return sorted((f["rule"], f["count"]) for f in json.loads(out.stdout)["findings"])


def _client(url: str, service: str):
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_s3_cloudwatch_and_files_with_a_kill_in_between(
    tmp_path, database, service_factory, moto_url
) -> None:
    s3 = _client(moto_url, "s3")
    s3.create_bucket(Bucket="org-logs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="org-logs", Key=PREFIX + "2026/03/02/" + TRAIL.name, Body=TRAIL.read_bytes())
    s3.put_object(Bucket="org-logs", Key="elsewhere/ignored.json.gz", Body=TRAIL.read_bytes())
    logs = _client(moto_url, "logs")
    group, stream = "/aws/eks/prod/cluster", "kube-apiserver-audit-0123"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    audit = [x for x in gzip.decompress(AUDIT_LOG.read_bytes()).decode().splitlines() if x.strip()]
    half = len(audit) // 2
    now = int(time.time() * 1000)

    def put(lines: list[str], start: int) -> None:
        for i in range(0, len(lines), 1000):
            logs.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[
                    {"timestamp": now + start + i + j, "message": m}
                    for j, m in enumerate(lines[i : i + 1000])
                ],
            )

    put(audit[:half], 0)
    pods = tmp_path / "pods"
    tailed = pods / "shop_frontend-6f7d9c8b4-x2kqz_0f6b1c1e-3a7d-4f59-9d0e-6b9c2f4e8a11" / "nginx" / "0.log"
    tailed.parent.mkdir(parents=True)
    pod_lines = POD_LOG.read_bytes().splitlines(keepends=True)
    third = len(pod_lines) // 3
    tailed.write_bytes(b"".join(pod_lines[:third]))

    aws = {"region": "eu-west-1", "endpoint_url": moto_url, "poll_interval": 0.5}
    config = write_config(
        tmp_path,
        database,
        sources=[
            {
                "name": "trail",
                "type": "s3",
                "format": "cloudtrail",
                "bucket": "org-logs",
                "prefix": PREFIX,
                **aws,
            },
            {
                "name": "eks",
                "type": "cloudwatch",
                "format": "k8s-audit",
                "log_group": group,
                "stream_prefix": "kube-apiserver-audit",
                **aws,
            },
            {
                "name": "pods",
                "type": "file",
                "format": "container-logs",
                "paths": [str(pods)],
                "poll_interval": 0.2,
            },
        ],
    )
    token = make_token(config, "viewer")
    svc = service_factory(config, env=CREDS).start()
    n_trail = len(json.loads(gzip.decompress(TRAIL.read_bytes()))["Records"])
    with svc.client(token) as c:
        wait_for(lambda: source_row(c, "trail")["events_in"] == n_trail, what="the S3 object")
        wait_for(lambda: source_row(c, "eks")["events_in"] == half, what="half of the log stream")
        wait_for(lambda: source_row(c, "pods")["events_in"] == third, what="a third of the pod log")
    svc.kill()  # kill -9; more arrives while the service is down
    put(audit[half:], half)
    os.rename(tailed, tailed.with_name("0.log.20260302-094500"))  # rotated by the kubelet ...
    with open(tailed.with_name("0.log.20260302-094500"), "ab") as fh:  # ... after a last write
        fh.write(b"".join(pod_lines[third : 2 * third]))
    tailed.write_bytes(b"".join(pod_lines[2 * third :]))
    svc.start()
    with svc.client(token) as c:
        wait_for(lambda: source_row(c, "eks")["events_in"] == len(audit), what="the rest of the stream")
        wait_for(lambda: source_row(c, "pods")["events_in"] == len(pod_lines), what="the rotated pod log")
        assert source_row(c, "trail")["events_in"] == n_trail  # not read twice
        trail = all_pages(c, "/api/v1/findings", source="trail")
        eks = all_pages(c, "/api/v1/findings", source="eks")
        assert sorted((f["rule"], f["count"]) for f in trail) == _detect("cloudtrail", TRAIL)
        assert sorted((f["rule"], f["count"]) for f in eks) == _detect("k8s-audit", AUDIT_LOG)
        assert all(f["location"]["path"] == f"cloudwatch:{group}/{stream}" for f in eks)
        pods_found = all_pages(c, "/api/v1/findings", source="pods")
        assert pods_found and all(f["workload"] == "k8s/shop/Deployment/frontend" for f in pods_found)
        whole = tmp_path / "whole" / tailed.relative_to(tmp_path)
        whole.parent.mkdir(parents=True)
        shutil.copy(POD_LOG, whole)
        assert sorted(f["rule"] for f in pods_found) == sorted(r for r, _ in _detect("container-logs", whole))
        # the raw events are archived and can be read back per workload
        events = c.get("/api/v1/events", params={"source": "eks", "namespace": "data", "limit": 5000}).json()
        assert events["items"] and all(
            e["event"]["objectRef"]["namespace"] == "data" for e in events["items"]
        )
    out = run_cli("events", "--config", str(config), "--source", "pods", "--workload", "frontend")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == len(pod_lines)


def test_flow_logs_tailed_through_the_streaming_network_analyzer(tmp_path, service_factory) -> None:
    samples = REPO / "src/seawall/data/samples/network"
    flows, inventory = samples / "vpc-flow-logs.log.gz", samples / "kubectl-inventory.json"
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        sources=[
            {
                "name": "flows",
                "type": "file",
                "format": "vpc-flow",
                "paths": [str(flows)],
                "inventory": [str(inventory)],
            }
        ],
    )
    token = make_token(config, "viewer")
    svc = service_factory(config).start()
    out = run_cli(
        "detect", "--source", "vpc-flow", str(flows), "--inventory", str(inventory), "--format", "json"
    )
    assert out.returncode in (0, 1), out.stderr
    expected = sorted((f["rule"], f["count"]) for f in json.loads(out.stdout)["findings"])
    assert expected
    with svc.client(token) as c:
        found = wait_for(
            lambda: (f := all_pages(c, "/api/v1/findings", source="flows")) and len(f) == len(expected) and f,
            timeout=90,
            what="network findings",
        )
        assert sorted((f["rule"], f["count"]) for f in found) == expected


def test_a_line_over_the_cap_is_dropped_counted_and_shown_for_its_source(tmp_path, service_factory) -> None:
    """A tailed line longer than the line cap (4 MiB) is skipped whole -- none of its bytes read as
    events -- and counted as dropped for its own source, in /api/v1/sources and in /metrics."""
    from seawall.service.sources.file import MAX_LINE

    audit = [x for x in gzip.decompress(AUDIT_LOG.read_bytes()).decode().splitlines() if x.strip()][:200]
    big, small = tmp_path / "big", tmp_path / "small"
    big.mkdir()
    small.mkdir()
    huge = '{"kind":"Event","padding":"' + "x" * (MAX_LINE + 1000) + '"}'
    (big / "audit.log").write_text("\n".join([*audit[:100], huge, *audit[100:]]) + "\n")
    (small / "audit.log").write_text("\n".join(audit) + "\n")
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        sources=[
            {"name": "big", "type": "file", "format": "k8s-audit", "paths": [str(big)]},
            {"name": "small", "type": "file", "format": "k8s-audit", "paths": [str(small)]},
        ],
    )
    token = make_token(config, "viewer")
    svc = service_factory(config).start()
    with svc.client(token) as c:
        wait_for(
            lambda: (
                source_row(c, "big")["events_in"] == len(audit)
                and source_row(c, "small")["events_in"] == len(audit)
            ),
            what="both files read",
        )
        time.sleep(1.5)  # a few more polls: the rest of the long line must not come in later
        big_row, small_row = source_row(c, "big"), source_row(c, "small")
        assert (big_row["events_in"], big_row["dropped"], big_row["malformed"]) == (len(audit), 1, 0), big_row
        assert (small_row["events_in"], small_row["dropped"], small_row["malformed"]) == (len(audit), 0, 0)
        metrics = c.get("/metrics").text
        assert 'seawall_dropped_total{source="big"} 1.0' in metrics
        assert 'seawall_dropped_total{source="small"} 0.0' in metrics
