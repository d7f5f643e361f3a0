"""What the AWS sources share: a boto3 client with timeouts, and bounded object reads."""

from __future__ import annotations

import gzip
import io
from typing import Any

from seawall.core.errors import InputError
from seawall.service.config import SourceConfig


def client(cfg: SourceConfig, service: str) -> Any:
    import boto3
    from botocore.config import Config

    region = cfg.get("region")
    endpoint = cfg.get("endpoint_url")
    for key, value in (("region", region), ("endpoint_url", endpoint), ("profile", cfg.get("profile"))):
        if value is not None and not isinstance(value, str):
            raise InputError(f"source {cfg.name}: {key} must be a string")
    session = boto3.session.Session(profile_name=cfg.get("profile")) if cfg.get("profile") else boto3
    return session.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        config=Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"}),
    )


def read_capped(body: Any, cap: int) -> tuple[bytes, bool]:
    """At most `cap` bytes of a streaming body, and whether there was more."""
    data = body.read(cap + 1)
    return (data[:cap], True) if len(data) > cap else (data, False)


def gunzip_capped(data: bytes, cap: int) -> tuple[bytes, bool]:
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as fh:
        out = fh.read(cap + 1)
    return (out[:cap], True) if len(out) > cap else (out, False)
