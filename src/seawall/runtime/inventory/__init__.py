"""Inventory sources, one module each behind `seawall.runtime.base.InventorySource`.

A source is named on the command line as `KIND[:ADDRESS]`:

    docker[:unix:///var/run/docker.sock]       Docker Engine API (or any Docker-compatible socket)
    podman[:unix:///run/podman/podman.sock]    Podman's libpod API
    cri[:unix:///run/containerd/containerd.sock]  CRI (containerd, CRI-O) over gRPC
    kubernetes[:pods.json|-]                   `kubectl get pods -A -o json` (run here without a file)
    kubernetes-api[:https://HOST:PORT]         the Kubernetes API (in a pod: its service account)
    ecs[:CLUSTER,CLUSTER]                      the ECS API (boto3); all clusters without a name
    ecs-task[:URL]                             inside a task: $ECS_CONTAINER_METADATA_URI_V4
"""

from __future__ import annotations

import importlib

from seawall.core.errors import InputError
from seawall.runtime.base import InventorySource

# kind -> "module:class"; modules load only when asked for
SOURCES: dict[str, str] = {
    "docker": "seawall.runtime.inventory.docker:DockerSource",
    "podman": "seawall.runtime.inventory.podman:PodmanSource",
    "cri": "seawall.runtime.inventory.cri:CRISource",
    "kubernetes": "seawall.runtime.inventory.kubernetes:KubernetesSource",
    "kubernetes-api": "seawall.runtime.inventory.kubernetes:KubernetesAPISource",
    "ecs": "seawall.runtime.inventory.ecs:ECSSource",
    "ecs-task": "seawall.runtime.inventory.ecs_metadata:ECSTaskMetadataSource",
}


def open_source(spec: str, region: str | None = None, endpoint_url: str | None = None) -> InventorySource:
    """`docker:unix:///run/docker.sock`, `kubernetes:pods.json`, `ecs:prod` ... -> a source."""
    kind, _, address = spec.partition(":")
    if kind == "k8s":
        kind = "kubernetes"
    if kind not in SOURCES:
        raise InputError(
            f"unknown runtime source {spec!r}; use one of: {', '.join(SOURCES)} (as KIND or KIND:ADDRESS)"
        )
    module_name, attribute = SOURCES[kind].split(":")
    cls = getattr(importlib.import_module(module_name), attribute)
    if kind == "ecs":
        clusters = [c for c in address.split(",") if c]
        source: InventorySource = cls(clusters, region=region, endpoint_url=endpoint_url)
    else:
        source = cls(address or None)
    return source


__all__ = ["SOURCES", "open_source"]
