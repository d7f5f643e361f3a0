"""The NetworkPolicy evaluator against the upstream e2e conformance tables (netpol_cases.yaml)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from seawall.respond.netpol import Cluster, ContainerPort, Namespace, Pod, PolicyError, parse_policy

CASES = yaml.safe_load((Path(__file__).parent / "netpol_cases.yaml").read_text())["cases"]
PORTS = tuple(
    ContainerPort(port, proto, f"serve-{port}-{proto.lower()}")
    for port in (80, 81)
    for proto in ("TCP", "UDP", "SCTP")
)
IPS = {
    f"{ns}/{pod}": f"10.244.{1 + 'xyz'.index(ns)}.{10 + 'abc'.index(pod)}" for ns in "xyz" for pod in "abc"
}


def _substitute(value: Any) -> Any:
    """`@ip(x/b)` -> the pod's IP; `@cidr4(x/b)` -> the /4 around it (makeLargeCIDRForIP)."""
    if isinstance(value, dict):
        return {k: _substitute(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v) for v in value]
    if isinstance(value, str):
        value = re.sub(r"@ip\(([xyz]/[abc])\)", lambda m: IPS[m.group(1)], value)
        return re.sub(
            r"@cidr4\(([xyz]/[abc])\)",
            lambda m: str(ipaddress.ip_network(IPS[m.group(1)] + "/4", strict=False)),
            value,
        )
    return value


def _matches(pattern: str, pod: str) -> bool:
    if pattern == "*":
        return True
    ns, name = pattern.split("/")
    pns, pname = pod.split("/")
    return ns == pns and name in ("*", pname)


def _expected(pods: list[str], expect: list[list[Any]]) -> dict[tuple[str, str], bool]:
    table = {(a, b): True for a in pods for b in pods}
    for src, dst, allowed in expect:
        for a in pods:
            for b in pods:
                if _matches(src, a) and _matches(dst, b):
                    table[(a, b)] = allowed
    return {k: v for k, v in table.items() if k[0] != k[1]}  # loopback is not compared upstream


@pytest.mark.parametrize("case", CASES, ids=[c["name"][:90] for c in CASES])
def test_conformance_case(case: dict[str, Any]) -> None:
    pods = case["pods"]
    pod_labels = {p: {"pod": p.split("/")[1]} for p in pods}
    ns_labels = {ns: {"ns": ns} for ns in "xyz"}
    policies: dict[str, dict[str, Any]] = {}
    for number, step in enumerate(case["steps"]):
        if step.get("delete_policies") == "all":
            policies.clear()
        for pol in step.get("policies", []):
            policies[f"{pol['namespace']}/{pol['name']}"] = {
                "kind": "NetworkPolicy",
                "metadata": {"namespace": pol["namespace"], "name": pol["name"]},
                "spec": _substitute(pol["spec"]),
            }
        pod_labels.update(step.get("pod_labels", {}))
        ns_labels.update(step.get("namespace_labels", {}))
        cluster = Cluster(
            [Namespace(ns, labels) for ns, labels in ns_labels.items()],
            [Pod(p.split("/")[0], p.split("/")[1], pod_labels[p], IPS[p], PORTS) for p in pods],
            [parse_policy(obj) for obj in policies.values()],
        )
        for probe in step["probes"]:
            want = _expected(pods, probe["expect"])
            got = {
                (a, b): cluster.allowed(
                    cluster.pod(a), cluster.pod(b), probe["port"], probe["protocol"]
                ).allowed
                for (a, b) in want
            }
            wrong = sorted(
                f"{a} -> {b}: expected {'allowed' if want[(a, b)] else 'denied'}"
                for (a, b) in want
                if got[(a, b)] != want[(a, b)]
            )
            assert not wrong, f"step {number}, {probe['port']}/{probe['protocol']}: " + "; ".join(wrong)


def test_the_tables_are_all_there() -> None:
    # 42 TCP cases + 3 UDP + 3 SCTP upstream; a case dropped from the data fails here
    assert len(CASES) == 48
    assert sum(len(c["steps"]) for c in CASES) >= 55


def test_cases_are_not_vacuous() -> None:
    """Nearly every probe denies something: an evaluator that allowed everything would fail them."""
    denying = 0
    for case in CASES:
        for step in case["steps"]:
            for probe in step["probes"]:
                want = _expected(case["pods"], probe["expect"])
                denying += not all(want.values())
    assert denying >= 45


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"podSelector": {}, "ingress": [{"ports": [{"port": 70000}]}]}, "port"),
        ({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "ICMP"}]}]}, "protocol"),
        (
            {
                "podSelector": {},
                "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}}]}],
            },
            "not inside",
        ),
        ({"podSelector": {}, "ingress": [{"from": [{}]}]}, "peer needs"),
        ({"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}, "needs values"),
        ({"ingress": []}, "podSelector is required"),
        ({"podSelector": {}, "policyTypes": ["Both"]}, "policyTypes"),
        ({"podSelector": {}, "ingress": [{"ports": [{"port": 90, "endPort": 80}]}]}, "endPort"),
    ],
)
def test_invalid_policies_are_refused_as_the_api_would(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy({"metadata": {"name": "p", "namespace": "x"}, "spec": spec})


def test_end_port_ranges_and_host_network() -> None:
    web = Pod("x", "web", {"app": "web"}, "10.1.0.5", (ContainerPort(8080, "TCP", "http"),))
    host = Pod("x", "agent", {"app": "web"}, "10.0.0.9", (), host_network=True)
    client = Pod("y", "client", {"app": "c"}, "10.1.0.6")
    pol = parse_policy(
        {
            "metadata": {"name": "range", "namespace": "x"},
            "spec": {
                "podSelector": {"matchLabels": {"app": "web"}},
                "ingress": [{"ports": [{"port": 8000, "endPort": 8100}]}],
            },
        }
    )
    cluster = Cluster([], [web, host, client], [pol])
    assert cluster.allowed(client, web, 8080).allowed
    assert cluster.allowed(client, web, 8100).allowed
    assert not cluster.allowed(client, web, 8101).allowed
    assert not cluster.allowed(client, web, 8080, "UDP").allowed
    # hostNetwork pods are not subject to NetworkPolicy, whatever selects them
    assert cluster.allowed(client, host, 22).allowed
    # an address outside the cluster: only ipBlock peers match it; a rule without peers does
    assert cluster.allowed("203.0.113.7", web, 8080).allowed
    verdict = cluster.allowed("203.0.113.7", web, 8080)
    assert [str(r) for r in verdict.ingress.by] == ["x/range ingress[0]"]
