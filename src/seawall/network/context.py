"""What the network detections know about the environment, as data: the organisation's own
address ranges, well-known infrastructure (NTP, DNS, AWS service endpoints, package mirrors)
and the clients allowed to use administrative ports. `context.yaml` beside this module is the
default; `--context FILE` files extend it (same keys, lists appended), and AWS's ip-ranges.json
may be given as a context file: its AWS service ranges (not EC2, where anyone's instances live)
become infrastructure.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import yaml

from seawall.core.errors import InputError
from seawall.network.sources._io import read_bounded

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1}


@dataclass
class Context:
    known_networks: list[Network] = field(default_factory=list)
    infra_networks: list[Network] = field(default_factory=list)
    infra_ports: set[tuple[int, int]] = field(default_factory=set)  # (port, protocol)
    infra_names: list[str] = field(default_factory=list)  # globs, lower case
    admin_clients: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def is_infra_address(self, addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in net for net in self.infra_networks if net.version == ip.version)

    def is_infra_name(self, name: str) -> bool:
        name = name.lower().rstrip(".")
        return any(fnmatch.fnmatchcase(name, glob) for glob in self.infra_names)

    @classmethod
    def load(cls, paths: list[Path], max_bytes: int = 1 << 30) -> Context:
        ctx = cls()
        ctx._merge(_default(), "context.yaml")
        for path in paths:
            p = Path(path)
            if not p.is_file():
                raise InputError(f"no such context file: {path}")
            data = read_bounded(p, max_bytes)
            try:
                doc = orjson.loads(data) if data.lstrip()[:1] == b"{" else yaml.safe_load(data)
            except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
                reason = str(exc).splitlines()[0]
                raise InputError(f"{path}: context is neither JSON nor YAML ({reason})") from exc
            if isinstance(doc, dict) and isinstance(doc.get("prefixes"), list) and "syncToken" in doc:
                ctx._merge_aws_ranges(doc, str(path))
            elif isinstance(doc, dict):
                ctx._merge(doc, str(path))
            else:
                raise InputError(f"{path}: a context file is a mapping (known_cidrs, infrastructure, ...)")
            ctx.sources.append(str(path))
        return ctx

    def _merge(self, doc: dict[str, Any], origin: str) -> None:
        unknown = set(doc) - {"known_cidrs", "infrastructure", "admin_clients", "organization", "network"}
        if unknown:
            raise InputError(f"{origin}: unknown context key(s) {', '.join(sorted(unknown))}")
        # a shared seawall context file may nest the network part
        nested: dict[str, Any] = doc["network"] if isinstance(doc.get("network"), dict) else {}
        org: dict[str, Any] = doc["organization"] if isinstance(doc.get("organization"), dict) else {}
        for text in [*_list(doc.get("known_cidrs")), *_list(org.get("known_cidrs")),
                     *_list(nested.get("known_cidrs"))]:
            self.known_networks.append(_network(text, origin))
        for entry in [*_list(doc.get("infrastructure")), *_list(nested.get("infrastructure"))]:
            if not isinstance(entry, dict):
                raise InputError(f"{origin}: an infrastructure entry is a mapping (ports, cidrs, names)")
            for text in _list(entry.get("cidrs")):
                self.infra_networks.append(_network(text, origin))
            for text in _list(entry.get("ports")):
                self.infra_ports.add(_port(text, origin))
            self.infra_names += [str(n).lower().rstrip(".") for n in _list(entry.get("names"))]
        self.admin_clients += [str(g) for g in [*_list(doc.get("admin_clients")),
                                                *_list(nested.get("admin_clients"))]]

    def _merge_aws_ranges(self, doc: dict[str, Any], origin: str) -> None:
        """AWS ip-ranges.json: every AWS range but those where EC2 instances (anyone's) live."""
        amazon: list[Network] = []
        ec2: list[Network] = []
        for key, field_name in (("prefixes", "ip_prefix"), ("ipv6_prefixes", "ipv6_prefix")):
            for p in _list(doc.get(key)):
                if not isinstance(p, dict) or not p.get(field_name):
                    continue
                net = _network(str(p[field_name]), origin)
                (ec2 if p.get("service") == "EC2" else amazon).append(net)
        ec2 = list(ipaddress.collapse_addresses(n for n in ec2 if n.version == 4)) + list(
            ipaddress.collapse_addresses(n for n in ec2 if n.version == 6))
        for net in set(amazon):
            self.infra_networks += _subtract(net, ec2)


def _subtract(net: Network, holes: list[Network]) -> list[Network]:
    parts = [net]
    for hole in holes:
        if hole.version != net.version or not net.overlaps(hole):
            continue
        nxt: list[Network] = []
        for part in parts:
            if not part.overlaps(hole):
                nxt.append(part)
            elif hole.supernet_of(part):  # type: ignore[arg-type]
                continue
            else:
                nxt += list(part.address_exclude(hole))  # type: ignore[arg-type]
        parts = nxt
    return parts


@cache
def _default() -> dict[str, Any]:
    text = resources.files("seawall.network").joinpath("context.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _network(text: Any, origin: str) -> Network:
    try:
        return ipaddress.ip_network(str(text).strip(), strict=False)
    except ValueError as exc:
        raise InputError(f"{origin}: not an address range: {str(text)[:80]!r}") from exc


def _port(text: Any, origin: str) -> tuple[int, int]:
    port, _, proto = str(text).partition("/")
    if not port.isdigit() or not 0 < int(port) < 65536 or proto.lower() not in _PROTOCOLS:
        raise InputError(f"{origin}: infrastructure port must read like 123/udp, not {str(text)[:40]!r}")
    return int(port), _PROTOCOLS[proto.lower()]
