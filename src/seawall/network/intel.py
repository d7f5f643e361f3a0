"""Threat intelligence: plain IP/CIDR/domain lists and STIX 2.1 indicator bundles."""

from __future__ import annotations

import bisect
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from seawall.core.errors import InputError
from seawall.network.sources._io import read_bounded

_STIX = re.compile(r"(ipv4-addr|ipv6-addr|domain-name):value\s*=\s*'([^']+)'")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9_-]{1,63}\.)+[a-z]{2,63}\.?$")


@dataclass
class Intel:
    networks: list[tuple[int, int, int, str]] = field(default_factory=list)  # (version, lo, hi, label)
    domains: dict[str, str] = field(default_factory=dict)
    _v4: list[tuple[int, int, str]] = field(default_factory=list)
    _v4_lo: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.networks) + len(self.domains)

    def add_network(self, text: str, label: str) -> bool:
        try:
            net = ipaddress.ip_network(text.strip(), strict=False)
        except ValueError:
            return False
        self.networks.append((net.version, int(net.network_address), int(net.broadcast_address), label))
        return True

    def freeze(self) -> None:
        merged: list[tuple[int, int, str]] = []
        for lo, hi, lab in sorted((lo, hi, lab) for v, lo, hi, lab in self.networks if v == 4):
            if merged and lo <= merged[-1][1]:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi, merged[-1][2])
                continue
            merged.append((lo, hi, lab))
        self._v4 = merged
        self._v4_lo = [m[0] for m in merged]

    def match_ip(self, addr: str) -> str | None:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return None
        value = int(ip)
        if ip.version == 4:
            i = bisect.bisect_right(self._v4_lo, value) - 1
            if i >= 0 and self._v4[i][0] <= value <= self._v4[i][1]:
                return self._v4[i][2]
            return None
        for v, lo, hi, label in self.networks:
            if v == 6 and lo <= value <= hi:
                return label
        return None

    def match_name(self, name: str) -> str | None:
        name = name.lower().rstrip(".")
        parts = name.split(".")
        for i in range(len(parts) - 1):
            hit = self.domains.get(".".join(parts[i:]))
            if hit:
                return hit
        return None

    @classmethod
    def load(cls, paths: list[Path], max_bytes: int = 1 << 30) -> Intel:
        intel = cls()
        for path in paths:
            p = Path(path)
            if not p.is_file():
                raise InputError(f"no such threat-intel file: {path}")
            data = read_bounded(p, max_bytes)
            before = len(intel)
            if data.lstrip()[:1] in (b"{", b"["):
                try:
                    intel._add_stix(orjson.loads(data), p.name)
                except orjson.JSONDecodeError as exc:
                    raise InputError(f"{path}: threat-intel JSON is invalid ({exc})") from exc
            else:
                for raw in data.decode("utf-8", "replace").splitlines():
                    line = raw.split("#", 1)[0].split(";", 1)[0].strip()
                    if not line:
                        continue
                    token = re.split(r"[\s,]+", line)[0]
                    if not intel.add_network(token, p.name) and _DOMAIN.match(token.lower()):
                        intel.domains[token.lower().rstrip(".")] = p.name
            if len(intel) == before:
                raise InputError(f"{path}: no IP, CIDR or domain indicators found")
        intel.freeze()
        return intel

    def _add_stix(self, doc: Any, origin: str) -> None:
        objects = doc.get("objects", []) if isinstance(doc, dict) else doc
        for obj in objects if isinstance(objects, list) else []:
            if not isinstance(obj, dict) or obj.get("type") != "indicator":
                continue
            pattern = str(obj.get("pattern") or "")
            label = f"{origin}: {obj.get('name') or obj.get('id') or 'indicator'}"
            for kind, value in _STIX.findall(pattern):
                if kind == "domain-name":
                    self.domains[value.lower().rstrip(".")] = label
                else:
                    self.add_network(value, label)
