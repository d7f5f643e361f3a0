"""The runtime contract: what one running container is, and the one protocol every inventory
source implements (`seawall.runtime.inventory`: docker, podman, cri, kubernetes, ecs, ecs-task).

A source answers `containers()`; each `Container` carries what the other parts need: the image
(reference, manifest digest, image id), the workload it belongs to (pod/namespace/controller or
cluster/service/task), its start time, its privileges and, when the container runs on this
machine, the PID whose `/proc/PID/root` is its live root filesystem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from seawall.core import Resource


@dataclass(frozen=True, slots=True)
class Workload:
    """Where a container belongs: a Kubernetes pod (namespace, controller) or an ECS task
    (cluster, service, task), or just the container itself (docker/podman without labels)."""

    kind: str  # pod | ecs-task | container
    name: str  # pod name, task id, container name
    namespace: str | None = None  # Kubernetes namespace, ECS cluster
    controller: str | None = None  # Deployment/StatefulSet/..., ECS service ("service:NAME")
    arn: str | None = None

    @property
    def key(self) -> str:
        """How findings name the workload: `ns/Deployment/name`, `cluster/service/NAME`, `container/NAME`."""
        if self.controller:
            return f"{self.namespace}/{self.controller}" if self.namespace else self.controller
        if self.namespace:
            return f"{self.namespace}/{self.kind}/{self.name}"
        return f"{self.kind}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (
                ("kind", self.kind),
                ("name", self.name),
                ("namespace", self.namespace),
                ("controller", self.controller),
                ("arn", self.arn),
            )
            if v
        }


@dataclass(frozen=True, slots=True)
class Privileges:
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    user: str | None = None  # the user the process runs as ("" / None: the image's, often root)
    host_pid: bool = False
    host_network: bool = False
    read_only_rootfs: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in (
                ("privileged", self.privileged),
                ("cap_add", list(self.cap_add)),
                ("user", self.user),
                ("host_pid", self.host_pid),
                ("host_network", self.host_network),
                ("read_only_rootfs", self.read_only_rootfs),
            )
            if v
        }


@dataclass(slots=True)
class Container:
    id: str
    name: str
    image: str  # the reference as the runtime names it ("localhost/demo:1", "nginx@sha256:...")
    runtime: str  # docker | podman | cri | kubernetes | ecs | ecs-task
    image_digest: str | None = None  # the manifest (repo) digest, sha256:...
    image_id: str | None = None  # the config digest (Docker's image id), sha256:...
    workload: Workload | None = None
    started_at: str | None = None  # ISO 8601, UTC
    state: str = "running"
    privileges: Privileges = field(default_factory=Privileges)
    pid: int | None = None  # on this machine: /proc/PID/root is the live root filesystem
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def digest_key(self) -> str | None:
        """The digest an SBOM is stored under: the manifest digest, else the image id."""
        return self.image_digest or self.image_id

    def resource(self) -> Resource:
        w = self.workload or Workload(kind="container", name=self.name)
        return Resource(type="container", name=self.name, namespace=w.namespace, workload=w.key, arn=w.arn)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "image": self.image,
            "runtime": self.runtime,
            "image_digest": self.image_digest,
            "image_id": self.image_id,
            "workload": self.workload.to_dict() if self.workload else None,
            "started_at": self.started_at,
            "state": self.state,
            "privileges": self.privileges.to_dict(),
            "pid": self.pid,
        }
        return {k: v for k, v in body.items() if v not in (None, {}, [])}


@runtime_checkable
class InventorySource(Protocol):
    """One place that knows what is running (a runtime socket, an orchestrator API, a file)."""

    name: str

    def containers(self) -> list[Container]:
        """The running containers (InputError/NetworkError with one line when unreachable)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class ImageExporter(Protocol):
    """A source that can hand over a container's image without a registry (docker/podman
    `GET /images/{id}/get`): written as a docker-archive to `dest`."""

    def export_image(self, container: Container, dest: Path) -> Path: ...
