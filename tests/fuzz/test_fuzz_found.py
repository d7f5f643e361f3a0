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


# a document read key by key (one object of kind EventList without items: the object is the
# record); orjson refused to write it back as a line and the run ended in an internal error
DOC = ('{"kind":"EventList","apiVersion":"audit.k8s.io/v1","stage":"ResponseComplete","verb":"get",'
       '"requestURI":"/api/v1/namespaces/prod/secrets/db","objectRef":{"resource":"secrets",'
       '"namespace":"prod","name":"db"},"requestReceivedTimestamp":"2026-01-01T00:00:00Z",'
       '"user":{"username":"mallory"},"responseStatus":{"code":200},"annotations":{"x":[%s]}}\n')


def test_k8s_audit_document_with_a_huge_integer_is_read(tmp_path: Path) -> None:
    log = tmp_path / "audit.json"
    log.write_text(DOC % "-1180591620717411303424")
    proc = run_cli("detect", "-s", "k8s-audit", str(log), "--no-state", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["target"]["metadata"]["events"] == 1
    assert "SW-K8S-SECRET-GET" in {f["rule"] for f in report["findings"]}


def test_k8s_audit_document_with_an_unpaired_surrogate_is_counted(tmp_path: Path) -> None:
    log = tmp_path / "audit.json"
    log.write_text(DOC % '"\\ud836 lone"')
    proc = run_cli("detect", "-s", "k8s-audit", str(log), "--no-state", "-f", "json")
    assert "internal error" not in proc.stderr
    # (as the same event on a line of its own: JSON that both decoders refuse, counted and quoted)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("seawall: error: no event could be read")
    assert "malformed" in proc.stderr
