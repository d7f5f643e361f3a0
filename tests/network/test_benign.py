"""A benign day of VPC flows (an EKS cluster's and an ECS service's own system traffic) raises no
high or critical finding; with AWS's published ranges as context, none at all. Every allowance
has its near miss: the same shape of traffic from the wrong workload, or to the wrong place, is
still found."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from seawall.core.models import Severity
from seawall.network import NetworkOptions, detect
from tests.network import synth

HOURS = 12


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return synth.write_benign_day(tmp_path_factory.mktemp("benign"), hours=HOURS)


def _run(day: dict[str, Path], flows: Path | None = None, **options: Any) -> list:
    opts = NetworkOptions(inventory=[day["k8s"], day["ecs"]], **options)
    return detect("vpc-flow", [str(flows or day["flows"])], opts).findings


def test_a_benign_day_raises_no_high_or_critical(day: dict[str, Path]) -> None:
    findings = _run(day)
    assert [f for f in findings if f.severity.rank >= Severity.HIGH.rank] == []
    # what is left is a handful of mediums an analyst would look at once: nodes polling AWS APIs
    # at fixed intervals (the VPC CNI, the SSM agent), until the AWS ranges are given as context
    assert len(findings) <= 5
    assert {f.rule for f in findings} <= {"net-beaconing"}
    evidence = " ".join(f.evidence or "" for f in findings)
    assert not any(ntp in evidence for ntp in synth.NTP_POOL)  # NTP every 1024 s is not beaconing
    assert ":123" not in evidence


def test_with_aws_ranges_as_context_the_day_is_quiet(day: dict[str, Path]) -> None:
    assert _run(day, context=[day["ranges"]]) == []


def test_the_control_plane_and_metrics_server_may_call_kubelets(day: dict[str, Path]) -> None:
    findings = _run(day, context=[day["ranges"]], admin_allow=())
    assert not [f for f in findings if f.rule == "net-lateral-admin-port"]


def _with(tmp: Path, story: Callable[[Any, Any], None]) -> dict[str, Path]:
    return synth.write_benign_day(tmp, hours=HOURS, extra=story)


def test_near_miss_a_pod_named_metrics_server_in_another_namespace_is_lateral_movement(
    tmp_path: Path, day: dict[str, Path]
) -> None:
    impostor = "10.1.2.77"  # a pod called metrics-server in namespace default

    def story(conn: Any, every: Any) -> None:
        synth.EKS_PODS["metrics-server-impostor"] = ("Deployment", "default", [impostor], 10250)
        for node in synth.EKS_NODES.values():
            every(600, 0.1, lambda t, n=node: conn(t, impostor, n, 10250, up=600, down=8_000))

    try:
        bad = _with(tmp_path, story)
        inventory = synth.benign_inventory()
        pod = next(i for i in inventory["items"] if i.get("status", {}).get("podIP") == impostor)
        pod["metadata"]["name"] = "metrics-server-7c9d8b6f5-x0abc"
        pod["metadata"]["ownerReferences"][0]["name"] = "metrics-server-7c9d8b6f5"
        import json
        bad["k8s"].write_text(json.dumps(inventory))
    finally:
        synth.EKS_PODS.pop("metrics-server-impostor", None)
    findings = detect("vpc-flow", [str(bad["flows"])], NetworkOptions(
        inventory=[bad["k8s"], bad["ecs"]], context=[bad["ranges"]])).findings
    lateral = [f for f in findings if f.rule == "net-lateral-admin-port"]
    assert [(f.resource.namespace, f.resource.name, f.severity) for f in lateral] == [
        ("default", "metrics-server", Severity.HIGH)]
    assert lateral[0].extra["hosts"] == 3


def test_near_miss_a_beacon_to_an_unknown_address_is_still_found(tmp_path: Path) -> None:
    c2 = "198.51.100.23"

    def story(conn: Any, every: Any) -> None:
        every(90, 0.05, lambda t: conn(t, synth.EKS_PODS["api"][2][0], c2, 443, up=700, down=400))

    bad = _with(tmp_path, story)
    findings = detect("vpc-flow", [str(bad["flows"])], NetworkOptions(
        inventory=[bad["k8s"], bad["ecs"]], context=[bad["ranges"]])).findings
    assert [(f.rule, f.resource.workload) for f in findings] == [("net-beaconing", "shop/api")]
    assert f"{c2}:443 every 90s" in (findings[0].evidence or "")


def test_learning_period_quiet_day_then_new_destinations_and_periodic_connections(
    tmp_path: Path, day: dict[str, Path]
) -> None:
    assert _run(day, context=[day["ranges"]], learning_period=4 * 3600) == []
    drop = "203.0.113.99"

    def story(conn: Any, every: Any) -> None:
        api = synth.EKS_PODS["api"][2][0]
        # after the learning period: a new internet destination, called every 2 minutes
        start = synth.DAY + 6 * 3600

        def late(t: float) -> None:
            if t >= start:
                conn(t, api, drop, 8443, up=900, down=300)

        every(120, 0.05, late)

    bad = _with(tmp_path, story)
    findings = detect("vpc-flow", [str(bad["flows"])], NetworkOptions(
        inventory=[bad["k8s"], bad["ecs"]], context=[bad["ranges"]], learning_period=4 * 3600)).findings
    got = {(f.rule, f.resource.workload) for f in findings}
    assert got == {("net-beaconing", "shop/api"), ("net-new-edge", "shop/api"),
                   ("net-new-destination", "shop/api")}
    new_dest = next(f for f in findings if f.rule == "net-new-destination")
    assert new_dest.severity == Severity.LOW and drop in (new_dest.evidence or "")
