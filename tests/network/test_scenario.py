"""A generated day of a microservice app with an attack story: exactly the story's findings,
all on the compromised workload, none on the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seawall.network import NetworkOptions, detect
from tests.conftest import run_cli
from tests.network import synth

STORY = {"net-port-scan", "net-lateral-admin-port", "net-beaconing", "net-exfiltration"}


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("scenario")
    story, inv = synth.write(d, story=True, seed=1)
    clean, _ = synth.write(d, story=False, seed=2)
    return {"story": story, "clean": clean, "inventory": inv, "dir": d}


def test_story_findings_are_exactly_on_the_compromised_workload(day: dict[str, Path]) -> None:
    r = detect("vpc-flow", [str(day["story"])], NetworkOptions(inventory=[day["inventory"]]))
    assert r.warnings == []
    got = {(f.rule, f.resource.type, f.resource.namespace, f.resource.name) for f in r.findings}
    assert got == {(rule, "Deployment", "shop", "api") for rule in STORY}
    by_rule = {f.rule: f for f in r.findings}
    assert by_rule["net-port-scan"].attack == ["T1046"]
    assert "10250" in (by_rule["net-lateral-admin-port"].evidence or "")
    assert "Node ip-10-0-1-10" in (by_rule["net-lateral-admin-port"].evidence or "")
    assert by_rule["net-lateral-admin-port"].attack == ["T1021", "T1210"]
    assert "203.0.113.50:443" in (by_rule["net-beaconing"].evidence or "")
    assert by_rule["net-exfiltration"].extra["bytes"] >= 500 * 1024 * 1024
    assert "198.51.100.77" in (by_rule["net-exfiltration"].evidence or "")
    assert by_rule["net-exfiltration"].first_seen == "2026-11-02T16:00:00Z"


def test_clean_day_has_no_findings(day: dict[str, Path]) -> None:
    r = detect("vpc-flow", [str(day["clean"])], NetworkOptions(inventory=[day["inventory"]]))
    assert r.findings == []


def test_baseline_from_netmap_adds_new_edges_only_for_the_attacker(day: dict[str, Path]) -> None:
    base = day["dir"] / "baseline.json"
    out = day["dir"] / "clean-map.json"
    proc = run_cli(
        "netmap",
        "--source",
        "vpc-flow",
        str(day["clean"]),
        "--inventory",
        str(day["inventory"]),
        "--save-baseline",
        str(base),
        "--format",
        "json",
        "--output",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    edges = {(e["source"], e["target"], e["port"]) for e in doc["edges"]}
    assert ("Deployment:shop/frontend", "Deployment:shop/api", 8000) in edges
    assert ("Deployment:shop/api", "StatefulSet:shop/db", 5432) in edges
    assert ("CronJob:shop/report", "StatefulSet:shop/db", 5432) in edges
    assert ("Deployment:shop/api", "External:/52.94.10.20", 443) in edges
    assert doc["findings"] == []
    r = detect("vpc-flow", [str(day["story"])], NetworkOptions(inventory=[day["inventory"]], baseline=base))
    got = {(f.rule, f.resource.name) for f in r.findings}
    assert got == {(rule, "api") for rule in {*STORY, "net-new-edge"}}
    new_edge = next(f for f in r.findings if f.rule == "net-new-edge")
    servers = {e["server"] for e in new_edge.extra["new_edges"]}
    assert "Node:/ip-10-0-1-10.eu-west-1.compute.internal" in servers
    r = detect("vpc-flow", [str(day["clean"])], NetworkOptions(inventory=[day["inventory"]], baseline=base))
    assert r.findings == []


def test_without_inventory_the_attacker_is_its_address(day: dict[str, Path]) -> None:
    r = detect("vpc-flow", [str(day["story"])], NetworkOptions())
    assert {(f.rule, f.resource.type, f.resource.name) for f in r.findings} == {
        (rule, "IPAddress", "10.0.2.33") for rule in STORY
    }


def test_detect_cli_end_to_end(day: dict[str, Path]) -> None:
    proc = run_cli(
        "detect",
        "--source",
        "vpc-flow",
        str(day["story"]),
        "--inventory",
        str(day["inventory"]),
        "--format",
        "json",
        "--fail-on",
        "high",
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert {(f["rule"], f["resource"]["workload"]) for f in report["findings"]} == {
        (rule, "shop/api") for rule in STORY
    }
    scan = next(f for f in report["findings"] if f["rule"] == "net-port-scan")
    assert scan["kind"] == "detection" and scan["attack"] == ["T1046"]
    assert scan["resource"] == {
        "type": "Deployment",
        "name": "api",
        "namespace": "shop",
        "workload": "shop/api",
    }
