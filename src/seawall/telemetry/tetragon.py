"""Cilium Tetragon's JSON export (`tetra getevents -o json`, the export file): one event per line
with one top-level key per kind (`process_exec`, `process_exit`, `process_kprobe`, ...).

Rules can use the raw paths (`process_exec.process.binary`), kind-independent names
(`process.binary`, `process.arguments`, `parent.binary`, `process.pod.namespace`, `event_type`)
and Sigma's process names (`Image`, `CommandLine`, `ParentImage`, `ParentCommandLine`, `User`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import polars as pl

from seawall.telemetry.jsonread import ExprOf, JsonReader, ts

KINDS = (
    "process_exec",
    "process_exit",
    "process_kprobe",
    "process_tracepoint",
    "process_lsm",
    "process_uprobe",
)
PROCESS_FIELDS = (
    "binary",
    "arguments",
    "cwd",
    "uid",
    "pid",
    "pod.namespace",
    "pod.name",
    "pod.workload",
    "pod.workload_kind",
    "pod.container.id",
    "pod.container.name",
    "pod.container.image.name",
    "docker",
)


def _coalesce(part: str, fieldname: str) -> Callable[[ExprOf], pl.Expr]:
    return lambda f: pl.coalesce([f(f"{k}.{part}.{fieldname}") for k in KINDS])


def _cmdline(who: str) -> Callable[[ExprOf], pl.Expr]:
    def build(f: ExprOf) -> pl.Expr:
        binary, args = f(f"{who}.binary"), f(f"{who}.arguments")
        return (
            pl.when(args.is_null() | (args == ""))
            .then(binary)
            .otherwise(pl.concat_str([binary, pl.lit(" "), args]))
        )

    return build


def _event_type(f: ExprOf) -> pl.Expr:
    expr = pl.lit(None, pl.String)
    for k in reversed(KINDS):
        expr = pl.when(f(f"{k}.process.binary").is_not_null()).then(pl.lit(k)).otherwise(expr)
    return expr


DERIVED: dict[str, Callable[[ExprOf], pl.Expr]] = {
    **{f"process.{p}": _coalesce("process", p) for p in PROCESS_FIELDS},
    **{f"parent.{p}": _coalesce("parent", p) for p in PROCESS_FIELDS},
    "process.cmdline": _cmdline("process"),
    "parent.cmdline": _cmdline("parent"),
    "event_type": _event_type,
    "function_name": lambda f: f("process_kprobe.function_name"),
}
SIGMA_ALIASES = {
    "Image": "process.binary",
    "CommandLine": "process.cmdline",
    "ParentImage": "parent.binary",
    "ParentCommandLine": "parent.cmdline",
    "User": "process.uid",
    "CurrentDirectory": "process.cwd",
    "ProcessId": "process.pid",
}


class TetragonReader(JsonReader):
    name = "tetragon"
    signature = (b'"process_', b'"node_name"')
    derived = DERIVED
    base_fields = ("time", "node_name")

    def needed(self, field_name: str) -> Iterable[str]:
        if field_name == "event_type":
            return [f"{k}.process.binary" for k in KINDS]
        if field_name == "function_name":
            return ["process_kprobe.function_name"]
        who, _, rest = field_name.partition(".")
        if rest in ("cmdline",):
            return [f"{k}.{who}.{p}" for k in KINDS for p in ("binary", "arguments")]
        return [f"{k}.{who}.{rest}" for k in KINDS]

    def plan(self, fields: Iterable[str]):  # type: ignore[no-untyped-def]
        wanted = {SIGMA_ALIASES.get(x, x) for x in fields}
        wanted |= {
            "process.pod.namespace",
            "process.pod.name",
            "process.pod.workload",
            "process.pod.workload_kind",
            "process.pod.container.id",
            "process.pod.container.name",
            "process.uid",
            "process.docker",
        }
        plan = super().plan(wanted)
        for alias, target in SIGMA_ALIASES.items():
            if alias in set(fields):
                plan.columns[alias] = plan.columns[target]
        return plan

    def common(self, f: ExprOf) -> dict[str, pl.Expr]:
        pod = f("process.pod.name")
        wl = f("process.pod.workload")
        return {
            "time": ts(f("time")),
            "actor": f("process.uid"),
            "src_ip": pl.lit(None, pl.String),
            "dst_ip": pl.lit(None, pl.String),
            "workload_type": pl.when(pod.is_not_null()).then(pl.lit("k8s")).otherwise(pl.lit("container")),
            "namespace": f("process.pod.namespace"),
            "workload_kind": pl.when(wl.is_not_null())
            .then(f("process.pod.workload_kind"))
            .when(pod.is_not_null())
            .then(pl.lit("Pod"))
            .otherwise(pl.lit("container")),
            "workload_name": pl.coalesce(wl, pod, f("process.pod.container.name"), f("process.docker")),
            "cluster": pl.lit(None, pl.String),
            "container_id": pl.coalesce(f("process.pod.container.id"), f("process.docker")),
            "container_name": f("process.pod.container.name"),
        }


READER = TetragonReader()
