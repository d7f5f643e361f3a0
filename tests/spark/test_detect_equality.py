"""The Spark engine's findings equal the single process's on the same input: same rules, ids,
counts, workloads, first/last seen, samples and locations (issue: scale-out on Spark)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import pytest

from seawall import analyzers
from seawall.detect import DetectOptions
from seawall.spark import detect_files
from tests.conftest import run_cli

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "devtools/samples/logs"
SOURCES = ["k8s-audit", "cloudtrail", "container-logs", "falco", "tetragon"]


def _key(findings: list[Any]) -> list[tuple[Any, ...]]:
    return sorted((f.id, f.rule, f.count, f.first_seen, f.last_seen, f.resource.to_dict(),
                   f.location.to_dict(), f.evidence, str(f.extra.get("events"))) for f in findings)


def _single(source: str, paths: list[str]) -> Any:
    return analyzers.get("detect").run(paths, DetectOptions(source=source, paths=[], workers=1))


@pytest.mark.parametrize("source", SOURCES)
def test_every_bundled_sample_gives_the_same_findings(spark: Any, source: str) -> None:
    path = str(SAMPLES / source)
    one = _single(source, [path])
    assert one.findings, f"the {source} sample must raise findings for this test to mean anything"
    on_spark = detect_files(spark, [path], DetectOptions(source=source, paths=[]))
    assert _key(on_spark.findings) == _key(one.findings)
    assert on_spark.stats.events == one.target.metadata["events"]


def test_many_files_in_input_order_and_a_split_story(spark: Any, tmp_path: Path) -> None:
    """An audit log cut into 7 gzip files (as rotation leaves it): windows, thresholds and
    sequences that span files still come out as one process finds them in the whole log."""
    lines = gzip.decompress((SAMPLES / "k8s-audit/kube-apiserver-audit.log.gz").read_bytes()).splitlines(True)
    step = len(lines) // 7 + 1
    parts = tmp_path / "audit"
    parts.mkdir()
    for i in range(0, len(lines), step):
        (parts / f"audit-{i // step:02d}.log.gz").write_bytes(gzip.compress(b"".join(lines[i:i + step])))
    one = _single("k8s-audit", [str(parts)])
    on_spark = detect_files(spark, [str(parts)], DetectOptions(source="k8s-audit", paths=[]))
    assert len(one.findings) >= 5
    assert _key(on_spark.findings) == _key(one.findings)
    # the privileged-pod-then-exec sequence is among them: a stateful rule across files
    assert "SW-K8S-PRIV-POD-THEN-EXEC" in {f.rule for f in on_spark.findings}


def test_damaged_input_is_counted_not_fatal(spark: Any, tmp_path: Path) -> None:
    src = SAMPLES / "falco/falco_events.json"
    good = tmp_path / "good.json"
    shutil.copy(src, good)
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"not": "closed"\n\xff\xfe garbage\n')
    one = _single("falco", [str(tmp_path)])
    on_spark = detect_files(spark, [str(tmp_path)], DetectOptions(source="falco", paths=[]))
    assert _key(on_spark.findings) == _key(one.findings)
    assert on_spark.stats.malformed == 2
    assert any("malformed" in w for w in on_spark.warnings)


def test_cli_engine_spark_prints_the_same_report(tmp_path: Path) -> None:
    path = str(SAMPLES / "cloudtrail")
    local = run_cli("detect", "--source", "cloudtrail", path, "--no-state", "-f", "json")
    spark = run_cli("detect", "--source", "cloudtrail", path, "-f", "json", "--engine", "spark",
                    "--spark-master", "local[2]")
    assert local.returncode == 0 and spark.returncode == 0, spark.stderr[-2000:]
    import json

    a, b = json.loads(local.stdout), json.loads(spark.stdout)
    assert [f["id"] for f in a["findings"]] == [f["id"] for f in b["findings"]]
    assert b["target"]["metadata"]["engine"] == "spark"


def test_engine_spark_refuses_stdin() -> None:
    proc = run_cli("detect", "--source", "falco", "-", "--engine", "spark", input=b"{}\n")
    assert proc.returncode == 2 and "not stdin" in proc.stderr


def test_findings_as_a_dataframe(spark: Any) -> None:
    from seawall.spark.detect import findings_frame

    result = detect_files(spark, [str(SAMPLES / "tetragon")], DetectOptions(source="tetragon", paths=[]))
    frame = findings_frame(spark, result.findings)
    rows = frame.orderBy("id").collect()
    assert [r.id for r in rows] == sorted(f.id for f in result.findings)
    by_id = {f.id: f for f in result.findings}
    for r in rows:
        f = by_id[r.id]
        got = (r.rule, r["count"], r.first_seen, r.resource.name)
        assert got == (f.rule, f.count, f.first_seen, f.resource.name)
