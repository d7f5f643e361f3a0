"""Podman's own API (libpod, `podman system service`): `GET /libpod/containers/json` and
`/libpod/containers/{id}/json` give the pod, the image's manifest digest and the PID directly.
The same socket also serves the Docker-compatible API (`docker:` source)."""

from __future__ import annotations

import os
from typing import Any

from seawall.core.errors import InputError
from seawall.runtime.base import Container, Privileges, Workload
from seawall.runtime.inventory.docker import DockerSource, _started, _strip_sha
from seawall.runtime.inventory.labels import workload_from_labels

LIBPOD = "/v4.0.0/libpod"


def default_socket() -> str:
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if os.geteuid() != 0 and runtime_dir:
        return f"unix://{runtime_dir}/podman/podman.sock"
    return "unix:///run/podman/podman.sock"


class PodmanSource(DockerSource):
    name = "podman"

    def __init__(self, address: str | None = None) -> None:
        super().__init__(address or os.environ.get("CONTAINER_HOST") or default_socket())

    def containers(self) -> list[Container]:
        listed = self.client.get_json(f"{LIBPOD}/containers/json")
        if not isinstance(listed, list):
            raise InputError("podman API: /libpod/containers/json is not a list")
        out: list[Container] = []
        for item in listed:
            if not isinstance(item, dict) or not isinstance(item.get("Id"), str) or item.get("IsInfra"):
                continue
            doc = self.client.get_json(f"{LIBPOD}/containers/{item['Id']}/json", allow_404=True)
            if isinstance(doc, dict):
                out.append(self._libpod_container(doc, item))
        return out

    def _libpod_container(self, doc: dict[str, Any], item: dict[str, Any]) -> Container:
        config = doc.get("Config") or {}
        host = doc.get("HostConfig") or {}
        state = doc.get("State") or {}
        name = str(doc.get("Name") or doc["Id"][:12])
        labels = {str(k): str(v) for k, v in (config.get("Labels") or {}).items()}
        workload = workload_from_labels(labels, name)
        if item.get("PodName") and workload.kind == "container":
            workload = Workload(kind="pod", name=str(item["PodName"]))
        pid = state.get("Pid")
        return Container(
            id=doc["Id"],
            name=name,
            image=str(doc.get("ImageName") or config.get("Image") or ""),
            runtime=self.name,
            image_digest=_strip_sha(doc.get("ImageDigest")),
            image_id=_strip_sha(doc.get("Image")),
            workload=workload,
            started_at=_started(state.get("StartedAt")),
            state=str(state.get("Status") or "running"),
            privileges=Privileges(
                privileged=bool(host.get("Privileged")),
                cap_add=tuple(str(c) for c in host.get("CapAdd") or ()),
                user=config.get("User") or None,
                host_pid=host.get("PidMode") == "host",
                host_network=host.get("NetworkMode") == "host",
                read_only_rootfs=bool(host.get("ReadonlyRootfs")),
            ),
            pid=pid if isinstance(pid, int) and pid > 0 else None,
            labels=labels,
        )
