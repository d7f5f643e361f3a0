"""The streaming network analyzer: raw lines in batches, a snapshot and a restart in the middle,
and the same findings as the one-shot run on the file."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from seawall import analyzers
from seawall.analyzers import Batch, StreamingAnalyzer
from seawall.core.errors import InputError
from seawall.network import NetworkOptions
from seawall.network.snapshot import MAGIC

SAMPLES = Path(__file__).resolve().parents[2] / "src/seawall/data/samples/network"
FLOWS = SAMPLES / "vpc-flow-logs.log.gz"
INVENTORY = SAMPLES / "kubectl-inventory.json"
HUBBLE = SAMPLES / "hubble-flows.json"
STORY = {"net-port-scan", "net-lateral-admin-port", "net-beaconing", "net-exfiltration"}


def _key(findings: list) -> list[tuple]:
    return sorted((f.id, f.rule, f.severity.value, f.count, f.first_seen, f.last_seen, f.evidence)
                  for f in findings)


def _stream(options: NetworkOptions, lines: list[bytes], origin: str, size: int,
            restart_at: int | None = None) -> tuple[list, dict]:
    network = analyzers.get_streaming("network")
    stream = network.open_stream(options)
    for start in range(0, len(lines), size):
        if restart_at is not None and start >= restart_at:
            blob = stream.snapshot()
            assert blob.startswith(MAGIC) and b"ARROW1" in blob  # JSON + Arrow IPC, no pickle
            stream.close()
            stream = network.open_stream(options, state=blob)
            restart_at = None
        assert stream.feed(Batch(lines=lines[start:start + size], origin=origin,
                                 first_lineno=start + 1)) == []
    findings = stream.flush()
    report = stream.report()
    stream.close()
    return findings, report.target.metadata


def test_network_is_a_streaming_analyzer() -> None:
    assert isinstance(analyzers.get("network"), StreamingAnalyzer)


def test_vpc_flow_stream_with_a_restart_equals_the_one_shot_run() -> None:
    network = analyzers.get_streaming("network")
    options = NetworkOptions(source="vpc-flow", inventory=[INVENTORY])
    one_shot = network.run([str(FLOWS)], options)
    assert {f.rule for f in one_shot.findings} == STORY
    lines = gzip.decompress(FLOWS.read_bytes()).splitlines()
    findings, stats = _stream(options, lines, str(FLOWS), 7000, restart_at=len(lines) // 2)
    assert _key(findings) == _key(one_shot.findings)
    assert stats["records"] == one_shot.target.metadata["records"] == len(lines) - 1
    assert stats["edges"] == one_shot.target.metadata["edges"]
    # another batching, no restart: the same again
    findings, _ = _stream(options, lines, str(FLOWS), 20_011)
    assert _key(findings) == _key(one_shot.findings)


def test_hubble_stream_with_a_restart_equals_the_one_shot_run() -> None:
    network = analyzers.get_streaming("network")
    options = NetworkOptions(source="hubble")
    one_shot = network.run([str(HUBBLE)], options)
    assert one_shot.target.metadata["records"] > 0
    lines = HUBBLE.read_bytes().splitlines()
    findings, stats = _stream(options, lines, str(HUBBLE), 2, restart_at=4)
    assert _key(findings) == _key(one_shot.findings)
    assert stats["records"] == one_shot.target.metadata["records"]


def test_each_origin_keeps_its_own_header_and_bad_lines_are_counted() -> None:
    lines = gzip.decompress(FLOWS.read_bytes()).splitlines()[:2001]
    v2 = [b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
          b"start end action log-status",
          b"2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 "
          b"ACCEPT OK"]
    stream = analyzers.get_streaming("network").open_stream(NetworkOptions(source="vpc-flow"))
    stream.feed(Batch(lines=lines[:1000], origin="a"))
    stream.feed(Batch(lines=v2, origin="b"))
    stream.feed(Batch(lines=[*lines[1000:], b"not a flow record"], origin="a"))
    report = stream.report()
    assert report.target.metadata["records"] == 2000 + 1 + 1
    assert report.target.metadata["flows"] == 2001
    assert any("wrong field count" in w for w in report.all_warnings())


def test_damaged_or_foreign_snapshots_are_input_errors() -> None:
    network = analyzers.get_streaming("network")
    with pytest.raises(InputError, match="snapshot"):
        network.open_stream(NetworkOptions(source="vpc-flow"), state=b"\x80\x04garbage")
    blob = network.open_stream(NetworkOptions(source="vpc-flow")).snapshot()
    with pytest.raises(InputError, match="snapshot"):
        network.open_stream(NetworkOptions(source="vpc-flow"), state=blob[:-10])
    with pytest.raises(InputError, match="snapshot of source"):
        network.open_stream(NetworkOptions(source="hubble"), state=blob)
    with pytest.raises(InputError, match="pcap"):
        network.open_stream(NetworkOptions(source="pcap"))
