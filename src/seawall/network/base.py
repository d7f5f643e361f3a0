"""The one interface of the network package: flow sources yield canonical columnar batches.

Every reader (VPC Flow Logs, Hubble, pcap) turns its input into `FlowBatch`es whose `flows`
frame has the columns of FLOW_SCHEMA (missing optional columns are filled with nulls by
`conform`), and optional DNS observations in DNS_SCHEMA. Everything downstream (attribution,
service map, detectors) only sees these columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from seawall.core import Skip

# identity columns a source may fill when the record itself names the workload (ECS, Hubble)
IDENTITY_FIELDS = ("type", "name", "ns", "inst")

FLOW_SCHEMA: dict[str, pl.DataType] = {
    "start": pl.Int64(),  # epoch seconds
    "end": pl.Int64(),
    "src_addr": pl.String(),
    "dst_addr": pl.String(),
    "src_port": pl.Int32(),
    "dst_port": pl.Int32(),
    "protocol": pl.Int16(),  # IANA number: 6 tcp, 17 udp, 1 icmp, 58 icmpv6
    "packets": pl.Int64(),
    "bytes": pl.Int64(),
    "action": pl.String(),  # ACCEPT | REJECT
    "tcp_flags": pl.Int32(),
    "is_reply": pl.Boolean(),  # true: src is the server side; null: unknown (ports decide)
    # the server answered (one record per connection, e.g. pcap); null: the server's own records
    # (replies, VPC Flow Logs) say it
    "answered": pl.Boolean(),
    "dst_name": pl.String(),  # SNI / HTTP Host / DNS name the flow went to, when known
    **{f"src_id_{f}": pl.String() for f in IDENTITY_FIELDS},
    **{f"dst_id_{f}": pl.String() for f in IDENTITY_FIELDS},
}

DNS_SCHEMA: dict[str, pl.DataType] = {
    "time": pl.Int64(),
    "src_addr": pl.String(),
    "qname": pl.String(),
    **{f"src_id_{f}": pl.String() for f in IDENTITY_FIELDS},
}


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select the schema's columns in order, adding missing ones as typed nulls."""
    names = set(frame.columns)
    return frame.select(
        [
            (pl.col(name).cast(dtype, strict=False) if name in names else pl.lit(None, dtype=dtype)).alias(
                name
            )
            for name, dtype in schema.items()
        ]
    )


@dataclass
class FlowBatch:
    """One bounded batch of flows (FLOW_SCHEMA columns) and DNS observations (DNS_SCHEMA)."""

    flows: pl.DataFrame
    dns: pl.DataFrame | None = None


@dataclass
class SourceStats:
    """What a reader saw, including everything it had to skip (never a crash)."""

    files: int = 0
    records: int = 0  # flow records (or packets for pcap) accepted
    flows: int = 0  # canonical flow rows produced
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + count

    def to_dict(self) -> dict[str, object]:
        return {
            "files": self.files,
            "records": self.records,
            "flows": self.flows,
            "skipped": dict(sorted(self.skipped.items())),
        }


# what a reader counted as skipped -> (why, Skip category); unknown ones are "skipped"
SKIP_REASONS: dict[str, tuple[str, str]] = {
    "repeated header lines": ("a header line repeated inside the log", "skipped"),
    "records with the wrong field count": ("damaged, cut, or of another log format", "damaged"),
    "records with invalid UTF-8 (damaged)": ("bytes that are not UTF-8", "damaged"),
    "NODATA records": ("log-status NODATA: no traffic in the capture window", "skipped"),
    "SKIPDATA records": ("log-status SKIPDATA: records AWS could not capture", "skipped"),
    "records without addresses (unparseable values)": ("no parseable source/destination address",
                                                        "damaged"),
    "invalid JSON line": ("not JSON", "damaged"),
    "JSON event without a message": ("no `message` to read a flow record from", "unsupported"),
    "lines that are not JSON": ("not JSON", "damaged"),
    "events without an IP flow (lost events, agent events, non-IP)": ("not an IP flow", "unsupported"),
    "flows without time or addresses": ("no time or no addresses", "damaged"),
    "truncated or corrupt capture tails": ("the capture is cut or corrupt there", "damaged"),
    "undecodable frames": ("frames that do not decode", "damaged"),
    "non-IP frames (ARP, LLDP, ...)": ("not IP traffic", "unsupported"),
    "truncated TCP/UDP headers": ("the TCP/UDP header is cut (snap length)", "damaged"),
    "undecodable DNS messages": ("DNS payloads that do not decode", "damaged"),
}


def skips_of(source: str, stats: SourceStats) -> list[Skip]:
    """The reader's skip counters as report values (never silence): `N <what> not analyzed: why`."""
    out = []
    for what, count in sorted(stats.skipped.items()):
        if count:
            why, category = SKIP_REASONS.get(what, ("skipped by the reader", "skipped"))
            out.append(Skip(subject=f"{source} {what}", reason=why, count=count, category=category))
    return out


class FlowSource(Protocol):
    """A reader for one kind of flow input."""

    name: str
    stats: SourceStats
    warnings: list[str]
    # address -> names seen for it (DNS answers, PTR, SNI, Host), filled while reading
    names: dict[str, set[str]]

    def read(self, paths: list[str]) -> Iterator[FlowBatch]: ...


class LineSource(FlowSource, Protocol):
    """A reader that also takes raw lines as they come (the streaming analyzer): records of one
    `origin` in input order; `state`/`restore` carry what it learnt of each origin (its header)."""

    def parse_lines(self, lines: Sequence[bytes], origin: str) -> FlowBatch | None: ...

    def state(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...
