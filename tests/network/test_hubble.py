"""Hubble flows (`hubble observe -o json`): identities, verdicts, L7 DNS/HTTP, bad lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seawall.core.errors import InputError
from seawall.network import analyze, detect


def ep(
    pod: str | None,
    ns: str | None,
    app: str | None,
    identity: int,
    workload: str | None = None,
    labels: list[str] | None = None,
) -> dict:
    e: dict = {
        "ID": 1000 + identity,
        "identity": identity,
        "labels": labels or ([f"k8s:app={app}", f"k8s:io.kubernetes.pod.namespace={ns}"] if app else []),
    }
    if pod:
        e.update({"namespace": ns, "pod_name": pod})
    if workload:
        e["workloads"] = [{"name": workload, "kind": "Deployment"}]
    return e


FRONT = ep("frontend-6b7c9d8f5-q2w3e", "shop", "frontend", 24001, "frontend")
API = ep("api-5c4d7f9b8d-k8s2x", "shop", "api", 24002, "api")
DB = ep("db-0", "shop", "db", 24003)
DNS = ep("coredns-5d78c9869d-ab12c", "kube-system", "kube-dns", 102, "coredns")
WORLD = {"identity": 2, "labels": ["reserved:world"]}


def flow(
    t: str,
    src_ip: str,
    dst_ip: str,
    src: dict,
    dst: dict,
    l4: dict,
    verdict: str = "FORWARDED",
    reply: bool = False,
    **extra: object,
) -> str:
    f = {
        "time": t,
        "uuid": "7f0c8a6e-1b2c-4d5e-8f90-a1b2c3d4e5f6",
        "verdict": verdict,
        "ethernet": {"source": "ee:ab:12:cd:34:ef", "destination": "0a:1b:2c:3d:4e:5f"},
        "IP": {"source": src_ip, "destination": dst_ip, "ipVersion": "IPv4"},
        "l4": l4,
        "source": src,
        "destination": dst,
        "Type": "L3_L4",
        "node_name": "kind-worker",
        "event_type": {"type": 4},
        "traffic_direction": "EGRESS",
        "is_reply": reply,
        "Summary": "TCP Flags: SYN",
        **extra,
    }
    return json.dumps({"flow": f, "node_name": "kind-worker", "time": t})


def tcp(sport: int, dport: int, **flags: bool) -> dict:
    return {"TCP": {"source_port": sport, "destination_port": dport, "flags": flags}}


def dns_flow(
    t: str, query: str, client_ip: str = "10.244.1.12", reply: bool = False, client: dict = API
) -> str:
    l7 = {
        "type": "RESPONSE" if reply else "REQUEST",
        "latency_ns": "120000",
        "dns": {
            "query": query + ".",
            "qtypes": ["A"],
            **({"ips": ["93.184.215.14"], "ttl": 30, "rcode": 0} if reply else {}),
        },
    }
    src, dst = (DNS, client) if reply else (client, DNS)
    ips = ("10.244.0.5", client_ip) if reply else (client_ip, "10.244.0.5")
    return flow(
        t,
        *ips,
        src,
        dst,
        {"UDP": {"source_port": 53 if reply else 40001, "destination_port": 40001 if reply else 53}},
        reply=reply,
        l7=l7,
        Type="L7",
    )


def sample() -> list[str]:
    return [
        flow(
            "2026-11-02T10:00:00.123456789Z",
            "10.244.1.20",
            "10.244.1.12",
            FRONT,
            API,
            tcp(41000, 8000, SYN=True),
        ),
        flow(
            "2026-11-02T10:00:00.124Z",
            "10.244.1.12",
            "10.244.1.20",
            API,
            FRONT,
            tcp(8000, 41000, SYN=True, ACK=True),
            reply=True,
        ),
        flow(
            "2026-11-02T10:00:01Z",
            "10.244.1.20",
            "10.244.2.30",
            FRONT,
            DB,
            tcp(41002, 5432, SYN=True),
            verdict="DROPPED",
            drop_reason_desc="POLICY_DENIED",
        ),
        dns_flow("2026-11-02T10:00:02Z", "payments.example.com"),
        dns_flow("2026-11-02T10:00:02.001Z", "payments.example.com", reply=True),
        flow(
            "2026-11-02T10:00:03Z",
            "10.244.1.12",
            "93.184.215.14",
            API,
            WORLD,
            tcp(42000, 443, SYN=True),
            destination_names=["payments.example.com"],
        ),
        flow(
            "2026-11-02T10:00:04Z",
            "10.244.1.20",
            "10.244.1.12",
            FRONT,
            API,
            tcp(41010, 8000, PSH=True, ACK=True),
            l7={
                "type": "REQUEST",
                "http": {"method": "GET", "url": "http://api.shop.svc:8000/v1/cart", "protocol": "HTTP/1.1"},
            },
            Type="L7",
        ),
        # older hubble CLIs print the bare flow, without the {"flow": ...} wrapper
        json.dumps(
            json.loads(
                flow(
                    "2026-11-02T10:00:05Z", "10.244.1.12", "10.244.2.30", API, DB, tcp(43000, 5432, SYN=True)
                )
            )["flow"]
        ),
        json.dumps({"lost_events": {"source": "HUBBLE_RING_BUFFER", "num_events_lost": 12}}),
        "this is not json {",
    ]


def test_hubble_flows_are_attributed_with_their_identities(tmp_path: Path) -> None:
    path = tmp_path / "hubble.json"
    path.write_text("\n".join(sample()) + "\n")
    a = analyze("hubble", [str(path)])
    assert a.stats["records"] == 8
    assert a.stats["skipped"] == {
        "events without an IP flow (lost events, agent events, non-IP)": 1,
        "lines that are not JSON": 1,
    }
    edges = {(r["c_key"], r["s_key"], r["s_port"]): r for r in a.data.edges.iter_rows(named=True)}
    # the SYN and its reply (is_reply) fold into one frontend -> api edge, plus the HTTP request
    assert edges[("Deployment:shop/frontend", "Deployment:shop/api", 8000)]["flows"] == 3
    assert edges[("Deployment:shop/frontend", "StatefulSet:shop/db", 5432)]["rejects"] == 1
    assert edges[("Deployment:shop/api", "Deployment:kube-system/coredns", 53)]["flows"] == 2
    assert ("Deployment:shop/api", "External:/93.184.215.14", 443) in edges
    assert edges[("Deployment:shop/api", "StatefulSet:shop/db", 5432)]["rejects"] == 0
    assert a.data.names["93.184.215.14"] == {"payments.example.com"}
    assert set(a.data.dns["qname"].to_list()) == {"payments.example.com"}
    assert a.data.dns["src_key"].unique().to_list() == ["Deployment:shop/api"]


def test_dns_tunneling_from_hubble_dns(tmp_path: Path) -> None:
    import random

    rng = random.Random(5)
    lines = sample()
    for i in range(60):
        label = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(52))
        lines.append(
            dns_flow(f"2026-11-02T11:{i // 60:02d}:{i % 60:02d}Z", f"{label}.{i}.t.exfil-tunnel.net")
        )
    for i in range(100):  # many names, but short and fewer than the threshold: not a tunnel
        lines.append(
            dns_flow(
                f"2026-11-02T12:{i // 60:02d}:{i % 60:02d}Z",
                f"img{i}.cdn-images.example.org",
                client_ip="10.244.1.20",
                client=FRONT,
            )
        )
    path = tmp_path / "hubble.json"
    path.write_text("\n".join(lines) + "\n")
    r = detect("hubble", [str(path)])
    tunnel = [f for f in r.findings if f.rule == "net-dns-tunneling"]
    workloads = {f.resource.workload: f for f in tunnel}
    assert list(workloads) == ["shop/api"] and workloads["shop/api"].attack == ["T1071.004"]
    assert "exfil-tunnel.net" in (workloads["shop/api"].evidence or "")


def test_not_hubble_json(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("hello\nworld\n")
    with pytest.raises(InputError, match="not Hubble JSON"):
        analyze("hubble", [str(path)])
