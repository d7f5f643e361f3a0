"""`s3`: objects under an S3 prefix polled in key order (CloudTrail, VPC flow logs; gzip or not).

    - {name: trail, type: s3, format: cloudtrail, bucket: org-logs,
       prefix: AWSLogs/111122223333/CloudTrail/eu-west-1/, region: eu-west-1, poll_interval: 60}

The checkpoint holds the keys done recently (the newest 1,000: a late object whose key sorts
before newer ones is still picked up while it is within them), the key being read and how many
of its lines or records were committed; after a restart that object is read again and its first
lines skipped. An object over `limits.max_object_bytes` (compressed or not) is read up to the cap
and counted as dropped. Use one source per region prefix: keys sort by date within a region.
"""

from __future__ import annotations

import time
from typing import Any

from seawall.analyzers import Batch

# _NOTE_DOCUMENT: CloudTrail's records are fed as numbered lines (record N = line N), not as a
# `document` batch: a document's findings carry no line and the record only in `extra`, so two
# findings of one rule and resource in one file (different windows) would share one stable id.
from seawall.core.errors import NetworkError
from seawall.service.config import SourceConfig
from seawall.service.sources.aws import client, gunzip_capped, read_capped
from seawall.service.sources.base import Context, Pulled, analyzer_for, setting_num, setting_str

KEEP_DONE = 1000


class S3Source:
    type = "s3"
    format = ""

    def __init__(self, cfg: SourceConfig, ctx: Context) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.ctx = ctx
        self.format = setting_str(cfg, "format")
        analyzer_for(self.format)
        self.bucket = setting_str(cfg, "bucket")
        self.prefix = str(cfg.get("prefix", "") or "")
        self.poll_interval = setting_num(cfg, "poll_interval", 60.0)
        self.s3: Any = None
        self.done: list[str] = []
        self.key: str | None = None
        self.line = 0
        self.lines: list[bytes] | None = None
        self.document = False
        self.truncated = False
        self.pending: list[str] = []
        self.listed_at = 0.0
        self.behind = 0

    def start(self, checkpoint: dict[str, Any]) -> None:
        self.s3 = client(self.cfg, "s3")
        self.done = list(checkpoint.get("done") or [])
        self.key = checkpoint.get("key")
        self.line = int(checkpoint.get("line", 0))

    def _list(self) -> None:
        if time.monotonic() - self.listed_at < self.poll_interval and self.pending:
            return
        if time.monotonic() - self.listed_at < self.poll_interval and self.listed_at:
            return
        self.listed_at = time.monotonic()
        done = set(self.done)
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        if len(self.done) >= KEEP_DONE:
            kwargs["StartAfter"] = min(self.done)
        keys: list[str] = []
        try:
            for page in self.s3.get_paginator("list_objects_v2").paginate(**kwargs):
                for obj in page.get("Contents", []):
                    k = obj["Key"]
                    if not k.endswith("/") and k not in done and k != self.key:
                        keys.append(k)
                if len(keys) > 10_000:
                    break
        except Exception as exc:
            raise NetworkError(f"s3://{self.bucket}/{self.prefix}: {str(exc)[:200]}") from None
        self.pending = sorted(keys)
        self.behind = len(self.pending)

    def _load(self, key: str) -> None:
        cap = self.ctx.limits.max_object_bytes
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=key)
            data, over = read_capped(obj["Body"], cap)
        except Exception as exc:
            raise NetworkError(f"s3://{self.bucket}/{key}: {str(exc)[:200]}") from None
        if data[:2] == b"\x1f\x8b":
            try:
                data, more = gunzip_capped(data, cap)
            except (OSError, EOFError):  # damaged gzip: what could be read is gone with it
                data, more = b"", True
            over = over or more
        self.truncated = over
        self.document = False
        if self.format == "cloudtrail":
            from seawall.telemetry import get_reader

            records = get_reader("cloudtrail").split_document(data)
            if records is not None:
                self.lines, self.document = records, False  # see _NOTE_DOCUMENT
                return
        self.lines = [x.rstrip(b"\r") for x in data.split(b"\n") if x.strip()]

    def poll(self, max_lines: int) -> Pulled | None:
        if self.key is None:
            self._list()
            if not self.pending:
                return None
            self.key, self.line, self.lines = self.pending.pop(0), 0, None
        key = self.key
        if self.lines is None:
            self._load(key)
        assert self.lines is not None
        chunk = self.lines[self.line : self.line + max_lines]
        first = self.line + 1
        self.line += len(chunk)
        dropped = 0
        if self.line >= len(self.lines):
            dropped = 1 if self.truncated else 0
            self.done = ([*self.done, key])[-KEEP_DONE:]
            self.key, self.line, self.lines = None, 0, None
            self.behind = len(self.pending)
        cp = {"done": list(self.done), "key": self.key, "line": self.line}
        batches = (
            [
                Batch(
                    lines=chunk,
                    origin=f"s3://{self.bucket}/{key}",
                    first_lineno=first,
                    document=self.document,
                )
            ]
            if chunk
            else []
        )
        return Pulled(batches=batches, checkpoint=cp, events=len(chunk), lines=list(chunk), dropped=dropped)

    def committed(self, checkpoint: dict[str, Any]) -> None:
        return None

    def health(self) -> dict[str, Any]:
        return {"objects_behind": self.behind, "objects_done": len(self.done), "reading": self.key}

    def close(self) -> None:
        return None
