"""Inventories (kubectl, ECS describe-tasks, docker inspect) and threat intel (lists, STIX 2.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seawall.core.errors import InputError
from seawall.network import NetworkOptions, detect
from seawall.network.intel import Intel
from seawall.network.inventory import Inventory

HEADER = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"  # noqa: E501

ECS_TASKS = {
    "tasks": [
        {
            "attachments": [
                {
                    "id": "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE",
                    "type": "ElasticNetworkInterface",
                    "status": "ATTACHED",
                    "details": [
                        {"name": "subnetId", "value": "subnet-0a1b2c3d4e5f67890"},
                        {"name": "networkInterfaceId", "value": "eni-0f1e2d3c4b5a69788"},
                        {"name": "macAddress", "value": "0a:1b:2c:3d:4e:5f"},
                        {"name": "privateDnsName", "value": "ip-10-1-2-30.ec2.internal"},
                        {"name": "privateIPv4Address", "value": "10.1.2.30"},
                    ],
                }
            ],
            "availabilityZone": "us-east-1a",
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
            "containers": [
                {
                    "containerArn": "arn:aws:ecs:us-east-1:123456789012:container/prod/4f1a/ab12",
                    "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/4f1a2b3c4d5e6f708192a3b4c5d6e7f8",  # noqa: E501
                    "name": "checkout",
                    "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/checkout:3.1",
                    "lastStatus": "RUNNING",
                    "networkBindings": [],
                    "networkInterfaces": [
                        {
                            "attachmentId": "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE",
                            "privateIpv4Address": "10.1.2.30",
                        }
                    ],
                }
            ],
            "group": "service:checkout",
            "launchType": "FARGATE",
            "lastStatus": "RUNNING",
            "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/prod/4f1a2b3c4d5e6f708192a3b4c5d6e7f8",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/checkout:42",
        }
    ],
    "failures": [],
}

KUBECTL = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "payments-7d9f8c6b5-x2x9q",
                "namespace": "pay",
                "labels": {"app": "payments", "pod-template-hash": "7d9f8c6b5"},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "payments-7d9f8c6b5",
                        "controller": True,
                    }
                ],
            },
            "spec": {"containers": [{"name": "payments", "ports": [{"containerPort": 9000}]}]},
            "status": {"podIP": "10.2.0.11", "podIPs": [{"ip": "10.2.0.11"}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "ledger-0",
                "namespace": "pay",
                "labels": {"app": "ledger"},
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "ledger", "controller": True}
                ],
            },
            "spec": {"containers": [{"name": "pg"}]},
            "status": {"podIP": "10.2.0.21"},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "nightly-29391840-abcde",
                "namespace": "pay",
                "ownerReferences": [
                    {"apiVersion": "batch/v1", "kind": "Job", "name": "nightly-29391840", "controller": True}
                ],
            },
            "spec": {"containers": [{"name": "job"}]},
            "status": {"podIP": "10.2.0.31"},
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "node-exporter-abcde",
                "namespace": "mon",
                "ownerReferences": [{"kind": "DaemonSet", "name": "node-exporter"}],
            },
            "spec": {"hostNetwork": True, "containers": [{"name": "ne", "ports": [{"containerPort": 9100}]}]},
            "status": {"podIP": "10.2.1.5", "hostIP": "10.2.1.5"},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "ledger", "namespace": "pay"},
            "spec": {
                "clusterIP": "172.20.5.5",
                "selector": {"app": "ledger"},
                "ports": [{"port": 5432, "targetPort": 5432}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "payments-public", "namespace": "pay"},
            "spec": {
                "type": "NodePort",
                "clusterIP": "172.20.9.9",
                "selector": {"app": "payments"},
                "ports": [{"port": 80, "targetPort": 9000, "nodePort": 30080}],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "ip-10-2-1-5.ec2.internal"},
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": "10.2.1.5"},
                    {"type": "Hostname", "address": "x"},
                ]
            },
        },
    ],
}


def test_inventory_sources(tmp_path: Path) -> None:
    (tmp_path / "ecs.json").write_text(json.dumps(ECS_TASKS))
    (tmp_path / "k8s.json").write_text(json.dumps(KUBECTL))
    inv = Inventory.load([tmp_path / "ecs.json", tmp_path / "k8s.json"])
    assert inv.by_ip["10.1.2.30"] == ("ECSService:prod/checkout", "4f1a2b3c4d5e6f708192a3b4c5d6e7f8")
    assert inv.by_ip["10.2.0.11"][0] == "Deployment:pay/payments"
    assert inv.by_ip["10.2.0.21"][0] == "StatefulSet:pay/ledger"
    assert inv.by_ip["10.2.0.31"][0] == "CronJob:pay/nightly"
    assert inv.by_ip["172.20.5.5"] == ("StatefulSet:pay/ledger", "service/ledger")
    assert inv.by_ip["10.2.1.5"][0] == "Node:/ip-10-2-1-5.ec2.internal"  # host-network pod = the node
    assert inv.exposed["StatefulSet:pay/ledger"] == {5432}
    assert inv.by_ip_port[("10.2.1.5", 9100)] == ("DaemonSet:mon/node-exporter", "node-exporter-abcde")
    assert inv.by_ip_port[("10.2.1.5", 30080)] == ("Deployment:pay/payments", "service/payments-public")
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(InputError, match="no workload addresses"):
        Inventory.load([tmp_path / "empty.json"])
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="not JSON"):
        Inventory.load([tmp_path / "bad.json"])


def test_threat_intel_plain_list_and_stix(tmp_path: Path) -> None:
    flows = tmp_path / "f.log"
    flows.write_text(
        "\n".join(
            [
                HEADER,
                "2 1 eni-1 10.1.2.30 198.51.100.23 40000 443 6 10 5000 1700000000 1700000060 ACCEPT OK",
                "2 1 eni-1 10.1.2.30 203.0.113.77 40001 8443 6 10 5000 1700000000 1700000060 ACCEPT OK",
                "2 1 eni-1 10.2.0.11 192.0.2.10 40002 443 6 10 5000 1700000000 1700000060 ACCEPT OK",
            ]
        )
        + "\n"
    )
    plain = tmp_path / "bad-ips.txt"
    plain.write_text("# feed\n198.51.100.0/24  ; botnet C2\n\n2001:db8:dead::/48\nnot-an-ip!\n")
    stix = tmp_path / "bundle.json"
    stix.write_text(
        json.dumps(
            {
                "type": "bundle",
                "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
                "objects": [
                    {
                        "type": "indicator",
                        "spec_version": "2.1",
                        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                        "created": "2026-01-01T00:00:00.000Z",
                        "modified": "2026-01-01T00:00:00.000Z",
                        "name": "C2 server",
                        "pattern": "[ipv4-addr:value = '203.0.113.77'] OR [ipv4-addr:value = '203.0.113.78']",
                        "pattern_type": "stix",
                        "valid_from": "2026-01-01T00:00:00Z",
                        "indicator_types": ["malicious-activity"],
                    },
                    {
                        "type": "malware",
                        "spec_version": "2.1",
                        "id": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
                        "name": "x",
                        "is_family": False,
                    },
                ],
            }
        )
    )
    intel = Intel.load([plain, stix])
    assert intel.match_ip("198.51.100.23") == "bad-ips.txt"
    assert intel.match_ip("2001:db8:dead::1") == "bad-ips.txt"
    assert intel.match_ip("203.0.113.78") == "bundle.json: C2 server"
    assert intel.match_ip("192.0.2.10") is None
    (tmp_path / "ecs.json").write_text(json.dumps(ECS_TASKS))
    r = detect(
        "vpc-flow", [str(flows)], NetworkOptions(intel=[plain, stix], inventory=[tmp_path / "ecs.json"])
    )
    hits = [f for f in r.findings if f.rule == "net-threat-intel"]
    assert [(f.resource.type, f.resource.namespace, f.resource.name) for f in hits] == [
        ("ECSService", "prod", "checkout")
    ]
    assert hits[0].extra["indicators"] == ["198.51.100.23", "203.0.113.77"]
    assert hits[0].attack == ["T1071"]
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(InputError, match="no IP, CIDR or domain"):
        detect("vpc-flow", [str(flows)], NetworkOptions(intel=[empty]))


def test_node_ports_attribute_to_the_workload(tmp_path: Path) -> None:
    (tmp_path / "k8s.json").write_text(json.dumps(KUBECTL))
    flows = tmp_path / "f.log"
    flows.write_text(
        "\n".join(
            [
                HEADER,
                "2 1 eni-1 10.9.9.9 10.2.1.5 40000 30080 6 10 5000 1700000000 1700000060 ACCEPT OK",
                "2 1 eni-1 10.2.0.11 10.2.1.5 40001 9100 6 10 5000 1700000000 1700000060 ACCEPT OK",
                "2 1 eni-1 10.2.0.11 10.2.1.5 40002 10250 6 10 5000 1700000000 1700000060 ACCEPT OK",
                # the kubelet answered (its side of the connection); an unanswered probe is no movement
                "2 1 eni-1 10.2.1.5 10.2.0.11 10250 40002 6 10 5000 1700000000 1700000060 ACCEPT OK",
            ]
        )
        + "\n"
    )
    r = detect("vpc-flow", [str(flows)], NetworkOptions(inventory=[tmp_path / "k8s.json"]))
    assert r.analysis is not None
    edges = {(e["c_key"], e["s_key"], e["s_port"]) for e in r.analysis.data.edges.iter_rows(named=True)}
    assert edges == {
        ("IPAddress:/10.9.9.9", "Deployment:pay/payments", 30080),
        ("Deployment:pay/payments", "DaemonSet:mon/node-exporter", 9100),
        ("Deployment:pay/payments", "Node:/ip-10-2-1-5.ec2.internal", 10250),
    }
    assert [(f.rule, f.resource.name) for f in r.findings] == [("net-lateral-admin-port", "payments")]


def test_a_scraper_is_not_a_scan_but_a_sweep_is(tmp_path: Path) -> None:
    # prometheus scrapes port 9100 on 40 hosts, all answer; a sweep of port 22 mostly misses
    lines = [HEADER]
    for i in range(40):
        lines.append(
            f"2 1 eni-1 10.3.0.5 10.3.1.{i + 1} {41000 + i} 9100 6 10 5000 1700000000 1700000060 ACCEPT OK"
        )
        lines.append(  # and each target's answer
            f"2 1 eni-1 10.3.1.{i + 1} 10.3.0.5 9100 {41000 + i} 6 10 9000 1700000000 1700000060 ACCEPT OK"
        )
    for i in range(40):
        action = "ACCEPT" if i < 5 else "REJECT"
        lines.append(
            f"2 1 eni-1 10.3.0.6 10.3.1.{i + 1} {42000 + i} 22 6 1 60 1700000000 1700000060 {action} OK"
        )
        if action == "ACCEPT":
            lines.append(
                f"2 1 eni-1 10.3.1.{i + 1} 10.3.0.6 22 {42000 + i} 6 1 60 1700000000 1700000060 ACCEPT OK"
            )
    flows = tmp_path / "f.log"
    flows.write_text("\n".join(lines) + "\n")
    r = detect("vpc-flow", [str(flows)], NetworkOptions(admin_ports=()))
    assert [(f.rule, f.resource.name) for f in r.findings] == [("net-port-scan", "10.3.0.6")]
    assert "horizontal: port(s) 22 on up to 40 hosts" in (r.findings[0].evidence or "")
