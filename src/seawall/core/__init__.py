"""The one finding shape and report envelope shared by every analyzer (no I/O here)."""

from seawall.core.errors import InputError, LimitExceeded, SeawallError
from seawall.core.models import (
    Finding,
    FindingKind,
    Location,
    OSInfo,
    Package,
    Report,
    ReportKind,
    Resource,
    Severity,
    Skip,
    Target,
    VulnerabilityInfo,
)

__all__ = [
    "Finding",
    "FindingKind",
    "InputError",
    "LimitExceeded",
    "Location",
    "OSInfo",
    "Package",
    "Report",
    "ReportKind",
    "Resource",
    "SeawallError",
    "Severity",
    "Skip",
    "Target",
    "VulnerabilityInfo",
]
