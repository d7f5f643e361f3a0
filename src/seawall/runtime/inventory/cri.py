"""The Container Runtime Interface (containerd, CRI-O) over its gRPC socket, as `crictl ps` and
`crictl inspect` ask it: `runtime.v1.RuntimeService/ListContainers` (state RUNNING),
`ListPodSandbox` (pod name, namespace), `ContainerStatus` with `verbose` (start time, image ref,
and the runtime's verbose `info`: the PID for drift, privileges from the OCI runtime spec and the
CRI container config that containerd and CRI-O put there). Messages are encoded with seawall's
small protobuf wire codec (`_protowire`); no generated stubs."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import orjson

from seawall.core.errors import InputError, NetworkError
from seawall.core.text import printable
from seawall.runtime.base import Container, Privileges, Workload
from seawall.runtime.inventory import _protowire as pw
from seawall.runtime.inventory.labels import workload_from_labels

SERVICE = "/runtime.v1.RuntimeService/"
DEFAULT_SOCKETS = (
    "unix:///run/containerd/containerd.sock",
    "unix:///run/crio/crio.sock",
    "unix:///var/run/crio/crio.sock",
)
CONTAINER_RUNNING = 1
SANDBOX_READY = 0
MAX_MESSAGE = 64 << 20
TIMEOUT = 15.0


def _iso_ns(value: int) -> str | None:
    if value <= 0:
        return None
    return datetime.fromtimestamp(value / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CRISource:
    name = "cri"

    def __init__(self, address: str | None = None) -> None:
        import grpc

        if address is None:
            address = next(
                (a for a in DEFAULT_SOCKETS if os.path.exists(a.removeprefix("unix://"))), DEFAULT_SOCKETS[0]
            )
        if not address.startswith("unix://"):
            address = "unix://" + address
        path = address.removeprefix("unix://")
        if not os.path.exists(path):
            raise InputError(f"cri: no socket at {path}")
        self.address = address
        self.channel = grpc.insecure_channel(
            address, options=[("grpc.max_receive_message_length", MAX_MESSAGE)]
        )

    def close(self) -> None:
        self.channel.close()

    def call(self, method: str, request: dict[int, Any], timeout: float = TIMEOUT) -> dict[int, list[Any]]:
        import grpc

        stub = self.channel.unary_unary(
            SERVICE + method, request_serializer=pw.encode, response_deserializer=lambda b: b
        )
        try:
            raw = stub(request, timeout=timeout)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            detail = exc.details() if hasattr(exc, "details") else str(exc)
            raise NetworkError(
                f"cri: {method} on {printable(self.address)}: {code.name if code else ''} "
                f"{printable(str(detail))[:200]}"
            ) from None
        return pw.decode(raw)

    def version(self) -> dict[str, str]:
        fields = self.call("Version", {1: "v1"})
        return {
            "version": pw.text(fields, 1),
            "runtime_name": pw.text(fields, 2),
            "runtime_version": pw.text(fields, 3),
            "runtime_api_version": pw.text(fields, 4),
        }

    def sandboxes(self) -> dict[str, Workload]:
        out: dict[str, Workload] = {}
        for sb in pw.messages(self.call("ListPodSandbox", {}), 1):
            meta = pw.message(sb, 2)
            out[pw.text(sb, 1)] = Workload(
                kind="pod", name=pw.text(meta, 1), namespace=pw.text(meta, 3) or None
            )
        return out

    def status(self, container_id: str) -> tuple[dict[int, list[Any]], dict[str, Any]]:
        fields = self.call("ContainerStatus", {1: container_id, 2: True})
        info: dict[str, Any] = {}
        raw = pw.string_map(fields, 2).get("info")
        if raw:
            try:
                parsed = orjson.loads(raw)
                info = parsed if isinstance(parsed, dict) else {}
            except orjson.JSONDecodeError:
                info = {}
        return pw.message(fields, 1), info

    def containers(self) -> list[Container]:
        pods = self.sandboxes()
        listed = pw.messages(self.call("ListContainers", {1: {2: {1: CONTAINER_RUNNING}}}), 1)
        out: list[Container] = []
        for c in listed:
            cid = pw.text(c, 1)
            meta = pw.message(c, 3)
            name = pw.text(meta, 1)
            labels = pw.string_map(c, 8)
            image = pw.text(pw.message(c, 4), 1)
            image_ref = pw.text(c, 5)
            status, info = self.status(cid)
            pod = pods.get(pw.text(c, 2))
            workload = workload_from_labels(labels, name)
            if workload.kind == "container" and pod is not None:
                workload = pod
            pid = info.get("pid")
            digest = image_ref.rsplit("@", 1)[1] if "@sha256:" in image_ref else None
            out.append(
                Container(
                    id=cid,
                    name=name,
                    image=pw.text(pw.message(status, 8), 1) or image,
                    runtime=self.name,
                    image_digest=digest,
                    image_id=image_ref if image_ref.startswith("sha256:") else None,
                    workload=workload,
                    started_at=_iso_ns(pw.number(status, 5)),
                    pid=pid if isinstance(pid, int) and pid > 0 else None,
                    privileges=privileges_from_info(info),
                    labels=labels,
                )
            )
        return out


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


NAMESPACE_NODE = 2  # CRI NamespaceMode NODE: the host's namespace


def privileges_from_info(info: dict[str, Any]) -> Privileges:
    """Privileges from a verbose ContainerStatus `info`: the OCI runtime spec (`runtimeSpec`:
    user, namespaces, read-only root) and the CRI config (containerd's `config`, CRI-O's
    `privileged`): privileged, added capabilities, host PID/network."""
    spec = _dict(info.get("runtimeSpec"))
    config = _dict(info.get("config"))
    security = _dict(_dict(config.get("linux")).get("security_context"))
    options = _dict(security.get("namespace_options"))
    caps = _dict(security.get("capabilities"))
    uid = _dict(_dict(spec.get("process")).get("user")).get("uid")
    if uid is None:
        uid = _dict(security.get("run_as_user")).get("value")
    listed = _dict(spec.get("linux")).get("namespaces")
    kinds = {str(_dict(ns).get("type")) for ns in listed} if isinstance(listed, list) and listed else None
    return Privileges(
        privileged=bool(info.get("privileged") is True or security.get("privileged") is True),
        cap_add=tuple(str(c) for c in caps.get("add_capabilities") or () if isinstance(c, str))[:64],
        user=str(uid) if isinstance(uid, int) else None,
        host_pid="pid" not in kinds if kinds is not None else options.get("pid") == NAMESPACE_NODE,
        host_network=(
            "network" not in kinds if kinds is not None else options.get("network") == NAMESPACE_NODE
        ),
        read_only_rootfs=bool(
            _dict(spec.get("root")).get("readonly") is True or security.get("readonly_rootfs") is True
        ),
    )
