"""pcap/pcapng via dpkt: flows, DNS, TLS SNI, HTTP Host, IPv6, and hostile captures."""

from __future__ import annotations

from pathlib import Path

import dpkt
import pytest

from seawall.core.errors import InputError
from seawall.network import NetworkOptions, analyze, detect
from seawall.network.sources.pcap import tls_sni
from tests.network.pcaputil import Capture, client_hello

DOCKER_INSPECT = """[{"Id": "8f3c2a1b9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a",
  "Name": "/shop-web-1", "Config": {"Image": "shop/web:2.3", "ExposedPorts": {"8080/tcp": {}},
  "Labels": {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}},
  "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]},
   "Networks": {"shop_default": {"IPAddress": "10.0.0.5", "Gateway": "10.0.0.1", "MacAddress": "02:42:0a:00:00:05"}}}}]"""  # noqa: E501


def capture() -> Capture:
    c = Capture()
    c.arp()
    c.dns("10.0.0.5", "10.0.0.2", "api.example.com", "93.184.215.14")
    c.tcp_session("10.0.0.5", 40001, "93.184.215.14", 443, request=client_hello("api.example.com"))
    c.tcp_session(
        "10.0.0.5",
        40002,
        "10.0.0.9",
        80,
        request=b"GET /health HTTP/1.1\r\nHost: inventory.shop.internal:80\r\nUser-Agent: t\r\n\r\n",
        response=b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    )
    c.dns("10.0.0.5", "10.0.0.2", "xmr-eu1.nanopool.org", "192.0.2.50")
    c.tcp_session("10.0.0.5", 40003, "192.0.2.50", 14444, request=b'{"id":1,"method":"login"}\n')
    c.tcp_session(
        "10.0.0.5",
        40004,
        "169.254.169.254",
        80,
        request=b"GET /latest/meta-data/iam/security-credentials/ HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n",
    )
    c.tcp_session("10.0.0.5", 40005, "10.0.0.9", 6379, refused=True)
    c.tcp_session("fd00:10::5", 40006, "2606:4700::6810:85e5", 443, request=client_hello("v6.example.net"))
    return c


def test_sni_parser_on_a_real_client_hello() -> None:
    assert tls_sni(client_hello("api.example.com")) == "api.example.com"
    assert tls_sni(b"\x16\x03\x01" + b"\x00" * 10) is None
    assert tls_sni(client_hello("x.example.com")[:60]) is None


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_flows_names_and_detections(tmp_path: Path, fmt: str) -> None:
    c = capture()
    path = c.write_pcap(tmp_path / "c.pcap") if fmt == "pcap" else c.write_pcapng(tmp_path / "c.pcapng")
    inv = tmp_path / "docker.json"
    inv.write_text(DOCKER_INSPECT)
    r = detect("pcap", [str(path)], NetworkOptions(inventory=[inv]))
    a = r.analysis
    assert a is not None
    assert a.stats["skipped"]["non-IP frames (ARP, LLDP, ...)"] == 1
    edges = {(e["c_key"], e["s_key"], e["s_port"]): e for e in a.data.edges.iter_rows(named=True)}
    web = "ComposeService:shop/web"
    assert edges[(web, "External:/93.184.215.14", 443)]["packets"] == 6
    assert edges[(web, "IPAddress:/10.0.0.9", 6379)]["rejects"] == 1
    assert (web, "IPAddress:/10.0.0.2", 53) in edges
    assert ("IPAddress:/fd00:10::5", "External:/2606:4700::6810:85e5", 443) in edges
    names = a.data.names
    assert "api.example.com" in names["93.184.215.14"]  # DNS answer and SNI
    assert names["10.0.0.9"] == {"inventory.shop.internal"}  # HTTP Host
    assert names["2606:4700::6810:85e5"] == {"v6.example.net"}  # SNI over IPv6
    rules = {(f.rule, f.resource.type, f.resource.name) for f in r.findings}
    assert ("net-crypto-mining", "ComposeService", "web") in rules
    assert ("net-imds-access", "ComposeService", "web") in rules
    mining = next(f for f in r.findings if f.rule == "net-crypto-mining")
    assert mining.severity.value == "high" and "nanopool" in (mining.evidence or "")


def test_truncated_capture_is_counted(tmp_path: Path) -> None:
    path = capture().write_pcap(tmp_path / "c.pcap")
    data = path.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 30])
    a = analyze("pcap", [str(cut)])
    assert a.stats["flows"] >= 6
    assert a.stats["skipped"] == {
        "non-IP frames (ARP, LLDP, ...)": 1,
        "truncated or corrupt capture tails": 1,
    }
    assert any("truncated" in w for w in a.all_warnings())
    ng = capture().write_pcapng(tmp_path / "c.pcapng").read_bytes()
    (tmp_path / "cut.pcapng").write_bytes(ng[: len(ng) - 30])
    b = analyze("pcap", [str(tmp_path / "cut.pcapng")])
    assert b.stats["skipped"]["truncated or corrupt capture tails"] == 1
    assert b.stats["records"] == a.stats["records"]


def test_pcapng_with_unknown_block(tmp_path: Path) -> None:
    path = capture().write_pcapng(tmp_path / "u.pcapng", unknown_block_after=3)
    a = analyze("pcap", [str(path)])
    ok = analyze("pcap", [str(capture().write_pcapng(tmp_path / "ok.pcapng"))])
    assert a.stats["records"] == ok.stats["records"]


def test_not_a_capture(tmp_path: Path) -> None:
    bad = tmp_path / "x.pcap"
    bad.write_bytes(b"PK\x03\x04 not a capture")
    with pytest.raises(InputError, match="not a pcap"):
        analyze("pcap", [str(bad)])
    hdr = tmp_path / "h.pcap"
    hdr.write_bytes(b"\xd4\xc3\xb2\xa1\x02\x00")
    with pytest.raises(InputError):
        analyze("pcap", [str(hdr)])


def test_garbage_frames_never_crash(tmp_path: Path) -> None:
    import random

    rng = random.Random(3)
    path = tmp_path / "g.pcap"
    with path.open("wb") as fh:
        w = dpkt.pcap.Writer(fh, linktype=dpkt.pcap.DLT_EN10MB)
        for i in range(500):
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 120)))
            if i % 3 == 0:  # IPv4 ethertype with a random payload
                body = b"\x02" * 12 + b"\x08\x00" + b"\x45" + body
            w.writepkt(body, ts=1_700_000_000 + i)
    a = analyze("pcap", [str(path)])
    assert a.stats["files"] == 1
