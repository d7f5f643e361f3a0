"""Hostile and damaged flow input: a damaged record costs that record, a damaged file costs that
file (the good input is still analyzed), nothing printable reaches the terminal raw, and no
secret seen on the wire is printed in full."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.network import synth
from tests.network.test_hubble import API, DNS, dns_flow

HEADER = b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"  # noqa: E501
GOOD = b"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n"  # noqa: E501
STORY = {"net-port-scan", "net-lateral-admin-port", "net-beaconing", "net-exfiltration"}


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return synth.write(tmp_path_factory.mktemp("hostile"), story=True, seed=1)


def _rules(stdout: str) -> set[str]:
    return {f["rule"] for f in json.loads(stdout)["findings"]}


def test_an_invalid_utf8_record_is_counted_and_the_good_files_keep_their_findings(
    day: tuple[Path, Path], tmp_path: Path
) -> None:
    story, inv = day
    bad = tmp_path / "bad.log"
    bad.write_bytes(HEADER + GOOD + GOOD.replace(b"172.31.16.139", b"172.31.16.1\xff9") + GOOD)
    proc = run_cli("detect", "--source", "vpc-flow", str(bad), str(story), "--inventory", str(inv),
                   "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert _rules(proc.stdout) == STORY
    assert ("vpc-flow records with invalid UTF-8 (damaged) not analyzed: bytes that are not UTF-8"
            in proc.stderr)
    report = json.loads(proc.stdout)
    assert {"subject": "vpc-flow records with invalid UTF-8 (damaged)", "reason": "bytes that are not UTF-8",
            "count": 1, "category": "damaged"} in report["skipped"]
    assert report["target"]["metadata"]["flows"] > 70_000  # the two good records of bad.log too


def test_the_same_damaged_record_in_gzip_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.log.gz"
    bad.write_bytes(gzip.compress(HEADER + GOOD + GOOD.replace(b"ACCEPT", b"ACC\xc3PT")))
    proc = run_cli("detect", "--source", "vpc-flow", str(bad), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["target"]["metadata"]["flows"] == 1
    assert "invalid UTF-8" in proc.stderr


def test_a_truncated_gzip_log_is_a_warning_and_its_records_before_the_cut_count(
    day: tuple[Path, Path], tmp_path: Path
) -> None:
    story, inv = day
    data = story.read_bytes()
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(data[: len(data) * 3 // 4])
    proc = run_cli("detect", "--source", "vpc-flow", str(cut), "--inventory", str(inv), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "truncated gzip stream" in proc.stderr and "cut.log.gz" in proc.stderr
    report = json.loads(proc.stdout)
    assert 0 < report["target"]["metadata"]["records"] < 90_000
    assert any("truncated gzip" in w for w in report["warnings"])


def test_a_fully_truncated_gzip_log_alone_is_exit_2_with_one_line(tmp_path: Path) -> None:
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(gzip.compress(HEADER + GOOD * 100)[:15])
    proc = run_cli("detect", "--source", "vpc-flow", str(cut))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no flow record could be read" in lines[0] and "truncated gzip" in lines[0]
    assert "Traceback" not in proc.stderr
    # beside a readable file: a warning, and the readable file is analyzed
    good = tmp_path / "good.log"
    good.write_bytes(HEADER + GOOD)
    proc = run_cli("detect", "--source", "vpc-flow", str(cut), str(good), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "cut.log.gz: truncated gzip stream: nothing could be decompressed" in proc.stderr
    assert json.loads(proc.stdout)["target"]["metadata"]["flows"] == 1


def test_a_corrupt_gzip_member_keeps_the_records_before_it(tmp_path: Path) -> None:
    first = gzip.compress(HEADER + GOOD * 10)
    second = bytearray(gzip.compress(GOOD * 10))
    second[20:30] = b"\x00" * 10
    bad = tmp_path / "two-members.log.gz"
    bad.write_bytes(first + bytes(second))
    proc = run_cli("detect", "--source", "vpc-flow", str(bad), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "corrupt gzip data" in proc.stderr
    assert json.loads(proc.stdout)["target"]["metadata"]["flows"] == 10


def test_a_file_of_another_format_is_skipped_beside_good_ones(tmp_path: Path) -> None:
    other = tmp_path / "other.log"
    other.write_text("just some words\nthat are not flow records\n")
    good = tmp_path / "good.log"
    good.write_bytes(HEADER + GOOD)
    proc = run_cli("detect", "--source", "vpc-flow", str(other), str(good), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "other.log" in proc.stderr and "file skipped" in proc.stderr


def test_terminal_escapes_never_reach_dot_output(tmp_path: Path) -> None:
    hostile = b"2 123456789010 eni-1 10.0.0.5 \x1b]0;owned\x07\x1b[31m\"x\\ 40000 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n"  # noqa: E501
    flows = tmp_path / "hostile.log"
    flows.write_bytes(HEADER + GOOD + hostile)
    proc = run_cli("netmap", "--source", "vpc-flow", str(flows), "--format", "dot")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert '?]0;owned??[31m\\"x\\\\' in proc.stdout  # shown as data, quotes and backslash escaped
    # JSON keeps the value intact (it is data, escaped by JSON itself)
    proc = run_cli("netmap", "--source", "vpc-flow", str(flows), "--format", "json")
    assert any("\x1b]0;owned" in n["id"] for n in json.loads(proc.stdout)["nodes"])


def test_secrets_in_names_seen_on_the_wire_are_redacted(tmp_path: Path) -> None:
    key = "AKIAIOSFODNN7EXAMPLE"
    lines = [dns_flow(f"2026-11-02T10:00:{i:02d}Z", f"{key}.x{i}.pool.minexmr.com.") for i in range(3)]
    path = tmp_path / "hubble.json"
    path.write_text("\n".join(lines) + "\n")
    proc = run_cli("detect", "--source", "hubble", str(path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    findings = json.loads(proc.stdout)["findings"]
    mining = [f for f in findings if f["rule"] == "net-crypto-mining"]
    assert mining and "AKIA****" in mining[0]["evidence"]
    assert key not in proc.stdout
    proc = run_cli("detect", "--source", "hubble", str(path))  # the table too
    assert key not in proc.stdout and "AKIA****" in proc.stdout
    assert API and DNS  # the endpoints the DNS flows use
