"""Telemetry readers, one module per source, registered here by source name."""

from __future__ import annotations

import importlib

from seawall.core.errors import InputError
from seawall.telemetry.base import COMMON_COLUMNS, Batch, Reader, ReadPlan, ReadStats

# source name -> module with a READER
READERS: dict[str, str] = {
    "k8s-audit": "seawall.telemetry.k8s_audit",
    "cloudtrail": "seawall.telemetry.cloudtrail",
    "container-logs": "seawall.telemetry.container_logs",
    "falco": "seawall.telemetry.falco",
    "tetragon": "seawall.telemetry.tetragon",
}
# flow sources belong to seawall.network
FLOW_SOURCES = ("vpc-flow", "hubble", "pcap")


def get_reader(name: str) -> Reader:
    module = READERS.get(name)
    if module is None:
        choices = ", ".join([*READERS, *FLOW_SOURCES])
        raise InputError(f"unknown source {name!r}; choose one of: {choices}")
    reader: Reader = importlib.import_module(module).READER
    return reader


__all__ = [
    "COMMON_COLUMNS",
    "FLOW_SOURCES",
    "READERS",
    "Batch",
    "ReadPlan",
    "ReadStats",
    "Reader",
    "get_reader",
]
