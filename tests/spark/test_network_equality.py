"""Network analysis on Spark equals the single process: a day of VPC Flow Logs with an attack
story (scan, lateral movement to admin ports, beaconing, exfiltration), cut into hourly files as
S3 delivers them, gives the same findings; so does the bundled sample."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from seawall import analyzers
from seawall.network.options import NetworkOptions
from seawall.spark.network import analyze_files
from tests.network import synth

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "src/seawall/data/samples/network"


def _key(findings: list[Any]) -> list[tuple[Any, ...]]:
    return sorted((f.id, f.rule, f.severity.value, f.count, f.evidence, f.first_seen, f.last_seen,
                   f.resource.to_dict()) for f in findings)


def test_bundled_sample(spark: Any) -> None:
    options = NetworkOptions(source="vpc-flow", inventory=[SAMPLES / "kubectl-inventory.json"])
    path = str(SAMPLES / "vpc-flow-logs.log.gz")
    one = analyzers.get("network").run([path], options)
    assert one.findings
    on_spark = analyze_files(spark, [path], options)
    assert _key(on_spark.report.findings) == _key(one.findings)


def test_story_day_in_hourly_files(spark: Any, tmp_path: Path) -> None:
    flows, inventory = synth.write(tmp_path / "whole", story=True, seed=1)
    lines = gzip.decompress(flows.read_bytes()).decode().splitlines()
    header, records = lines[0], lines[1:]
    hourly = tmp_path / "hourly"
    hourly.mkdir()
    step = len(records) // 24 + 1
    for i in range(0, len(records), step):
        part = "\n".join([header, *records[i:i + step]]) + "\n"
        (hourly / f"flows-{i // step:02d}.log.gz").write_bytes(gzip.compress(part.encode()))
    options = NetworkOptions(source="vpc-flow", inventory=[inventory])
    one = analyzers.get("network").run([str(flows)], options)
    rules = {f.rule for f in one.findings}
    assert {"net-port-scan", "net-lateral-admin-port", "net-beaconing", "net-exfiltration"} <= rules
    on_spark = analyze_files(spark, [str(hourly)], options)

    def story(findings: list[Any]) -> list[tuple[Any, ...]]:  # (ids name their file: compare the rest)
        return sorted((f.rule, f.severity.value, f.count, f.evidence, f.first_seen, f.last_seen,
                       f.resource.to_dict()) for f in findings)

    assert story(on_spark.report.findings) == story(one.findings)
    files = [str(f) for f in sorted(hourly.iterdir())]
    single = analyzers.get("network").run(files, options)
    assert on_spark.collected.edges.height == single.target.metadata["edges"]


def test_damaged_files_among_good_ones(spark: Any, tmp_path: Path) -> None:
    """A truncated gzip file and a record with a byte that is not UTF-8 beside good files: the
    same findings and the same warnings as the single process, naming the user's files."""
    sample = SAMPLES / "vpc-flow-logs.log.gz"
    lines = gzip.decompress(sample.read_bytes()).splitlines()
    good = tmp_path / "good.log.gz"
    good.write_bytes(sample.read_bytes())
    bad_byte = tmp_path / "bad-byte.log.gz"
    bad_byte.write_bytes(gzip.compress(b"\n".join([lines[0], lines[1].replace(b" ACCEPT", b" \xffACCEPT"),
                                                   *lines[2:50]]) + b"\n"))
    whole = gzip.compress(b"\n".join(lines[:200]) + b"\n")
    truncated = tmp_path / "truncated.log.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    options = NetworkOptions(source="vpc-flow", inventory=[SAMPLES / "kubectl-inventory.json"])
    files = [str(good), str(bad_byte), str(truncated)]
    one = analyzers.get("network").run(files, options)
    on_spark = analyze_files(spark, files, options)
    assert _key(on_spark.report.findings) == _key(one.findings)
    warned = on_spark.report.all_warnings()
    assert one.skips and sorted(warned) == sorted(one.all_warnings())
    assert any("truncated.log.gz" in w for w in warned)
    assert any("invalid UTF-8" in w for w in warned)
    assert not any("seawall-spark-" in w for w in warned)
