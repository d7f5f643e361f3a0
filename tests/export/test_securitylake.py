"""Security Lake custom-source layout: OCSF Parquet, one class per source, partitioned by
region, account and event day, readable back with the classes' own fields."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from seawall import analyzers
from seawall.detect import DetectOptions
from seawall.export.securitylake import write_findings

REPO = Path(__file__).resolve().parents[2]


def test_detections_and_misconfigurations_land_in_their_own_sources(tmp_path: Path) -> None:
    options = DetectOptions(source="cloudtrail", paths=[], workers=1)
    detections = analyzers.get("detect").run([str(REPO / "devtools/samples/logs/cloudtrail")], options)
    posture = analyzers.run("audit", [str(REPO / "devtools/samples/posture/ecs")])
    findings = detections.findings + posture.findings
    written = write_findings(findings, str(tmp_path), region="eu-west-1", account="111122223333")
    classes = {w.class_uid for w in written}
    assert classes == {2003, 2004}
    assert sum(w.rows for w in written) == len(findings)
    for w in written:
        rel = Path(w.key).relative_to(tmp_path)
        parts = rel.parts
        assert parts[0] == "ext" and parts[1].startswith("seawall-")
        assert parts[2] == "region=eu-west-1" and parts[3] == "accountId=111122223333"
        assert parts[4].startswith("eventDay=") and len(parts[4]) == len("eventDay=20260302")
        table = pq.read_table(w.key)
        assert set(table.column("class_uid").to_pylist()) == {w.class_uid}
        times = table.column("time").to_pylist()
        assert times == sorted(times)
    det = next(w for w in written if w.class_uid == 2004)
    table = pq.read_table(det.key).to_pylist()
    ids = {row["finding_info"]["uid"] for row in table}
    assert ids <= {f.id for f in detections.findings}
    assert any(row["finding_info"].get("attacks") for row in table)
    # the events' day comes from the events (the sample is of 2026-03-02), not from today
    assert "eventDay=20260302" in det.key
