"""The one analyzer contract: every analyzer entered one way, detect streaming = one-shot."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from seawall import analyzers
from seawall.analyzers import Analyzer, Batch, StreamingAnalyzer
from seawall.core import ReportKind
from seawall.core.errors import InputError
from seawall.detect import DetectOptions
from seawall.report import check_format, formats_for

REPO = Path(__file__).resolve().parents[2]
AUDIT_LOG = REPO / "devtools/samples/logs/k8s-audit/kube-apiserver-audit.log.gz"


def test_every_registered_analyzer_follows_the_protocol() -> None:
    for name in analyzers.ANALYZERS:
        analyzer = analyzers.get(name)
        assert isinstance(analyzer, Analyzer)
        assert analyzer.name == name
    assert isinstance(analyzers.get("detect"), StreamingAnalyzer)


def test_unknown_analyzer_is_one_line_error() -> None:
    with pytest.raises(InputError, match="unknown analyzer"):
        analyzers.get("nope")


def test_formats_declare_report_kinds() -> None:
    assert "spdx-json" in formats_for(ReportKind.SBOM)
    assert "spdx-json" not in formats_for(ReportKind.FINDINGS)
    assert "sarif" not in formats_for(ReportKind.SBOM)
    with pytest.raises(InputError, match="for audit"):
        check_format("spdx-json", ReportKind.FINDINGS, "audit")
    assert check_format("spdx", ReportKind.SBOM, "sbom") == "spdx-json"


def _lines() -> list[bytes]:
    return gzip.decompress(AUDIT_LOG.read_bytes()).splitlines()


def _key(findings: list) -> list[tuple]:
    return sorted((f.id, f.rule, f.count, f.first_seen, f.last_seen) for f in findings)


def test_detect_stream_equals_one_shot_and_survives_a_snapshot(tmp_path: Path) -> None:
    detect = analyzers.get_streaming("detect")
    one_shot = detect.run([str(AUDIT_LOG)], DetectOptions(source="k8s-audit", paths=[], workers=1))
    assert one_shot.findings, "the sample must raise findings for this test to mean anything"

    lines = _lines()
    origin = str(AUDIT_LOG)
    half = len(lines) // 2
    stream = detect.open_stream(DetectOptions(source="k8s-audit", paths=[]))
    changed = []
    for start in range(0, half, 500):
        changed += stream.feed(Batch(lines=lines[start:min(start + 500, half)], origin=origin,
                                     first_lineno=start + 1))
    blob = stream.snapshot()
    stream.close()

    resumed = detect.open_stream(DetectOptions(source="k8s-audit", paths=[]), state=blob)
    for start in range(half, len(lines), 500):
        changed += resumed.feed(Batch(lines=lines[start:start + 500], origin=origin, first_lineno=start + 1))
    final = resumed.flush()
    assert _key(final) == _key(one_shot.findings)
    # every finding was handed out while streaming, with its final count the last time
    latest = {f.id: f for f in changed}
    assert set(latest) == {f.id for f in final}
    assert {f.id: f.count for f in final} == {i: f.count for i, f in latest.items()}
    report = resumed.report()
    # (the resumed stream read the second half of the lines)
    assert report.target.metadata["lines"] == len(lines) - half
    assert 0 < report.target.metadata["events"] <= len(lines) - half
    resumed.close()


def test_damaged_snapshot_is_an_input_error() -> None:
    detect = analyzers.get_streaming("detect")
    with pytest.raises(InputError, match="snapshot"):
        detect.open_stream(DetectOptions(source="k8s-audit", paths=[]), state=b"\x93garbage")


def test_finding_round_trips_through_its_report_form() -> None:
    from seawall.core import Finding

    detect = analyzers.get("detect")
    report = detect.run([str(AUDIT_LOG)], DetectOptions(source="k8s-audit", paths=[], workers=1))
    for f in report.findings:
        back = Finding.from_dict(f.to_dict())
        assert back.id == f.id and back.to_dict() == f.to_dict()
