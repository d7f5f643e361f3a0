"""`cloudwatch`: a CloudWatch Logs group polled stream by stream (EKS audit logs in
`/aws/eks/CLUSTER/cluster`, `awslogs` container logs, VPC flow logs delivered to CloudWatch).

    - {name: eks, type: cloudwatch, format: k8s-audit, log_group: /aws/eks/prod/cluster,
       stream_prefix: kube-apiserver-audit, region: eu-west-1, poll_interval: 10}

Per stream the checkpoint holds GetLogEvents' forward token and the number of events read, so
a restart continues after the last committed event; each event's message is one line.
"""

from __future__ import annotations

import time
from typing import Any

from seawall.analyzers import Batch
from seawall.core.errors import NetworkError
from seawall.service.config import SourceConfig
from seawall.service.sources.aws import client
from seawall.service.sources.base import Context, Pulled, analyzer_for, setting_num, setting_str


class CloudWatchSource:
    type = "cloudwatch"
    format = ""

    def __init__(self, cfg: SourceConfig, ctx: Context) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.format = setting_str(cfg, "format")
        analyzer_for(self.format)
        self.group = setting_str(cfg, "log_group")
        self.stream_prefix = cfg.get("stream_prefix")
        self.poll_interval = setting_num(cfg, "poll_interval", 10.0)
        self.logs: Any = None
        self.streams: dict[str, dict[str, Any]] = {}
        self.names: list[str] = []
        self.listed_at = 0.0
        self.idle: dict[str, float] = {}

    def start(self, checkpoint: dict[str, Any]) -> None:
        self.logs = client(self.cfg, "logs")
        self.streams = {k: dict(v) for k, v in (checkpoint.get("streams") or {}).items()}

    def _list(self) -> None:
        if self.names and time.monotonic() - self.listed_at < self.poll_interval:
            return
        self.listed_at = time.monotonic()
        kwargs: dict[str, Any] = {"logGroupName": self.group}
        if isinstance(self.stream_prefix, str) and self.stream_prefix:
            kwargs["logStreamNamePrefix"] = self.stream_prefix
        names: list[str] = []
        try:
            for page in self.logs.get_paginator("describe_log_streams").paginate(**kwargs):
                names.extend(s["logStreamName"] for s in page.get("logStreams", []))
        except Exception as exc:
            raise NetworkError(f"CloudWatch Logs {self.group}: {str(exc)[:200]}") from None
        self.names = sorted(names)

    def poll(self, max_lines: int) -> Pulled | None:
        self._list()
        now = time.monotonic()
        for stream in self.names:
            if now - self.idle.get(stream, 0.0) < self.poll_interval:
                continue
            st = self.streams.get(stream, {"token": None, "line": 0})
            kwargs: dict[str, Any] = {
                "logGroupName": self.group,
                "logStreamName": stream,
                "startFromHead": True,
                "limit": min(max_lines, 10_000),
            }
            if st.get("token"):
                kwargs["nextToken"] = st["token"]
            try:
                resp = self.logs.get_log_events(**kwargs)
            except Exception as exc:
                raise NetworkError(f"CloudWatch Logs {self.group}/{stream}: {str(exc)[:200]}") from None
            events = resp.get("events", [])
            token = resp.get("nextForwardToken")
            if not events:
                self.idle[stream] = now
                if token and token != st.get("token") and st.get("token") is None:
                    continue
                continue
            lines = [e.get("message", "").encode("utf-8", "replace").rstrip(b"\n") for e in events]
            first = int(st.get("line", 0)) + 1
            self.streams[stream] = {"token": token, "line": first - 1 + len(lines)}
            cp = {"streams": {k: dict(v) for k, v in self.streams.items()}}
            batch = Batch(lines=lines, origin=f"cloudwatch:{self.group}/{stream}", first_lineno=first)
            return Pulled(batches=[batch], checkpoint=cp, events=len(lines), lines=lines)
        return None

    def committed(self, checkpoint: dict[str, Any]) -> None:
        return None

    def health(self) -> dict[str, Any]:
        return {
            "streams": len(self.names),
            "events_read": sum(int(s.get("line", 0)) for s in self.streams.values()),
        }

    def close(self) -> None:
        return None
