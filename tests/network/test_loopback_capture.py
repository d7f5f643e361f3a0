"""A capture of real traffic on loopback (tcpdump): a local HTTP server, a TLS ClientHello from
Python's ssl module and a DNS query to a local UDP responder must come out as flows with names."""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import dpkt
import pytest

from seawall.network import analyze

pytestmark = pytest.mark.slow


def _dns_responder(sock: socket.socket, stop: threading.Event) -> None:
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(2048)
        except TimeoutError:
            continue
        q = dpkt.dns.DNS(data)
        r = dpkt.dns.DNS(
            id=q.id,
            qr=dpkt.dns.DNS_R,
            opcode=q.opcode,
            rd=1,
            ra=1,
            qd=q.qd,
            an=[
                dpkt.dns.DNS.RR(
                    name=q.qd[0].name,
                    type=dpkt.dns.DNS_A,
                    cls=dpkt.dns.DNS_IN,
                    ttl=30,
                    rdata=socket.inet_aton("127.0.0.1"),
                )
            ],
        )
        sock.sendto(bytes(r), peer)


@pytest.mark.skipif(shutil.which("tcpdump") is None or os.geteuid() != 0, reason="needs tcpdump as root")
def test_real_loopback_capture(tmp_path: Path) -> None:
    pcap = tmp_path / "lo.pcap"
    stop = threading.Event()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    # servers first, on free ports (a DNS responder on 127.0.0.2:53, an HTTP server, and a TCP
    # listener that reads one message: enough for a ClientHello to cross the wire)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.2", 53))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    tls_srv = socket.create_server(("127.0.0.1", 0))
    http_port, tls_port = httpd.server_address[1], tls_srv.getsockname()[1]

    def accept() -> None:
        conn, _ = tls_srv.accept()
        conn.recv(4096)
        conn.close()

    threading.Thread(target=_dns_responder, args=(udp, stop), daemon=True).start()
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()
    dump = subprocess.Popen(
        [
            "tcpdump",
            "-i",
            "lo",
            "-U",
            "-n",
            "-w",
            str(pcap),
            f"host 127.0.0.2 or port {http_port} or port {tls_port}",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        assert dump.stderr is not None
        line = dump.stderr.readline().decode()
        assert "listening" in line, line
        q = dpkt.dns.DNS(
            id=7, qr=dpkt.dns.DNS_Q, rd=1, qd=[dpkt.dns.DNS.Q(name="db.loopback.test", type=dpkt.dns.DNS_A)]
        )
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.settimeout(3)
        client.sendto(bytes(q), ("127.0.0.2", 53))
        answer = dpkt.dns.DNS(client.recv(2048))
        assert answer.an[0].rdata == socket.inet_aton("127.0.0.1")
        client.close()
        with socket.create_connection(("127.0.0.1", http_port)) as s:
            host = f"shop.loopback.test:{http_port}"
            s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            while s.recv(65536):
                pass
        ctx = ssl.create_default_context()
        with socket.create_connection(("127.0.0.1", tls_port)) as raw, pytest.raises((ssl.SSLError, OSError)):
            ctx.wrap_socket(raw, server_hostname="secure.loopback.test").do_handshake()
        time.sleep(1.5)  # let tcpdump write the last packets
    finally:
        dump.send_signal(signal.SIGINT)
        dump.wait(timeout=10)
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        tls_srv.close()
        udp.close()
    a = analyze("pcap", [str(pcap)])
    edges = {(e["c_key"], e["s_key"], e["s_port"]) for e in a.data.edges.iter_rows(named=True)}
    assert ("IPAddress:/127.0.0.1", "IPAddress:/127.0.0.1", http_port) in edges
    assert ("IPAddress:/127.0.0.1", "IPAddress:/127.0.0.1", tls_port) in edges
    assert ("IPAddress:/127.0.0.1", "IPAddress:/127.0.0.2", 53) in edges
    assert a.data.dns["qname"].to_list() == ["db.loopback.test"]
    names = a.data.names["127.0.0.1"]
    assert {"db.loopback.test", "shop.loopback.test", "secure.loopback.test"} <= names
