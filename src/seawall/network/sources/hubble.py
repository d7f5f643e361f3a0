"""Cilium Hubble flows as printed by `hubble observe -o json` (one JSON object per line, either
`{"flow": {...}}` or a bare flow): endpoints with pod, namespace, labels and workloads, verdicts
(FORWARDED / DROPPED ...), L4 ports and flags, and L7 DNS / HTTP where the proxy saw them.
Hubble flows carry no byte counts: bytes are 0, each flow event is one packet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from seawall.core.errors import InputError
from seawall.network.base import DNS_SCHEMA, FLOW_SCHEMA, FlowBatch
from seawall.network.options import NetworkOptions
from seawall.network.sources._io import LineFlowSource, line_chunks

_POD_OF_RS = re.compile(r"^(.*)-[a-z0-9]{6,10}-[a-z0-9]{5}$")
_POD_OF_STS = re.compile(r"^(.*)-\d+$")
_POD_OF_SET = re.compile(r"^(.*)-[a-z0-9]{5}$")
_REJECTED = {"DROPPED", "ERROR", "DENIED"}
_BATCH = 200_000
_FLOW_COLS = [
    "time",
    "src_addr",
    "dst_addr",
    "src_port",
    "dst_port",
    "protocol",
    "action",
    "tcp_flags",
    "is_reply",
    "dst_name",
    *[f"{s}_id_{f}" for s in ("src", "dst") for f in ("type", "name", "ns", "inst")],
]
_TCP_BITS = {"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "ECE": 64, "CWR": 128}


def endpoint_identity(
    ep: dict[str, Any], node: str | None
) -> tuple[str | None, str | None, str | None, str | None]:
    """(type, name, namespace, instance) of a Hubble endpoint; all None for the world."""
    labels = [str(x) for x in ep.get("labels") or [] if isinstance(x, str)]
    pod = ep.get("pod_name") or None
    ns = ep.get("namespace") or None
    workloads = ep.get("workloads") or []
    if workloads and isinstance(workloads[0], dict) and workloads[0].get("name"):
        w = workloads[0]
        return str(w.get("kind") or "Workload"), str(w["name"]), ns, pod
    if pod:
        m = _POD_OF_RS.match(pod)
        if m:
            return "Deployment", m.group(1), ns, pod
        m = _POD_OF_STS.match(pod)
        if m:
            return "StatefulSet", m.group(1), ns, pod
        app = next(
            (x.split("=", 1)[1] for x in labels if x.startswith(("k8s:app=", "k8s:app.kubernetes.io/name="))),
            None,
        )
        if app:
            return "Workload", app, ns, pod
        m = _POD_OF_SET.match(pod)
        return ("Workload", m.group(1), ns, pod) if m else ("Pod", pod, ns, pod)
    if "reserved:host" in labels or "reserved:remote-node" in labels:
        return ("Node", node or "host", None, node) if "reserved:host" in labels else (None, None, None, None)
    if "reserved:kube-apiserver" in labels:
        return "KubeAPIServer", "kube-apiserver", None, None
    return None, None, None, None


class HubbleSource(LineFlowSource):
    name = "hubble"
    file_kind = "Hubble flow file"

    def __init__(self, options: NetworkOptions) -> None:
        super().__init__(options)
        self._rows: dict[str, list[Any]] = {c: [] for c in _FLOW_COLS}
        self._dns: dict[str, list[Any]] = {
            c: []
            for c in ("time", "src_addr", "qname", "src_id_type", "src_id_name", "src_id_ns", "src_id_inst")
        }
        self._json_lines = 0

    def _read_file(self, path: Path) -> Iterator[FlowBatch]:
        json_before = self._json_lines
        for chunk in line_chunks(path, self.options.batch_bytes, self.damage(path)):
            self.add_lines(chunk.splitlines())
            if len(self._rows["time"]) >= _BATCH:
                yield self.take()
        if self._json_lines == json_before and path.stat().st_size and not self.unreadable:
            raise InputError(f"{path}: not Hubble JSON (expected `hubble observe -o json` output)")
        if self._rows["time"] or self._dns["time"]:
            yield self.take()

    def add_lines(self, lines: Iterable[bytes]) -> None:
        """Decode `hubble observe -o json` lines into the pending rows (see `take`)."""
        for line in lines:
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError:
                self.stats.skip("lines that are not JSON")
                continue
            self._json_lines += 1
            flow = doc.get("flow", doc) if isinstance(doc, dict) else None
            if not isinstance(flow, dict) or not isinstance(flow.get("IP"), dict):
                self.stats.skip("events without an IP flow (lost events, agent events, non-IP)")
                continue
            self.stats.records += 1
            self._add(flow, doc, self._rows, self._dns)

    def take(self) -> FlowBatch:
        """The pending rows as one batch."""
        return self._batch(self._rows, self._dns)

    # -- streaming (seawall.analyzers: Batch of raw lines) --------------------------------------
    def parse_lines(self, lines: Sequence[bytes], origin: str) -> FlowBatch | None:
        self.add_lines(lines)
        return self.take() if self._rows["time"] or self._dns["time"] else None

    def state(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        return None

    def _add(
        self, flow: dict[str, Any], doc: dict[str, Any], rows: dict[str, list[Any]], dns: dict[str, list[Any]]
    ) -> None:
        ip = flow["IP"]
        l4 = flow.get("l4") or {}
        proto, sport, dport, flags = None, None, None, None
        for name, number in (("TCP", 6), ("UDP", 17), ("SCTP", 132), ("ICMPv4", 1), ("ICMPv6", 58)):
            if isinstance(l4.get(name), dict):
                proto = number
                sport = l4[name].get("source_port")
                dport = l4[name].get("destination_port")
                if name == "TCP":
                    f = l4[name].get("flags") or {}
                    flags = sum(bit for flag, bit in _TCP_BITS.items() if f.get(flag))
                break
        node = flow.get("node_name") or doc.get("node_name")
        src_id = endpoint_identity(flow.get("source") or {}, node)
        dst_id = endpoint_identity(flow.get("destination") or {}, node)
        names = flow.get("destination_names") or []
        rows["time"].append(flow.get("time") or doc.get("time"))
        rows["src_addr"].append(ip.get("source"))
        rows["dst_addr"].append(ip.get("destination"))
        rows["src_port"].append(sport)
        rows["dst_port"].append(dport)
        rows["protocol"].append(proto)
        rows["action"].append("REJECT" if str(flow.get("verdict", "")).upper() in _REJECTED else "ACCEPT")
        rows["tcp_flags"].append(flags)
        rows["is_reply"].append(flow.get("is_reply") if isinstance(flow.get("is_reply"), bool) else None)
        l7 = flow.get("l7") or {}
        http = l7.get("http") if isinstance(l7, dict) else None
        host = None
        if isinstance(http, dict) and http.get("url"):
            host = str(http["url"]).split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0] or None
        rows["dst_name"].append(host or (str(names[0]).rstrip(".") if names else None))
        for side, ident in (("src", src_id), ("dst", dst_id)):
            for field, value in zip(("type", "name", "ns", "inst"), ident, strict=True):
                rows[f"{side}_id_{field}"].append(value)
        query = (l7.get("dns") or {}) if isinstance(l7, dict) else {}
        if isinstance(query, dict) and query.get("query"):
            qname = str(query["query"]).rstrip(".")
            response = str(l7.get("type", "")).upper() == "RESPONSE" or flow.get("is_reply") is True
            client_ip, client = (ip.get("destination"), dst_id) if response else (ip.get("source"), src_id)
            dns["time"].append(rows["time"][-1])
            dns["src_addr"].append(client_ip)
            dns["qname"].append(qname)
            for field, value in zip(("type", "name", "ns", "inst"), client, strict=True):
                dns[f"src_id_{field}"].append(value)
            for answer in query.get("ips") or []:
                self.names.setdefault(str(answer), set()).add(qname)

    def _batch(self, rows: dict[str, list[Any]], dns: dict[str, list[Any]]) -> FlowBatch:
        def epoch(col: str) -> pl.Expr:
            return pl.col(col).str.to_datetime(time_zone="UTC", strict=False).dt.epoch("s")

        strings: dict[str, Any] = {c: pl.String for c in _FLOW_COLS}
        strings.update(
            {
                "src_port": pl.Int32,
                "dst_port": pl.Int32,
                "protocol": pl.Int16,
                "tcp_flags": pl.Int32,
                "is_reply": pl.Boolean,
            }
        )
        frame = pl.DataFrame(rows, schema=strings).with_columns(
            epoch("time").alias("start"),
            pl.lit(1, pl.Int64).alias("packets"),
            pl.lit(0, pl.Int64).alias("bytes"),
        )
        frame = frame.with_columns(pl.col("start").alias("end"))
        bad = frame.filter(
            pl.col("start").is_null() | pl.col("src_addr").is_null() | pl.col("dst_addr").is_null()
        )
        self.stats.skip("flows without time or addresses", bad.height)
        frame = frame.filter(
            pl.col("start").is_not_null()
            & pl.col("src_addr").is_not_null()
            & pl.col("dst_addr").is_not_null()
        )
        dns_frame = (
            pl.DataFrame(dns, schema={c: pl.String for c in dns})
            .with_columns(epoch("time").alias("time"))
            .filter(pl.col("time").is_not_null())
        )
        self.stats.flows += frame.height
        for values in (*rows.values(), *dns.values()):
            values.clear()
        return FlowBatch(
            flows=frame.select([c for c in FLOW_SCHEMA if c in frame.columns]),
            dns=dns_frame.select([c for c in DNS_SCHEMA if c in dns_frame.columns]),
        )
