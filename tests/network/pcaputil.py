"""Writes real pcap/pcapng files with dpkt for the tests."""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
from pathlib import Path

import dpkt


def client_hello(server_name: str) -> bytes:
    """A real TLS ClientHello, produced by Python's ssl module for `server_name`."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with contextlib.suppress(ssl.SSLWantReadError):
        conn.do_handshake()
    return outgoing.read()


def _ip(src: str, dst: str, l4: dpkt.Packet, proto: int) -> dpkt.Packet:
    if ":" in src:
        ip6 = dpkt.ip6.IP6(
            src=socket.inet_pton(socket.AF_INET6, src),
            dst=socket.inet_pton(socket.AF_INET6, dst),
            nxt=proto,
            hlim=64,
            data=l4,
        )
        ip6.plen = len(bytes(l4))
        return dpkt.ethernet.Ethernet(
            src=b"\x02\x00\x00\x00\x00\x01",
            dst=b"\x02\x00\x00\x00\x00\x02",
            type=dpkt.ethernet.ETH_TYPE_IP6,
            data=ip6,
        )
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, ttl=64, data=l4)
    ip.len = 20 + len(bytes(l4))
    return dpkt.ethernet.Ethernet(
        src=b"\x02\x00\x00\x00\x00\x01",
        dst=b"\x02\x00\x00\x00\x00\x02",
        type=dpkt.ethernet.ETH_TYPE_IP,
        data=ip,
    )


class Capture:
    def __init__(self) -> None:
        self.frames: list[tuple[float, bytes]] = []
        self.t = 1_793_620_800.0  # 2026-11-02T12:00:00Z

    def tick(self, dt: float = 0.01) -> float:
        self.t += dt
        return self.t

    def tcp_session(
        self,
        client: str,
        cport: int,
        server: str,
        sport: int,
        request: bytes = b"",
        response: bytes = b"",
        refused: bool = False,
    ) -> None:
        def seg(src: str, sp: int, dst: str, dp: int, flags: int, data: bytes = b"") -> None:
            tcp = dpkt.tcp.TCP(sport=sp, dport=dp, flags=flags, seq=1000, ack=1, win=65535, data=data)
            self.frames.append((self.tick(), bytes(_ip(src, dst, tcp, dpkt.ip.IP_PROTO_TCP))))

        seg(client, cport, server, sport, dpkt.tcp.TH_SYN)
        if refused:
            seg(server, sport, client, cport, dpkt.tcp.TH_RST | dpkt.tcp.TH_ACK)
            return
        seg(server, sport, client, cport, dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK)
        seg(client, cport, server, sport, dpkt.tcp.TH_ACK)
        if request:
            seg(client, cport, server, sport, dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK, request)
        if response:
            seg(server, sport, client, cport, dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK, response)
        seg(client, cport, server, sport, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK)
        seg(server, sport, client, cport, dpkt.tcp.TH_FIN | dpkt.tcp.TH_ACK)

    def dns(
        self, client: str, resolver: str, name: str, answer: str | None, qtype: int = dpkt.dns.DNS_A
    ) -> None:
        q = dpkt.dns.DNS(
            id=0x1234,
            qr=dpkt.dns.DNS_Q,
            opcode=dpkt.dns.DNS_QUERY,
            rd=1,
            qd=[dpkt.dns.DNS.Q(name=name, type=qtype, cls=dpkt.dns.DNS_IN)],
        )
        udp = dpkt.udp.UDP(sport=53000, dport=53, data=bytes(q))
        udp.ulen = 8 + len(bytes(q))
        self.frames.append((self.tick(), bytes(_ip(client, resolver, udp, dpkt.ip.IP_PROTO_UDP))))
        if answer is None:
            return
        r = dpkt.dns.DNS(
            id=0x1234,
            qr=dpkt.dns.DNS_R,
            opcode=dpkt.dns.DNS_QUERY,
            rd=1,
            ra=1,
            qd=[dpkt.dns.DNS.Q(name=name, type=qtype, cls=dpkt.dns.DNS_IN)],
            an=[
                dpkt.dns.DNS.RR(
                    name=name,
                    type=dpkt.dns.DNS_A,
                    cls=dpkt.dns.DNS_IN,
                    ttl=60,
                    rdata=socket.inet_aton(answer),
                )
            ],
        )
        udp = dpkt.udp.UDP(sport=53, dport=53000, data=bytes(r))
        udp.ulen = 8 + len(bytes(r))
        self.frames.append((self.tick(), bytes(_ip(resolver, client, udp, dpkt.ip.IP_PROTO_UDP))))

    def arp(self) -> None:
        arp = dpkt.arp.ARP(
            sha=b"\x02\x00\x00\x00\x00\x01",
            spa=socket.inet_aton("10.0.0.5"),
            tha=b"\x00" * 6,
            tpa=socket.inet_aton("10.0.0.1"),
        )
        eth = dpkt.ethernet.Ethernet(
            src=b"\x02\x00\x00\x00\x00\x01", dst=b"\xff" * 6, type=dpkt.ethernet.ETH_TYPE_ARP, data=arp
        )
        self.frames.append((self.tick(), bytes(eth)))

    def write_pcap(self, path: Path) -> Path:
        with path.open("wb") as fh:
            w = dpkt.pcap.Writer(fh, linktype=dpkt.pcap.DLT_EN10MB)
            for ts, frame in self.frames:
                w.writepkt(frame, ts=ts)
        return path

    def write_pcapng(self, path: Path, unknown_block_after: int | None = None) -> Path:
        with path.open("wb") as fh:
            w = dpkt.pcapng.Writer(fh, linktype=dpkt.pcap.DLT_EN10MB)
            for i, (ts, frame) in enumerate(self.frames):
                w.writepkt(frame, ts=ts)
                if unknown_block_after is not None and i == unknown_block_after:
                    body = b"seawall-test-custom-block\x00\x00\x00"  # 28 bytes, 4-aligned
                    total = 12 + len(body)
                    fh.write(struct.pack("<II", 0x00000BAD, total) + body + struct.pack("<I", total))
        return path
