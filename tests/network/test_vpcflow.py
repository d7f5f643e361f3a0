"""VPC Flow Logs reader: records exactly as AWS documents them, custom v7 formats with ECS
fields, gzip, CloudWatch Logs exports, and bad lines that are counted, never fatal."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from seawall.core.errors import InputError
from seawall.network import NetworkOptions, analyze, detect
from seawall.network.sources.vpcflow import VpcFlowSource
from tests.network import synth

# "Flow log record examples" (AWS VPC user guide), default format
V2_HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"  # noqa: E501
AWS_V2 = [
    "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",  # noqa: E501
    "2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389 6 20 4249 1418530010 1418530070 REJECT OK",  # noqa: E501
    "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
    "2 123456789010 eni-11111111aaaaaaaaa - - - - - - - 1431280876 1431280934 - SKIPDATA",
]

V7_HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
    "action log-status tcp-flags flow-direction pkt-srcaddr pkt-dstaddr ecs-cluster-name ecs-service-name "
    "ecs-task-id ecs-container-id"
)
TASK = "4f1a2b3c4d5e6f708192a3b4c5d6e7f8"
V7 = [
    # egress from an ECS service task to RDS, and the reply recorded on the same ENI
    f"7 123456789012 eni-0f1e2d3c4b5a69788 10.1.2.30 10.1.9.40 40122 5432 6 12 2400 1700000000 1700000060 ACCEPT OK 19 egress 10.1.2.30 10.1.9.40 prod checkout {TASK} c0ffee0123456789",  # noqa: E501
    f"7 123456789012 eni-0f1e2d3c4b5a69788 10.1.9.40 10.1.2.30 5432 40122 6 10 9000 1700000000 1700000060 ACCEPT OK 19 ingress 10.1.9.40 10.1.2.30 prod checkout {TASK} c0ffee0123456789",  # noqa: E501
    # a load balancer calling the task (ingress on the task ENI)
    f"7 123456789012 eni-0f1e2d3c4b5a69788 10.1.0.7 10.1.2.30 51000 8080 6 8 1600 1700000010 1700000070 ACCEPT OK 3 ingress 10.1.0.7 10.1.2.30 prod checkout {TASK} c0ffee0123456789",  # noqa: E501
    # a non-ECS ENI in the same log: ECS fields are "-"
    "7 123456789012 eni-0aaaaaaaaaaaaaaaa 10.1.3.3 52.94.0.10 45000 443 6 5 900 1700000020 1700000080 ACCEPT OK 3 egress 10.1.3.3 52.94.0.10 - - - -",  # noqa: E501
]


def write(tmp_path: Path, name: str, lines: list[str]) -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_aws_documented_v2_records(tmp_path: Path) -> None:
    a = analyze("vpc-flow", [write(tmp_path, "v2.log", [V2_HEADER, *AWS_V2])])
    assert a.stats["records"] == 4 and a.stats["flows"] == 2
    assert a.stats["skipped"] == {"NODATA records": 1, "SKIPDATA records": 1}
    edges = {(r["c_key"], r["s_key"], r["s_port"], r["rejects"]) for r in a.data.edges.iter_rows(named=True)}
    assert edges == {
        ("IPAddress:/172.31.16.139", "IPAddress:/172.31.16.21", 22, 0),
        ("IPAddress:/172.31.9.69", "IPAddress:/172.31.9.12", 3389, 1),
    }
    assert a.data.first == 1418530010 and a.data.last == 1418530070


def test_default_format_without_header_and_gzip(tmp_path: Path) -> None:
    path = tmp_path / "flows.log.gz"
    with gzip.open(path, "wt") as out:
        out.write("\n".join(AWS_V2) + "\n")
    a = analyze("vpc-flow", [str(path)])
    assert a.stats["flows"] == 2


def test_custom_v7_with_ecs_fields_attributes_the_task(tmp_path: Path) -> None:
    a = analyze("vpc-flow", [write(tmp_path, "v7.log", [V7_HEADER, *V7])])
    edges = {(r["c_key"], r["s_key"], r["s_port"]): r for r in a.data.edges.iter_rows(named=True)}
    # both records of the RDS connection fold into one client->server edge of the ECS service
    rds = edges[("ECSService:prod/checkout", "IPAddress:/10.1.9.40", 5432)]
    assert rds["flows"] == 2 and rds["bytes"] == 11400
    assert ("IPAddress:/10.1.0.7", "ECSService:prod/checkout", 8080) in edges
    assert ("IPAddress:/10.1.3.3", "External:/52.94.0.10", 443) in edges


def test_pkt_addresses_win_over_eni_addresses(tmp_path: Path) -> None:
    header = "version srcaddr dstaddr pkt-srcaddr pkt-dstaddr srcport dstport protocol packets bytes start end action log-status"  # noqa: E501
    line = "3 10.0.0.220 10.0.1.5 203.0.113.9 10.0.1.5 51515 443 6 3 300 1700000000 1700000060 ACCEPT OK"
    a = analyze("vpc-flow", [write(tmp_path, "nat.log", [header, line])])
    # the client is the internet address behind the NAT, not the NAT's ENI address (internet
    # clients fold into one "internet" node in edges)
    assert a.data.edges.select("c_key", "s_key").rows() == [("External:/internet", "IPAddress:/10.0.1.5")]


def test_cloudwatch_exports_text_and_json(tmp_path: Path) -> None:
    text = [f"2014-12-14T04:07:50.000Z {line}" for line in AWS_V2]
    a = analyze("vpc-flow", [write(tmp_path, "cw.txt", text)])
    assert a.stats["flows"] == 2 and a.stats["skipped"]["NODATA records"] == 1
    events = {
        "events": [
            {
                "logStreamName": "eni-1235b8ca123456789-all",
                "timestamp": 1418530070000,
                "message": line,
                "ingestionTime": 1418530080000,
                "eventId": str(i),
            }
            for i, line in enumerate(AWS_V2)
        ],
        "searchedLogStreams": [],
    }
    path = tmp_path / "cw.json"
    path.write_text(json.dumps(events))
    a = analyze("vpc-flow", [str(path)])
    assert a.stats["flows"] == 2


def test_custom_format_without_header_needs_the_format(tmp_path: Path) -> None:
    lines = [line.rsplit(" ", 4)[0] for line in V7]  # 18 fields
    path = write(tmp_path, "nohdr.log", lines)
    with pytest.raises(InputError, match="--vpc-format"):
        analyze("vpc-flow", [path])
    fmt = " ".join("${" + f + "}" for f in V7_HEADER.split()[:18])
    a = analyze("vpc-flow", [path], NetworkOptions(vpc_format=fmt))
    assert a.stats["flows"] == 4
    with pytest.raises(InputError, match="unknown VPC flow log field"):
        analyze("vpc-flow", [path], NetworkOptions(vpc_format="${version} ${nonsense}"))


def test_bad_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    lines = [
        V2_HEADER,
        AWS_V2[0],
        "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641",  # too few
        AWS_V2[0] + " surplus fields here",  # too many
        "2 123456789010 eni-1 not-an-ip-but-text 172.31.16.21 x y z 20 4249 1 2 ACCEPT OK",  # junk values
        V2_HEADER,  # concatenated file
        "\x00\xff garbage \xfe",
    ]
    a = analyze("vpc-flow", [write(tmp_path, "bad.log", lines)], NetworkOptions(batch_bytes=64))
    assert a.stats["skipped"]["records with the wrong field count"] == 3
    assert a.stats["skipped"]["repeated header lines"] == 1
    assert a.stats["flows"] == 2  # the good record, and the junk one with its readable fields
    assert any("wrong field count" in w for w in a.all_warnings())


def test_ipv6_and_missing_files(tmp_path: Path) -> None:
    line = "2 123456789010 eni-1 2001:db8::10 2600:1f18::5 40000 443 6 4 400 1700000000 1700000060 ACCEPT OK"
    a = analyze("vpc-flow", [write(tmp_path, "v6.log", [V2_HEADER, line])])
    assert a.data.edges["s_key"].to_list() == ["External:/2600:1f18::5"]
    with pytest.raises(InputError, match="no such flow log file"):
        detect("vpc-flow", [str(tmp_path / "missing.log")])
    (tmp_path / "d.gz").write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate")
    with pytest.raises(InputError):
        detect("vpc-flow", [str(tmp_path / "d.gz")])


def test_internet_addresses_are_bounded(tmp_path: Path) -> None:
    lines = [V2_HEADER] + [
        f"2 1 eni-1 10.0.0.5 198.{i // 250}.{i % 250}.9 {40000 + i} 443 6 3 300 1700000000 1700000060 ACCEPT OK"  # noqa: E501
        for i in range(600)
    ]
    a = analyze("vpc-flow", [write(tmp_path, "many.log", lines)], NetworkOptions(max_addresses=100))
    servers = a.data.edges["s_key"].to_list()
    assert "External:/other" in servers and len(servers) <= 101
    assert a.data.edges["flows"].sum() == 600


def _edges(a: Any) -> list[tuple[Any, ...]]:
    return sorted(a.data.edges.select("c_key", "s_key", "s_port", "flows", "bytes", "rejects").iter_rows())


def test_a_plain_log_read_in_small_chunks_is_the_gzip_log_read_whole(tmp_path: Path) -> None:
    story, _ = synth.write(tmp_path, story=True, seed=2)
    text = b"".join(gzip.decompress(story.read_bytes()).splitlines(keepends=True)[:4001])
    plain = tmp_path / "plain.log"
    plain.write_bytes(text.rstrip(b"\n"))  # the last record without its line break
    packed = tmp_path / "packed.log.gz"
    packed.write_bytes(gzip.compress(text))
    whole = analyze("vpc-flow", [str(packed)])
    for size in (4096, 65_537):  # chunk ends fall inside records, at many page offsets
        cut = analyze("vpc-flow", [str(plain)], NetworkOptions(batch_bytes=size))
        assert cut.stats["records"] == whole.stats["records"] == 4000
        assert cut.stats["skipped"] == whole.stats["skipped"] == {}
        assert _edges(cut) == _edges(whole)


def test_a_line_longer_than_four_chunks_is_not_a_log(tmp_path: Path) -> None:
    path = tmp_path / "blob.log"
    record = AWS_V2[0].encode()
    path.write_bytes(V2_HEADER.encode() + b"\n" + record + b"\n" + b"x" * 5000 + b"\n" + record)
    a = analyze("vpc-flow", [str(path)], NetworkOptions(batch_bytes=1024))
    assert a.stats["flows"] == 1  # the record before the blob
    assert any("no line break in 4096 bytes; not a text log" in w for w in a.all_warnings())
    # a long line within four chunks is one damaged record, the others still count
    a = analyze("vpc-flow", [str(path)], NetworkOptions(batch_bytes=2048))
    assert a.stats["flows"] == 2
    assert a.stats["skipped"] == {"records with the wrong field count": 1}


def test_a_log_truncated_while_it_is_read_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    story, _ = synth.write(tmp_path, story=True, seed=3)
    path = tmp_path / "live.log"
    path.write_bytes(gzip.decompress(story.read_bytes()))
    source = VpcFlowSource(NetworkOptions(batch_bytes=64 << 10))
    batches = source.read([str(path)])
    first = next(batches)
    assert first.flows.height > 100
    with path.open("r+b") as handle:  # log rotation by truncation, as the reader goes on
        handle.truncate(1000)
    rest = list(batches)  # no SIGBUS: the reader stops at the next chunk
    assert sum(b.flows.height for b in rest) == 0
    assert any("truncated while it was read" in w for w in source.warnings)
