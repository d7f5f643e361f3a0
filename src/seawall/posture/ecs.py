"""Amazon ECS: task definitions (describe-task-definition output or register-task-definition input),
services (describe-services / create-service output) and clusters (describe-clusters output)."""

from __future__ import annotations

import re
from typing import Any

from seawall.core import Resource
from seawall.posture.base import Context, load_checks
from seawall.posture.credentials import secret_in
from seawall.posture.loader import Document, LDict, LList
from seawall.secrets import redact

NAME = "ecs"
LATEST_FARGATE = {"LINUX": "1.4.0", "WINDOWS": "1.0.0"}
SAFE_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
             "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
IGNORE_TAG = "seawall.io/ignore"


def _task_def(data: Any) -> LDict | None:
    if not isinstance(data, LDict):
        return None
    inner = data.get("taskDefinition")
    if isinstance(inner, LDict) and isinstance(inner.get("containerDefinitions"), list):
        return inner
    if isinstance(data.get("containerDefinitions"), list):
        return data
    return None


def _services(data: Any) -> list[LDict]:
    if not isinstance(data, LDict):
        return []
    if isinstance(data.get("services"), list):
        return [s for s in data["services"] if isinstance(s, LDict) and "serviceName" in s]
    svc = data.get("service")
    if isinstance(svc, LDict) and "serviceName" in svc:
        return [svc]
    if "serviceName" in data and ("taskDefinition" in data or "launchType" in data):
        return [data]
    return []


def _clusters(data: Any) -> list[LDict]:
    if not isinstance(data, LDict):
        return []
    items = data.get("clusters")
    if isinstance(items, list):
        return [c for c in items if isinstance(c, LDict) and str(c.get("clusterArn", "")).find(":ecs:") > 0]
    cluster = data.get("cluster")
    if isinstance(cluster, LDict) and ":ecs:" in str(cluster.get("clusterArn", "")):
        return [cluster]
    return []


def accepts(doc: Document) -> bool:
    data = doc.data
    return _task_def(data) is not None or bool(_services(data)) or bool(_clusters(data))


def _tags_ignore(*tag_lists: Any) -> set[str]:
    out: set[str] = set()
    for tags in tag_lists:
        if not isinstance(tags, list):
            continue
        for tag in tags:
            if isinstance(tag, dict) and (tag.get("key") or tag.get("Key")) == IGNORE_TAG:
                value = str(tag.get("value") or tag.get("Value") or "")
                out.update(x for x in re.split(r"[,\s]+", value) if x)
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_root(user: Any) -> bool:
    if user in (None, ""):
        return True
    name = str(user).split(":", 1)[0].strip()
    return name in ("root", "0")


def check_task_definition(td: LDict, path: str, ctx: Context, tags: Any = None) -> None:
    checks = load_checks(NAME)
    family = str(td.get("family", "?"))
    name = f"{family}:{td['revision']}" if "revision" in td else family
    arn = td.get("taskDefinitionArn")
    res = Resource(type="AWS::ECS::TaskDefinition", name=name, arn=str(arn) if arn else None)
    sup = _tags_ignore(tags, td.get("tags"))

    def rep(cid: str, line: int | None, ev: str) -> None:
        ctx.report(checks[cid], res, path, line, ev, suppress=sup)

    platform = td.get("runtimePlatform")
    windows = isinstance(platform, dict) and str(platform.get("operatingSystemFamily", "")).startswith(
        "WINDOWS")
    if td.get("networkMode") == "host":
        rep("SW-ECS-004", td.ln("networkMode"), "networkMode: host")
    if td.get("pidMode") == "host":
        rep("SW-ECS-005", td.ln("pidMode"), "pidMode: host")
    if td.get("ipcMode") == "host":
        rep("SW-ECS-006", td.ln("ipcMode"), "ipcMode: host")
    task_role, exec_role = td.get("taskRoleArn"), td.get("executionRoleArn")
    if task_role and task_role == exec_role:
        rep("SW-ECS-013", td.ln("executionRoleArn"), f"taskRoleArn == executionRoleArn == {task_role}")
    defs = td.get("containerDefinitions")
    if not isinstance(defs, LList):
        return
    for cdef in defs:
        if not isinstance(cdef, LDict):
            continue
        cname = str(cdef.get("name", "?"))
        who = f"container {cname}"
        cline = cdef.first_line
        if cdef.get("privileged") is True:
            rep("SW-ECS-001", cdef.ln("privileged"), f"{who}: privileged: true")
        if not windows and _is_root(cdef.get("user")):
            line = cdef.ln("user") if "user" in cdef else cline
            user = cdef.get("user") or "not set (image default, usually root)"
            rep("SW-ECS-002", line, f"{who}: user {user}")
        if not windows and cdef.get("readonlyRootFilesystem") is not True:
            line = cdef.ln("readonlyRootFilesystem") if "readonlyRootFilesystem" in cdef else cline
            rep("SW-ECS-003", line, f"{who}: readonlyRootFilesystem is not true")
        if not cdef.get("logConfiguration"):
            rep("SW-ECS-008", cline, f"{who}: no logConfiguration")
        env = cdef.get("environment")
        if isinstance(env, LList):
            for item in env:
                if not isinstance(item, LDict):
                    continue
                ename, value = str(item.get("name", "")), item.get("value")
                if isinstance(value, str) and value.strip():
                    val = value.strip()
                    found = secret_in(ename, val)
                    if found is not None:
                        rep("SW-ECS-007", item.ln("value"),
                            f"{who}: environment {ename}={redact(found.secret)}")
        linux = cdef.get("linuxParameters")
        caps = linux.get("capabilities") if isinstance(linux, LDict) else None
        add = caps.get("add") if isinstance(caps, LDict) else None
        if isinstance(add, LList):
            for i, cap in enumerate(add):
                cap_name = str(cap).upper().removeprefix("CAP_")
                if cap_name not in SAFE_CAPS:
                    rep("SW-ECS-009", add.ln(i), f"{who}: capabilities.add {cap_name}")


