"""Network detectors, registered in one place. Metadata: ../rules.yaml; thresholds: NetworkOptions."""

from __future__ import annotations

from seawall.network.detectors.base import Context, Detector
from seawall.network.detectors.beacon import Beaconing
from seawall.network.detectors.dnstunnel import DnsTunneling
from seawall.network.detectors.exfil import Exfiltration
from seawall.network.detectors.imds import MetadataAccess
from seawall.network.detectors.intel import ThreatIntel
from seawall.network.detectors.lateral import LateralMovement
from seawall.network.detectors.mining import CryptoMining
from seawall.network.detectors.newedge import NewDestination, NewEdge
from seawall.network.detectors.scan import PortScan


def all_detectors() -> list[Detector]:
    return [
        NewEdge(),
        NewDestination(),
        PortScan(),
        LateralMovement(),
        ThreatIntel(),
        CryptoMining(),
        MetadataAccess(),
        Exfiltration(),
        Beaconing(),
        DnsTunneling(),
    ]


__all__ = ["Context", "Detector", "all_detectors"]
