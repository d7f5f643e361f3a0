"""Options of the network analyses; every threshold has a documented default (docs/network.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_ADMIN_PORTS = (22, 2375, 2376, 2379, 2380, 3389, 5985, 5986, 6443, 10250, 10255)
DEFAULT_DATA_PORTS = (5432, 3306, 6379, 27017, 9200, 11211)
DEFAULT_MINING_PORTS = (3333, 3334, 4444, 5555, 7777, 8888, 9999, 14433, 14444, 45560, 45700)
DEFAULT_IMDS_ALLOW = ("Node:*", "*:kube-system/*", "DaemonSet:*/aws-node", "*:*/ebs-csi-*")


@dataclass
class NetworkOptions:
    """Inputs and thresholds of `seawall detect --source vpc-flow|hubble|pcap` and `netmap`."""

    source: str = "vpc-flow"  # vpc-flow | hubble | pcap
    engine: str = "local"  # local | spark (seawall.spark.network: the same detectors on Apache Spark)
    spark_master: str | None = None
    baseline: Path | None = None  # saved by `seawall netmap --save-baseline`
    intel: list[Path] = field(default_factory=list)  # IP/CIDR lists, STIX 2.1 bundles
    inventory: list[Path] = field(default_factory=list)  # kubectl / ecs describe-tasks / docker inspect
    # organisation context and well-known infrastructure (network/context.yaml + these files,
    # YAML/JSON with the same keys, or AWS's ip-ranges.json)
    context: list[Path] = field(default_factory=list)
    # VPC Flow Logs without a header line (CloudWatch Logs): the log format, e.g.
    # "${version} ${srcaddr} ..." or plain field names separated by spaces. Default: the v2 format.
    vpc_format: str | None = None
    batch_bytes: int = 16 << 20  # text per columnar batch (flat memory; 32 MiB costs page faults)
    max_addresses: int = 2_000_000  # distinct addresses tracked; further internet ones share "other"
    max_json_bytes: int = 1 << 30  # whole-document JSON inputs (CloudWatch exports, inventory)
    # port scans: distinct ports on one host / distinct hosts on one port / rejected targets
    scan_ports: int = 20
    scan_hosts: int = 20
    scan_rejects: int = 30
    scan_min_reject_share: float = 0.2  # horizontal: share of targets that never answered
    # lateral movement: accepted connections to remote-admin ports of internal hosts that are not
    # known to serve them (inventory), or to database ports when the client fans out to several
    # servers or the server is a node; edges in the baseline and allowed clients are exempt
    admin_ports: tuple[int, ...] = DEFAULT_ADMIN_PORTS
    data_ports: tuple[int, ...] = DEFAULT_DATA_PORTS
    admin_allow: tuple[str, ...] = ()  # "TYPE:NS/NAME" globs of clients allowed to use them
    lateral_shared_clients: int = 10  # an admin port used by this many client workloads is a service
    # crypto mining
    mining_ports: tuple[int, ...] = DEFAULT_MINING_PORTS
    # instance metadata: clients allowed to reach 169.254.169.254 ("TYPE:NS/NAME" globs)
    imds_allow: tuple[str, ...] = DEFAULT_IMDS_ALLOW
    # exfiltration: bytes to external addresses per hour above factor x the workload's own
    # typical hour (baseline file, else the median of its other hours), and at least min_bytes
    exfil_factor: float = 10.0
    exfil_min_bytes: int = 50 << 20
    # beaconing: connections of one client to one external address:port at regular intervals
    beacon_min_connections: int = 20
    beacon_max_jitter: float = 0.2  # median absolute deviation / median interval
    beacon_min_interval: float = 5.0  # seconds; faster than this is a burst, not a beacon
    beacon_internal: bool = False  # also look at internal destinations
    beacon_max_events: int = 5000  # timestamps kept per pair (bounded memory)
    # baselines: with a learning period (seconds from the first flow), edges, external destinations
    # and periodic connections first seen after it are what alert (None: no learning period)
    learning_period: float | None = None
    # more findings of one rule than this for bare addresses (no inventory): one per /24 (/64) subnet
    max_address_findings: int = 25
    # DNS tunneling
    dns_unique_subdomains: int = 150
    dns_label_length: int = 40
    dns_label_entropy: float = 3.5
    dns_long_queries: int = 20


def parse_period(text: str | None) -> float | None:
    """`90`, `90s`, `30m`, `24h`, `7d` -> seconds (None stays None); anything else is an InputError."""
    from seawall.core.errors import InputError

    if text is None:
        return None
    value = text.strip().lower()
    scale = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(value[-1:])
    number = value[:-1] if scale else value
    try:
        seconds = float(number) * (scale or 1)
    except ValueError:
        raise InputError(f"--learning-period: {text!r} is not a duration (e.g. 3600, 30m, 24h, 7d)") from None
    if seconds <= 0:
        raise InputError("--learning-period: give a positive duration")
    return seconds
