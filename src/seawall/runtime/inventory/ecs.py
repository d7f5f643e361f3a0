"""Amazon ECS through its API (boto3): `ListClusters`, `ListTasks` (desired status RUNNING),
`DescribeTasks` (100 at a time) and `DescribeTaskDefinition` for privileges. Each container of
each task: image, `imageDigest`, runtime id, the task's cluster, service (`group`), start time."""

from __future__ import annotations

from typing import Any

from seawall.core.errors import AuthError, InputError, NetworkError
from seawall.core.text import printable
from seawall.runtime.base import Container, Privileges, Workload


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _pinned(image: str) -> str | None:
    """The digest of an image reference pinned by digest (`repo@sha256:...`)."""
    return image.rsplit("@", 1)[1] if "@sha256:" in image else None


def containers_from_tasks(
    tasks: list[dict[str, Any]], definitions: dict[str, dict[str, Any]]
) -> list[Container]:
    out: list[Container] = []
    for task in tasks:
        task_arn = str(task.get("taskArn", ""))
        cluster = str(task.get("clusterArn", "")).rsplit("/", 1)[-1] or None
        group = str(task.get("group") or "")
        controller = group if group.startswith("service:") else None
        if controller:
            controller = "service/" + controller.removeprefix("service:")
        workload = Workload(
            kind="ecs-task",
            name=task_arn.rsplit("/", 1)[-1],
            namespace=cluster,
            controller=controller,
            arn=task_arn or None,
        )
        taskdef = definitions.get(str(task.get("taskDefinitionArn", ""))) or {}
        defs = {d.get("name"): d for d in taskdef.get("containerDefinitions") or [] if isinstance(d, dict)}
        for c in task.get("containers") or []:
            if not isinstance(c, dict) or c.get("lastStatus") in ("STOPPED", "DEPROVISIONING"):
                continue
            d = defs.get(c.get("name")) or {}
            caps = ((d.get("linuxParameters") or {}).get("capabilities") or {}).get("add") or []
            out.append(
                Container(
                    id=str(c.get("runtimeId") or c.get("containerArn") or ""),
                    name=str(c.get("name", "")),
                    image=str(c.get("image", "")),
                    runtime="ecs",
                    image_digest=c.get("imageDigest") or _pinned(str(c.get("image", ""))),
                    workload=workload,
                    started_at=_iso(task.get("startedAt")),
                    privileges=Privileges(
                        privileged=bool(d.get("privileged")),
                        cap_add=tuple(caps),
                        user=d.get("user") or None,
                        host_pid=taskdef.get("pidMode") == "host",
                        host_network=taskdef.get("networkMode") == "host",
                        read_only_rootfs=bool(d.get("readonlyRootFilesystem")),
                    ),
                )
            )
    return out


class ECSSource:
    name = "ecs"

    def __init__(
        self, clusters: list[str] | None = None, region: str | None = None, endpoint_url: str | None = None
    ) -> None:
        import boto3

        self.clusters = clusters or []
        self.client = boto3.client("ecs", region_name=region, endpoint_url=endpoint_url)

    def close(self) -> None:
        return None

    def _call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            result: dict[str, Any] = getattr(self.client, op)(**kwargs)
            return result
        except NoCredentialsError:
            raise AuthError("ecs: no AWS credentials (environment, profile or instance role)") from None
        except ClientError as exc:
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            message = printable(str(err.get("Message", "")))[:200]
            if code in ("AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException"):
                raise AuthError(f"ecs: {op}: {code}: {message}") from None
            if code == "ClusterNotFoundException":
                raise InputError(f"ecs: {op}: cluster not found ({message})") from None
            raise NetworkError(f"ecs: {op}: {code}: {message}") from None
        except BotoCoreError as exc:
            raise NetworkError(f"ecs: {op}: {printable(str(exc))[:200]}") from None

    def _pages(self, op: str, key: str, **kwargs: Any) -> list[str]:
        items: list[str] = []
        token: str | None = None
        for _ in range(10_000):
            page = self._call(op, **kwargs, **({"nextToken": token} if token else {}))
            items.extend(page.get(key) or [])
            token = page.get("nextToken")
            if not token:
                break
        return items

    def containers(self) -> list[Container]:
        clusters = self.clusters or self._pages("list_clusters", "clusterArns")
        tasks: list[dict[str, Any]] = []
        for cluster in clusters:
            arns = self._pages("list_tasks", "taskArns", cluster=cluster, desiredStatus="RUNNING")
            for i in range(0, len(arns), 100):
                tasks.extend(
                    self._call("describe_tasks", cluster=cluster, tasks=arns[i : i + 100]).get("tasks") or []
                )
        definitions: dict[str, dict[str, Any]] = {}
        for arn in {str(t.get("taskDefinitionArn")) for t in tasks if t.get("taskDefinitionArn")}:
            definitions[arn] = (
                self._call("describe_task_definition", taskDefinition=arn).get("taskDefinition") or {}
            )
        return containers_from_tasks(tasks, definitions)