def check_service(svc: LDict, path: str, ctx: Context) -> None:
    checks = load_checks(NAME)
    name = str(svc.get("serviceName", "?"))
    arn = svc.get("serviceArn")
    cluster = str(svc.get("clusterArn", "")).rsplit("/", 1)[-1] or None
    res = Resource(type="AWS::ECS::Service", name=name, namespace=cluster, arn=str(arn) if arn else None)
    sup = _tags_ignore(svc.get("tags"))
    net = svc.get("networkConfiguration")
    vpc = net.get("awsvpcConfiguration") if isinstance(net, LDict) else None
    if isinstance(vpc, LDict) and str(vpc.get("assignPublicIp", "")).upper() == "ENABLED":
        ctx.report(checks["SW-ECS-010"], res, path, vpc.ln("assignPublicIp"), "assignPublicIp: ENABLED",
                   suppress=sup)
    fargate = svc.get("launchType") == "FARGATE" or any(
        isinstance(s, dict) and str(s.get("capacityProvider", "")).startswith("FARGATE")
        for s in _as_list(svc.get("capacityProviderStrategy")))
    if fargate:
        version = str(svc.get("platformVersion") or "LATEST")
        family = str(svc.get("platformFamily") or "LINUX").upper()
        latest = LATEST_FARGATE["WINDOWS" if family.startswith("WINDOWS") else "LINUX"]
        if version not in ("LATEST", latest):
            line = svc.ln("platformVersion") if "platformVersion" in svc else svc.line
            ctx.report(checks["SW-ECS-011"], res, path, line,
                       f"platformVersion {version} (latest {latest})", suppress=sup)


def check_cluster(cluster: LDict, path: str, ctx: Context) -> None:
    checks = load_checks(NAME)
    name = str(cluster.get("clusterName", "?"))
    res = Resource(type="AWS::ECS::Cluster", name=name, arn=str(cluster.get("clusterArn") or "") or None)
    settings = cluster.get("settings")
    if settings is None:
        return  # describe-clusters without `--include SETTINGS`: cannot tell
    enabled = False
    line = cluster.ln("settings") if "settings" in cluster else cluster.line
    if isinstance(settings, LList):
        for i, s in enumerate(settings):
            if isinstance(s, dict) and s.get("name") == "containerInsights":
                enabled = str(s.get("value", "")).lower() in ("enabled", "enhanced")
                line = settings.ln(i)
    if not enabled:
        ctx.report(checks["SW-ECS-012"], res, path, line, "containerInsights not enabled",
                   suppress=_tags_ignore(cluster.get("tags")))


def run(docs: list[Document], ctx: Context) -> None:
    for doc in docs:
        td = _task_def(doc.data)
        if td is not None:
            tags = doc.data.get("tags") if isinstance(doc.data, dict) else None
            check_task_definition(td, doc.path, ctx, tags)
        for svc in _services(doc.data):
            check_service(svc, doc.path, ctx)
        for cluster in _clusters(doc.data):
            check_cluster(cluster, doc.path, ctx)
