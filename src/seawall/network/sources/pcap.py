"""Packet captures (pcap, pcapng) via dpkt: TCP/UDP flows (5-tuple, packets, bytes, start/end,
TCP flags) and what each flow went to: DNS queries/answers, TLS ClientHello SNI, HTTP request
line and Host. Truncated files, unknown pcapng blocks, non-IP frames and odd packets are
counted, never fatal. Flows idle for `_IDLE` seconds are flushed, so memory stays bounded.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import dpkt
import polars as pl

from seawall.core.errors import InputError
from seawall.network.base import FlowBatch, SourceStats
from seawall.network.options import NetworkOptions

_PCAP_MAGICS = {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_IDLE = 300.0
_FLUSH_EVERY = 100_000
_BATCH = 100_000
_MAX_FRAME = 1 << 20  # larger than any snaplen: a corrupt record length
_HTTP_METHODS = (b"GET ", b"POST ", b"PUT ", b"HEAD ", b"DELETE ", b"PATCH ", b"OPTIONS ", b"CONNECT ")
_PARSE_ERRORS = (dpkt.UnpackError, dpkt.NeedData, struct.error, ValueError, IndexError, KeyError)


@dataclass(slots=True)
class _Flow:
    client: str
    cport: int
    server: str
    sport: int
    proto: int
    start: float
    end: float
    packets: int = 0
    bytes: int = 0
    flags: int = 0
    syn: bool = False
    synack: bool = False
    rst_from_server: bool = False
    oriented: bool = False
    name: str | None = None
    payloads: int = 0


def tls_sni(data: bytes) -> str | None:
    """server_name of a TLS ClientHello record (bounded, never raises)."""
    try:
        if len(data) < 43 or data[0] != 0x16 or data[5] != 0x01:
            return None
        pos = 9 + 2 + 32  # record header 5, handshake header 4, version 2, random 32
        pos += 1 + data[pos]  # session id
        pos += 2 + int.from_bytes(data[pos : pos + 2], "big")  # cipher suites
        pos += 1 + data[pos]  # compression methods
        end = pos + 2 + int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= min(end, len(data)):
            etype = int.from_bytes(data[pos : pos + 2], "big")
            elen = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if etype == 0:
                body = data[pos + 4 : pos + 4 + elen]
                if len(body) >= 5 and body[2] == 0:
                    nlen = int.from_bytes(body[3:5], "big")
                    name = body[5 : 5 + nlen].decode("ascii", "replace")
                    return name or None
                return None
            pos += 4 + elen
    except IndexError:
        return None
    return None


def http_host(data: bytes) -> str | None:
    if not data.startswith(_HTTP_METHODS):
        return None
    head = data[:4096].split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n")[1:]:
        if line[:5].lower() == b"host:":
            return line[5:].strip().decode("ascii", "replace").rsplit(":", 1)[0] or None
    return None


class PcapSource:
    name = "pcap"

    def __init__(self, options: NetworkOptions) -> None:
        self.options = options
        self.stats = SourceStats()
        self.warnings: list[str] = []
        self.names: dict[str, set[str]] = {}
        self._flows: dict[tuple[Any, ...], _Flow] = {}
        self._done: list[_Flow] = []
        self._dns: list[tuple[int, str, str]] = []

    def read(self, paths: list[str]) -> Iterator[FlowBatch]:
        for raw in paths:
            if not Path(raw).is_file():
                raise InputError(f"no such capture file: {raw}")
        unreadable: list[str] = []
        for raw in paths:
            path = Path(raw)
            self.stats.files += 1
            try:
                with path.open("rb") as handle:
                    yield from self._read_file(path, handle)
            except InputError as exc:  # this file only: the others are still read
                unreadable.append(str(exc))
                self.warnings.append(f"{exc} (file skipped)")
            except OSError as exc:
                unreadable.append(f"cannot read {path}: {exc.strerror or exc}")
                self.warnings.append(f"cannot read {path}: {exc.strerror or exc} (file skipped)")
        self._flush(None)
        if self._done or self._dns:
            yield self._batch()
        if unreadable and not self.stats.records:
            raise InputError(f"no packet could be read: {'; '.join(unreadable)[:600]}")

    def _records(self, path: Path, handle: BinaryIO) -> tuple[int, Iterator[tuple[float, bytes]]]:
        """(link type, (timestamp, frame) iterator). Classic pcap is read here (so a cut record is
        seen as such); pcapng through dpkt."""
        magic = handle.read(4)
        handle.seek(0)
        if magic in _PCAP_MAGICS:
            head = handle.read(24)
            if len(head) < 24:
                raise InputError(f"{path}: unreadable capture header (file too short)")
            endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
            scale = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
            link = struct.unpack(endian + "I", head[20:24])[0] & 0xFFFF
            return link, self._pcap_records(path, handle, endian, scale)
        if magic == _PCAPNG_MAGIC:
            try:
                reader = dpkt.pcapng.Reader(handle)
            except _PARSE_ERRORS as exc:
                raise InputError(f"{path}: unreadable capture header ({exc or type(exc).__name__})") from exc
            return int(reader.datalink()), self._pcapng_records(path, reader)
        raise InputError(f"{path}: not a pcap or pcapng capture")

    def _truncated(self, path: Path, n: int, why: str) -> None:
        self.stats.skip("truncated or corrupt capture tails")
        self.warnings.append(
            f"{path}: capture ends with a truncated or corrupt record ({why}); read {n} packets"
        )

    def _pcap_records(
        self, path: Path, handle: BinaryIO, endian: str, scale: float
    ) -> Iterator[tuple[float, bytes]]:
        n = 0
        record = struct.Struct(endian + "IIII")
        while True:
            head = handle.read(16)
            if not head:
                return
            if len(head) < 16:
                self._truncated(path, n, "cut record header")
                return
            sec, frac, caplen, _ = record.unpack(head)
            if caplen > _MAX_FRAME:
                self._truncated(path, n, f"record length {caplen}")
                return
            data = handle.read(caplen)
            if len(data) < caplen:
                self._truncated(path, n, f"{len(data)} of {caplen} bytes")
                return
            n += 1
            yield sec + frac * scale, data

    def _pcapng_records(self, path: Path, reader: Any) -> Iterator[tuple[float, bytes]]:
        n = 0
        it = iter(reader)
        while True:
            try:
                ts, buf = next(it)
            except StopIteration:
                return
            except _PARSE_ERRORS as exc:
                self._truncated(path, n, type(exc).__name__)
                return
            n += 1
            yield float(ts), buf

    def _read_file(self, path: Path, handle: BinaryIO) -> Iterator[FlowBatch]:
        link, records = self._records(path, handle)
        for n, (ts, buf) in enumerate(records, start=1):
            self._packet(ts, buf, link)
            if n % _FLUSH_EVERY == 0:
                self._flush(ts - _IDLE)
                if len(self._done) >= _BATCH or len(self._dns) >= _BATCH:
                    yield self._batch()

    # -- decoding -------------------------------------------------------------------------
    def _ip_of(self, buf: bytes, link: int) -> Any:
        if link == dpkt.pcap.DLT_EN10MB:
            frame: Any = dpkt.ethernet.Ethernet(buf)
            return frame.data
        if link == dpkt.pcap.DLT_LINUX_SLL:
            return dpkt.sll.SLL(buf).data
        if link == 276:  # LINUX_SLL2
            return dpkt.sll2.SLL2(buf).data
        if link in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
            return self._raw_ip(buf[4:])
        if link in (dpkt.pcap.DLT_RAW, 12, 14, 101, 228, 229):
            return self._raw_ip(buf)
        return None

    @staticmethod
    def _raw_ip(buf: bytes) -> Any:
        if not buf:
            return None
        version = buf[0] >> 4
        if version == 4:
            return dpkt.ip.IP(buf)
        if version == 6:
            return dpkt.ip6.IP6(buf)
        return None

    def _packet(self, ts: float, buf: bytes, link: int) -> None:
        try:
            ip = self._ip_of(buf, link)
        except _PARSE_ERRORS:
            self.stats.skip("undecodable frames")
            return
        if isinstance(ip, dpkt.ip.IP):
            family, src_b, dst_b, length = socket.AF_INET, ip.src, ip.dst, ip.len
        elif isinstance(ip, dpkt.ip6.IP6):
            family, src_b, dst_b, length = socket.AF_INET6, ip.src, ip.dst, ip.plen + 40
            self.stats.skip("IPv6 packets (analysed)", 0)
        else:
            self.stats.skip("non-IP frames (ARP, LLDP, ...)")
            return
        self.stats.records += 1
        try:
            src, dst = socket.inet_ntop(family, src_b), socket.inet_ntop(family, dst_b)
        except (ValueError, OSError):
            self.stats.skip("undecodable frames")
            return
        l4 = ip.data
        proto = ip.p if family == socket.AF_INET else getattr(ip, "p", ip.nxt)
        sport = dport = 0
        flags = 0
        payload = b""
        if isinstance(l4, dpkt.tcp.TCP):
            sport, dport, flags, payload = l4.sport, l4.dport, l4.flags, bytes(l4.data)
        elif isinstance(l4, dpkt.udp.UDP):
            sport, dport, payload = l4.sport, l4.dport, bytes(l4.data)
        elif proto in (6, 17):
            self.stats.skip("truncated TCP/UDP headers")
            return
        key = (
            (proto, src, sport, dst, dport)
            if (src, sport) <= (dst, dport)
            else (proto, dst, dport, src, sport)
        )
        flow = self._flows.get(key)
        if flow is None:
            flow = _Flow(client=src, cport=sport, server=dst, sport=dport, proto=proto, start=ts, end=ts)
            if proto == 6 and flags & dpkt.tcp.TH_SYN:
                flow.oriented = True
                if flags & dpkt.tcp.TH_ACK:  # capture began after the SYN: the receiver is the client
                    flow.client, flow.cport, flow.server, flow.sport = dst, dport, src, sport
            elif proto == 17:
                flow.oriented = True
            self._flows[key] = flow
        from_client = src == flow.client and sport == flow.cport
        flow.end = max(flow.end, ts)
        flow.packets += 1
        flow.bytes += length
        flow.flags |= flags
        if proto == 6:
            if flags & dpkt.tcp.TH_SYN and not flags & dpkt.tcp.TH_ACK and from_client:
                flow.syn = True
            elif flags & dpkt.tcp.TH_SYN and flags & dpkt.tcp.TH_ACK:
                flow.synack = True
            elif flags & dpkt.tcp.TH_RST and not from_client:
                flow.rst_from_server = True
        if payload and flow.payloads < 4:
            flow.payloads += 1
            self._inspect(ts, flow, from_client, src, sport, dport, payload)

    def _inspect(
        self, ts: float, flow: _Flow, from_client: bool, src: str, sport: int, dport: int, payload: bytes
    ) -> None:
        if (flow.proto == 17 and 53 in (sport, dport)) or (flow.proto == 17 and 5353 in (sport, dport)):
            try:
                msg = dpkt.dns.DNS(payload)
            except _PARSE_ERRORS:
                self.stats.skip("undecodable DNS messages")
                return
            if msg.qr == dpkt.dns.DNS_Q:
                for q in msg.qd:
                    if q.name:
                        self._dns.append((int(ts), src, str(q.name)))
                        flow.name = flow.name or None
            else:
                for rr in msg.an:
                    if rr.type == dpkt.dns.DNS_A and len(rr.rdata) == 4:
                        self.names.setdefault(socket.inet_ntop(socket.AF_INET, rr.rdata), set()).add(rr.name)
                    elif rr.type == dpkt.dns.DNS_AAAA and len(rr.rdata) == 16:
                        self.names.setdefault(socket.inet_ntop(socket.AF_INET6, rr.rdata), set()).add(rr.name)
                    elif rr.type == dpkt.dns.DNS_PTR and rr.name.endswith(".in-addr.arpa"):
                        ip = ".".join(reversed(rr.name.removesuffix(".in-addr.arpa").split(".")))
                        self.names.setdefault(ip, set()).add(str(rr.ptrname))
            return
        if flow.proto == 6 and from_client and flow.name is None:
            flow.name = tls_sni(payload) or http_host(payload)

    # -- output ----------------------------------------------------------------------------
    def _flush(self, before: float | None) -> None:
        if before is None:
            self._done.extend(self._flows.values())
            self._flows.clear()
            return
        stale = [k for k, f in self._flows.items() if f.end < before]
        for k in stale:
            self._done.append(self._flows.pop(k))

    def _batch(self) -> FlowBatch:
        done, self._done = self._done, []
        rows = {
            "start": [int(f.start) for f in done],
            "end": [int(f.end) for f in done],
            "src_addr": [f.client for f in done],
            "dst_addr": [f.server for f in done],
            "src_port": [f.cport for f in done],
            "dst_port": [f.sport for f in done],
            "protocol": [f.proto for f in done],
            "packets": [f.packets for f in done],
            "bytes": [f.bytes for f in done],
            "action": [
                "REJECT"
                if f.proto == 6 and f.syn and not f.synack and (f.rst_from_server or f.packets <= 3)
                else "ACCEPT"
                for f in done
            ],
            "tcp_flags": [f.flags if f.proto == 6 else None for f in done],
            "is_reply": [False if f.oriented else None for f in done],
            # one record per connection: the server answered unless the SYN went unanswered/reset
            "answered": [not (f.proto == 6 and f.syn and not f.synack) for f in done],
            "dst_name": [f.name for f in done],
        }
        flows = pl.DataFrame(
            rows,
            schema={
                "start": pl.Int64,
                "end": pl.Int64,
                "src_addr": pl.String,
                "dst_addr": pl.String,
                "src_port": pl.Int32,
                "dst_port": pl.Int32,
                "protocol": pl.Int16,
                "packets": pl.Int64,
                "bytes": pl.Int64,
                "action": pl.String,
                "tcp_flags": pl.Int32,
                "is_reply": pl.Boolean,
                "answered": pl.Boolean,
                "dst_name": pl.String,
            },
        )
        dns_rows, self._dns = self._dns, []
        dns = pl.DataFrame(
            {
                "time": [d[0] for d in dns_rows],
                "src_addr": [d[1] for d in dns_rows],
                "qname": [d[2] for d in dns_rows],
            },
            schema={"time": pl.Int64, "src_addr": pl.String, "qname": pl.String},
        )
        self.stats.flows += flows.height
        return FlowBatch(flows=flows, dns=dns)
