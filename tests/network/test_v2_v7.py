"""Default-format (v2) flow logs, where each ENI logs its own side and nothing says which way a
flow went or whether a probe was answered, give the same findings as the same traffic logged in a
custom v7 format with ECS fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from seawall.network import NetworkOptions, detect
from tests.network import synth

STORY = {"net-port-scan", "net-lateral-admin-port", "net-exfiltration"}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return synth.write_probe_story(tmp_path_factory.mktemp("probe"))


def _found(findings: list) -> dict[tuple[str, str, str | None, str], tuple[str, int | None]]:
    return {(f.rule, f.resource.type, f.resource.namespace, f.resource.name): (f.severity.value, f.count)
            for f in findings}


def test_the_probing_story_is_found_in_v2_as_in_v7(logs: tuple[Path, Path, Path]) -> None:
    v2, v7, inventory = logs
    in_v7 = detect("vpc-flow", [str(v7)], NetworkOptions())  # the ECS fields name the task
    in_v2 = detect("vpc-flow", [str(v2)], NetworkOptions(inventory=[inventory]))  # the inventory does
    assert {f.rule for f in in_v7.findings} == STORY
    assert {(f.resource.type, f.resource.namespace, f.resource.name) for f in in_v7.findings} == {
        ("ECSService", "prod", "billing")}
    assert _found(in_v2.findings) == _found(in_v7.findings)
    scan = next(f for f in in_v2.findings if f.rule == "net-port-scan")
    # every probed host:port (and the database it uses), all but two never answered
    assert scan.extra["targets"] == 199 * 4 + 1 and scan.extra["rejected"] == 199 * 4 - 2
    lateral = next(f for f in in_v2.findings if f.rule == "net-lateral-admin-port")
    assert lateral.severity.value == "high"
    assert {(t["address"], t["port"]) for t in lateral.extra["targets"]} == {
        (synth.BASTION, 22), (synth.NODE, 10250)}  # the answered ones only, not the 796 misses
    exfil = next(f for f in in_v2.findings if f.rule == "net-exfiltration")
    assert exfil.extra["bytes"] >= 300 * 1024 * 1024 and synth.DROP in (exfil.evidence or "")


def test_v2_without_inventory_names_the_address(logs: tuple[Path, Path, Path]) -> None:
    v2, _, _ = logs
    r = detect("vpc-flow", [str(v2)], NetworkOptions())
    assert {(f.rule, f.resource.type, f.resource.name) for f in r.findings} == {
        (rule, "IPAddress", synth.PROBER) for rule in STORY}
