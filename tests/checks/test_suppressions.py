"""One suppression format (`--ignore-file`, default ./.seawallignore) honoured by every verb:
by rule, resource, path, package or CVE, with expiry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "devtools/samples/posture/k8s"
AUDIT_LOG = REPO / "devtools/samples/logs/k8s-audit/kube-apiserver-audit.log.gz"


def _findings(proc) -> list[dict]:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["findings"]


def test_audit_suppresses_by_rule_and_resource_glob(tmp_path: Path) -> None:
    before = _findings(run_cli("audit", str(K8S), "-f", "json"))
    target = next(f for f in before if f["resource"].get("namespace"))
    ns = target["resource"]["namespace"]
    ignore = tmp_path / "ignore.yaml"
    ignore.write_text(f"- id: {target['rule']}\n  resource: '*/{ns}/*'\n  reason: accepted for {ns}\n")
    after = _findings(run_cli("audit", str(K8S), "-f", "json", "--ignore-file", str(ignore)))
    gone = [f for f in before if f["rule"] == target["rule"] and f["resource"].get("namespace") == ns]
    assert gone and len(after) == len(before) - len(gone)
    assert not [f for f in after if f["rule"] == target["rule"] and f["resource"].get("namespace") == ns]
    # the same rule elsewhere is still reported when it exists
    elsewhere = [f for f in before if f["rule"] == target["rule"] and f["resource"].get("namespace") != ns]
    assert len([f for f in after if f["rule"] == target["rule"]]) == len(elsewhere)


def test_detect_suppresses_and_expired_entries_warn(tmp_path: Path) -> None:
    args = ("detect", "--source", "k8s-audit", str(AUDIT_LOG), "--no-state", "-f", "json")
    before = _findings(run_cli(*args))
    rule = before[0]["rule"]
    ignore = tmp_path / ".seawallignore"
    ignore.write_text(f"{rule}  # known noise\nSW-NOT-A-RULE exp:2020-01-01  # old\n")
    proc = run_cli(*args, "--ignore-file", str(ignore))
    after = _findings(proc)
    assert rule not in {f["rule"] for f in after}
    assert len(after) == len(before) - sum(1 for f in before if f["rule"] == rule)
    assert "SW-NOT-A-RULE expired on 2020-01-01" in proc.stderr


def test_default_ignore_file_in_the_working_directory(tmp_path: Path) -> None:
    before = _findings(run_cli("audit", str(K8S), "-f", "json"))
    ignore = "- id: '*'\n  kind: misconfiguration\n  paths: ['*/shop.yaml']\n"
    (tmp_path / ".seawallignore").write_text(ignore)
    proc = subprocess.run([sys.executable, "-m", "seawall", "audit", str(K8S), "-f", "json"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    after = _findings(proc)

    def hit(f: dict) -> bool:
        return f["location"]["path"].endswith("shop.yaml") and f["kind"] == "misconfiguration"

    assert sum(map(hit, before)) > 0 and not [f for f in after if hit(f)]
    assert len(after) == len(before) - sum(map(hit, before))
    # exposures in the same file are another kind: still reported
    assert [f for f in after if f["location"]["path"].endswith("shop.yaml")]


def test_bad_ignore_file_is_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: X\n  kind: nonsense\n")
    proc = run_cli("audit", str(K8S), "--ignore-file", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "unknown kind" in proc.stderr


def test_netmap_leaves_suppressed_findings_off_the_map(tmp_path: Path) -> None:
    """`seawall netmap` honours the same file: a vertical port scan by the frontend is on the map,
    and off it once accepted (by rule and workload); an entry for another workload changes nothing."""
    from tests.network.test_hubble import API, FRONT, flow, tcp

    flows = tmp_path / "hubble.json"
    flows.write_text("\n".join(
        flow(f"2026-11-02T10:00:{i % 60:02d}Z", "10.244.1.20", "10.244.1.12", FRONT, API,
             tcp(40000 + i, port, SYN=True)) for i, port in enumerate(range(1000, 1080))) + "\n")
    args = ("netmap", "--source", "hubble", str(flows), "-f", "json")

    def scans(*extra: str) -> tuple[list[str], str]:
        proc = run_cli(*args, *extra)
        assert proc.returncode == 0, proc.stderr
        return [f["rule"] for f in json.loads(proc.stdout)["findings"]], proc.stderr

    assert scans()[0] == ["net-port-scan"]
    other = tmp_path / "other.yaml"
    other.write_text("- id: net-port-scan\n  resource: '*/shop/api'\n")
    assert scans("--ignore-file", str(other))[0] == ["net-port-scan"]
    accepted = tmp_path / "accepted"
    accepted.write_text("net-port-scan  # the frontend's health prober\nSW-OLD exp:2020-01-01\n")
    found, stderr = scans("--ignore-file", str(accepted))
    assert found == []
    assert "SW-OLD expired on 2020-01-01" in stderr
