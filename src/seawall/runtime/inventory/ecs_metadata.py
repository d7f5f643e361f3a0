"""Inside an ECS task (Fargate or EC2): the task metadata endpoint v4,
`${ECS_CONTAINER_METADATA_URI_V4}/task` — the task's cluster, ARN, family and revision, and
every container with its Docker id, image, image id, labels and start time."""

from __future__ import annotations

import os
from typing import Any

from seawall.core.errors import InputError
from seawall.runtime.base import Container, Workload
from seawall.runtime.inventory._http import APIClient

ENV = "ECS_CONTAINER_METADATA_URI_V4"
INTERNAL = ("~internal~",)


def containers_from_task_metadata(doc: Any, skip_self: str | None = None) -> list[Container]:
    if not isinstance(doc, dict) or not isinstance(doc.get("Containers"), list):
        raise InputError("ecs-task: the task metadata answer has no Containers list")
    task_arn = str(doc.get("TaskARN", ""))
    cluster = str(doc.get("Cluster", "")).rsplit("/", 1)[-1] or None
    family, revision = doc.get("Family"), doc.get("Revision")
    controller = f"task-definition/{family}:{revision}" if family else None
    workload = Workload(
        kind="ecs-task",
        name=task_arn.rsplit("/", 1)[-1],
        namespace=cluster,
        controller=controller,
        arn=task_arn or None,
    )
    out: list[Container] = []
    for c in doc["Containers"]:
        if not isinstance(c, dict):
            continue
        name = str(c.get("Name", ""))
        if name.startswith(INTERNAL) or c.get("Type", "NORMAL") != "NORMAL":
            continue
        if c.get("KnownStatus") not in (None, "RUNNING") or (skip_self and c.get("DockerId") == skip_self):
            continue
        image_id = c.get("ImageID") or None
        out.append(
            Container(
                id=str(c.get("DockerId", "")),
                name=name,
                image=str(c.get("Image", "")),
                runtime="ecs-task",
                image_id=image_id,
                workload=workload,
                started_at=c.get("StartedAt"),
                labels={str(k): str(v) for k, v in (c.get("Labels") or {}).items()},
            )
        )
    return out


class ECSTaskMetadataSource:
    name = "ecs-task"

    def __init__(self, url: str | None = None) -> None:
        url = url or os.environ.get(ENV)
        if not url:
            raise InputError(f"ecs-task: {ENV} is not set (is this running inside an ECS task?)")
        self.url = url.rstrip("/")
        self.client = APIClient(
            self.url, "ECS task metadata endpoint", timeout=5.0, deadline=20.0, max_json=8 << 20
        )

    def close(self) -> None:
        self.client.close()

    def task(self) -> dict[str, Any]:
        doc = self.client.get_json(self.url + "/task")
        if not isinstance(doc, dict):
            raise InputError("ecs-task: the task metadata answer is not an object")
        return doc

    def self_id(self) -> str | None:
        doc = self.client.get_json(self.url)
        return str(doc.get("DockerId")) if isinstance(doc, dict) and doc.get("DockerId") else None

    def containers(self) -> list[Container]:
        return containers_from_task_metadata(self.task())
