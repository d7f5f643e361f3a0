"""Flow readers, registered in one place: name -> factory(options) -> FlowSource."""

from __future__ import annotations

from collections.abc import Callable

from seawall.core.errors import InputError
from seawall.network.base import FlowSource, LineSource
from seawall.network.options import NetworkOptions


def _vpc(options: NetworkOptions) -> FlowSource:
    from seawall.network.sources.vpcflow import VpcFlowSource

    return VpcFlowSource(options)


def _hubble(options: NetworkOptions) -> FlowSource:
    from seawall.network.sources.hubble import HubbleSource

    return HubbleSource(options)


def _pcap(options: NetworkOptions) -> FlowSource:
    from seawall.network.sources.pcap import PcapSource

    return PcapSource(options)


SOURCES: dict[str, Callable[[NetworkOptions], FlowSource]] = {
    "vpc-flow": _vpc,
    "hubble": _hubble,
    "pcap": _pcap,
}


def open_source(name: str, options: NetworkOptions) -> FlowSource:
    factory = SOURCES.get(name)
    if factory is None:
        raise InputError(f"unknown network source {name!r}; use {', '.join(SOURCES)}")
    return factory(options)


def open_lines(name: str, options: NetworkOptions) -> LineSource:
    """A reader of raw lines for the streaming analyzer (VPC Flow Logs text, Hubble JSON)."""
    if name == "vpc-flow":
        from seawall.network.sources.vpcflow import VpcFlowSource

        return VpcFlowSource(options)
    if name == "hubble":
        from seawall.network.sources.hubble import HubbleSource

        return HubbleSource(options)
    if name == "pcap":
        raise InputError("pcap captures do not stream as lines; give the capture files to `run`")
    raise InputError(f"unknown network source {name!r}; use {', '.join(SOURCES)}")
