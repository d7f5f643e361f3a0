"""Defects the fuzzing harness found in readers outside the image area, each as the smallest input
that shows it. Marked xfail (strict) until the owning area fixes them: the mark then fails the
test, and the mark comes off."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli

EVENT = ('{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"get",'
         '"requestURI":"/api","requestReceivedTimestamp":"2026-01-01T00:00:00Z","user":{"username":"a"},'
         '"sourceIPs":[{"a":[18446744073709551616]}]}\n')


def test_k8s_audit_event_with_a_huge_nested_integer(tmp_path: Path) -> None:
    # (was: orjson refused the integer over 64 bits when the object became its leaf text, and the
    # run ended in "internal error: TypeError"); the event is read, the integer kept with its digits
    log = tmp_path / "audit.log"
    log.write_text(EVENT)
    rule = tmp_path / "big.yml"
    rule.write_text(
        "title: big number\nid: 0e1d1bd2-0000-4000-8000-0000000000b1\n"
        "logsource: {product: kubernetes, service: audit}\n"
        "detection:\n  sel:\n    sourceIPs|contains: '[18446744073709551616]'\n"
        "  condition: sel\nlevel: high\n"
    )
    proc = run_cli("detect", "-s", "k8s-audit", str(log), "--rules", str(rule), "--no-state", "-f", "json")
    assert "internal error" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["target"]["metadata"]["events"] == 1
    assert [f["title"] for f in report["findings"] if f["severity"] == "high"] == ["big number"]
