"""Source types of `seawall serve`, one module each, registered here by type name.

Every type implements `Source` (sources/base.py): started from its checkpoint, polled for
batches of raw lines, told when a checkpoint is committed. Receivers (webhooks) also take
requests; jobs (scan, audit) run on a schedule instead of streaming.
"""

from __future__ import annotations

import importlib
from typing import Any

from seawall.core.errors import InputError

# type -> "module:class"
SOURCE_TYPES: dict[str, str] = {
    "k8s-audit-webhook": "seawall.service.sources.webhook:K8sAuditWebhook",
    "falco-http": "seawall.service.sources.falco_http:FalcoHttp",
    "file": "seawall.service.sources.file:FileSource",
    "s3": "seawall.service.sources.s3:S3Source",
    "cloudwatch": "seawall.service.sources.cloudwatch:CloudWatchSource",
    "scan": "seawall.service.sources.scan_job:ScanJob",
    "audit": "seawall.service.sources.audit_job:AuditJob",
}


def source_class(kind: str) -> Any:
    spec = SOURCE_TYPES.get(kind)
    if spec is None:
        raise InputError(f"unknown source type {kind!r}; choose one of: {', '.join(SOURCE_TYPES)}")
    module, attr = spec.split(":")
    return getattr(importlib.import_module(module), attr)
