"""Falco's JSON output (`json_output: true`): alerts with `rule`, `priority`, `output`, `time`
and `output_fields` ("proc.cmdline", "container.id", "k8s.pod.name", ...).

Field names in rules: Falco's own (`proc.cmdline`, `k8s.ns.name`), the top-level keys
(`rule`, `priority`, `tags`), and Sigma's process/file/network names (`Image`, `CommandLine`...)."""

from __future__ import annotations

import polars as pl

from seawall.telemetry.base import Segment
from seawall.telemetry.jsonread import ExprOf, JsonReader, ts

TOP_LEVEL = {"rule", "priority", "output", "time", "hostname", "source", "tags", "output_fields", "uuid"}

SIGMA_ALIASES = {
    "Image": "proc.exepath",
    "CommandLine": "proc.cmdline",
    "ParentImage": "proc.pexepath",
    "ParentCommandLine": "proc.pcmdline",
    "User": "user.name",
    "CurrentDirectory": "proc.cwd",
    "ProcessId": "proc.pid",
    "ParentProcessId": "proc.ppid",
    "TargetFilename": "fd.name",
    "DestinationIp": "fd.sip",
    "DestinationPort": "fd.sport",
    "DestinationHostname": "fd.sip.name",
    "SourceIp": "fd.cip",
    "SourcePort": "fd.cport",
}


class FalcoReader(JsonReader):
    name = "falco"
    signature = (b'"output_fields"', b'"priority"')
    aliases = SIGMA_ALIASES
    list_fields = frozenset({"tags"})
    base_fields = (
        "time",
        "user.name",
        "container.id",
        "container.name",
        "k8s.ns.name",
        "k8s.pod.name",
        "fd.cip",
        "fd.sip",
        "output_fields.evt.time",
    )

    def resolve(self, field_name: str) -> tuple[Segment, ...]:
        name = self.aliases.get(field_name, field_name)
        if name in TOP_LEVEL:
            return (Segment(name, name in self.list_fields),)
        if name.startswith("output_fields."):
            name = name[len("output_fields.") :]
        return (Segment("output_fields"), Segment(name))

    def common(self, f: ExprOf) -> dict[str, pl.Expr]:
        pod = f("k8s.pod.name")
        epoch = f("output_fields.evt.time").cast(pl.Int64, strict=False)
        return {
            "time": pl.coalesce(
                ts(f("time")), pl.from_epoch(epoch // 1000, time_unit="us").dt.replace_time_zone("UTC")
            ),
            "actor": f("user.name"),
            "src_ip": f("fd.cip"),
            "dst_ip": f("fd.sip"),
            "workload_type": pl.when(pod.is_not_null()).then(pl.lit("k8s")).otherwise(pl.lit("container")),
            "namespace": f("k8s.ns.name"),
            "workload_kind": pl.when(pod.is_not_null()).then(pl.lit("Pod")).otherwise(pl.lit("container")),
            "workload_name": pl.coalesce(pod, f("container.name"), f("container.id")),
            "cluster": pl.lit(None, pl.String),
            "container_id": f("container.id"),
            "container_name": f("container.name"),
        }


READER = FalcoReader()
