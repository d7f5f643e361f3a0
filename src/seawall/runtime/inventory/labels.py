"""The workload of a container from the labels its orchestrator puts on it (the kubelet's
`io.kubernetes.*` labels through dockershim/cri-dockerd and CRI, the ECS agent's
`com.amazonaws.ecs.*`, Docker Compose's `com.docker.compose.*`)."""

from __future__ import annotations

from collections.abc import Mapping

from seawall.runtime.base import Workload


def workload_from_labels(labels: Mapping[str, str], name: str) -> Workload:
    pod = labels.get("io.kubernetes.pod.name")
    if pod:
        return Workload(
            kind="pod", name=pod, namespace=labels.get("io.kubernetes.pod.namespace"), controller=None
        )
    task_arn = labels.get("com.amazonaws.ecs.task-arn")
    if task_arn:
        cluster = labels.get("com.amazonaws.ecs.cluster", "").rsplit("/", 1)[-1] or None
        family = labels.get("com.amazonaws.ecs.task-definition-family")
        return Workload(
            kind="ecs-task",
            name=task_arn.rsplit("/", 1)[-1],
            namespace=cluster,
            controller=f"task-definition/{family}" if family else None,
            arn=task_arn,
        )
    project = labels.get("com.docker.compose.project")
    if project:
        service = labels.get("com.docker.compose.service", name)
        return Workload(kind="container", name=name, namespace=project, controller=f"compose/{service}")
    return Workload(kind="container", name=name)
