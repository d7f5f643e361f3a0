"""The Docker Engine API (`/var/run/docker.sock`, or any Docker-compatible socket such as
Podman's `podman system service`): `GET /containers/json`, `GET /containers/{id}/json` and
`GET /images/{id}/json` for the repo digest; `GET /images/{id}/get` exports an image."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from seawall.core.errors import InputError
from seawall.core.text import printable
from seawall.runtime.base import Container, Privileges
from seawall.runtime.inventory._http import APIClient
from seawall.runtime.inventory.labels import workload_from_labels

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
API = "/v1.41"
MAX_EXPORT = 32 << 30  # an exported image (docker save)


def _strip_sha(value: str | None) -> str | None:
    if not value:
        return None
    return value if value.startswith("sha256:") else f"sha256:{value}"


def _repo_digest(image: dict[str, Any] | None) -> str | None:
    for rd in (image or {}).get("RepoDigests") or []:
        if isinstance(rd, str) and "@sha256:" in rd:
            return rd.rsplit("@", 1)[1]
    return None


def _started(value: Any) -> str | None:
    if isinstance(value, str) and value and not value.startswith("0001-"):
        return value
    return None


class DockerSource:
    name = "docker"
    api = API

    def __init__(self, address: str | None = None) -> None:
        address = address or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
        self.client = APIClient(address, f"{self.name} API")
        self._images: dict[str, dict[str, Any] | None] = {}

    def close(self) -> None:
        self.client.close()

    def _image(self, image_id: str) -> dict[str, Any] | None:
        if image_id not in self._images:
            doc = self.client.get_json(f"{self.api}/images/{image_id}/json", allow_404=True)
            self._images[image_id] = doc if isinstance(doc, dict) else None
        return self._images[image_id]

    def containers(self) -> list[Container]:
        listed = self.client.get_json(f"{self.api}/containers/json")
        if not isinstance(listed, list):
            raise InputError(f"{self.name} API: /containers/json is not a list")
        out: list[Container] = []
        for item in listed:
            if not isinstance(item, dict) or not isinstance(item.get("Id"), str):
                continue
            doc = self.client.get_json(f"{self.api}/containers/{item['Id']}/json", allow_404=True)
            if isinstance(doc, dict):  # None: it stopped between the list and the inspect
                out.append(self._container(doc))
        return out

    def _container(self, doc: dict[str, Any]) -> Container:
        config = doc.get("Config") or {}
        host = doc.get("HostConfig") or {}
        state = doc.get("State") or {}
        name = str(doc.get("Name") or doc["Id"][:12]).lstrip("/")
        labels = {str(k): str(v) for k, v in (config.get("Labels") or {}).items()}
        image_id = _strip_sha(doc.get("Image"))
        image = self._image(image_id) if image_id else None
        pid = state.get("Pid")
        return Container(
            id=doc["Id"],
            name=name,
            image=str(config.get("Image") or image_id or ""),
            runtime=self.name,
            image_digest=_repo_digest(image),
            image_id=image_id,
            workload=workload_from_labels(labels, name),
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

    def export_image(self, container: Container, dest: Path) -> Path:
        """`docker save` of the container's image, as a docker-archive at `dest`."""
        ref = container.image_id or container.image
        if not ref:
            raise InputError(f"container {printable(container.name)} names no image")
        self.client.download(f"{self.api}/images/{ref}/get", dest, MAX_EXPORT)
        return dest
