"""Kubernetes: `kubectl get pods -A -o json` (a file, `-` for stdin, or run here when no file is
given). Each running container of each pod: its image and `imageID` (the digest the kubelet
pulled), start time, the pod's namespace and controller (a ReplicaSet's Deployment found by
`pod-template-hash`), and privileges from the pod and container security contexts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from seawall.bounded import read_capped, read_file_capped
from seawall.core.errors import InputError
from seawall.runtime.base import Container, Privileges, Workload

MAX_PODS_JSON = 512 << 20
KUBECTL_TIMEOUT = 120.0


def _digest_of(image_id: str) -> str | None:
    """`docker-pullable://repo@sha256:...`, `repo@sha256:...` or `sha256:...` -> `sha256:...`."""
    if "@sha256:" in image_id:
        return image_id.rsplit("@", 1)[1]
    tail = image_id.rsplit("://", 1)[-1]
    return tail if tail.startswith("sha256:") else None


def _controller(meta: dict[str, Any]) -> str | None:
    labels = meta.get("labels") or {}
    for owner in meta.get("ownerReferences") or []:
        if not isinstance(owner, dict) or not owner.get("controller", True):
            continue
        kind, name = str(owner.get("kind", "")), str(owner.get("name", ""))
        template_hash = labels.get("pod-template-hash")
        if kind == "ReplicaSet" and template_hash and name.endswith("-" + template_hash):
            return f"Deployment/{name[: -len(template_hash) - 1]}"
        if kind == "Job" and name.rsplit("-", 1)[-1].isdigit() and len(name.rsplit("-", 1)[-1]) >= 8:
            return f"CronJob/{name.rsplit('-', 1)[0]}"
        if kind and name:
            return f"{kind}/{name}"
    return None


def _privileges(pod_spec: dict[str, Any], spec: dict[str, Any]) -> Privileges:
    pod_sc = pod_spec.get("securityContext") or {}
    sc = spec.get("securityContext") or {}
    caps = (sc.get("capabilities") or {}).get("add") or []
    user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    return Privileges(
        privileged=bool(sc.get("privileged")),
        cap_add=tuple(str(c) for c in caps),
        user=str(user) if user is not None else None,
        host_pid=bool(pod_spec.get("hostPID")),
        host_network=bool(pod_spec.get("hostNetwork")),
        read_only_rootfs=bool(sc.get("readOnlyRootFilesystem")),
    )


def containers_from_pods(doc: Any) -> list[Container]:
    """The running containers of a `PodList` (or a single Pod)."""
    if isinstance(doc, dict) and doc.get("kind") == "Pod":
        doc = {"items": [doc]}
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise InputError("kubernetes: expected the JSON of `kubectl get pods -A -o json` (a PodList)")
    out: list[Container] = []
    for pod in doc["items"]:
        if not isinstance(pod, dict):
            continue
        meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
        specs = {
            c.get("name"): c
            for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
            if isinstance(c, dict)
        }
        workload = Workload(
            kind="pod",
            name=str(meta.get("name", "")),
            namespace=meta.get("namespace"),
            controller=_controller(meta),
        )
        for cs in [
            *(status.get("containerStatuses") or []),
            *(status.get("ephemeralContainerStatuses") or []),
        ]:
            if not isinstance(cs, dict):
                continue
            running = (cs.get("state") or {}).get("running")
            if not isinstance(running, dict):
                continue
            cid = str(cs.get("containerID") or "")
            runtime, _, short = cid.partition("://")
            out.append(
                Container(
                    id=short or cid,
                    name=str(cs.get("name", "")),
                    image=str(cs.get("image", "")),
                    runtime="kubernetes",
                    image_digest=_digest_of(str(cs.get("imageID") or "")),
                    workload=workload,
                    started_at=running.get("startedAt"),
                    privileges=_privileges(spec, specs.get(cs.get("name")) or {}),
                    labels={"runtime": runtime} if runtime else {},
                )
            )
    return out


class KubernetesSource:
    name = "kubernetes"

    def __init__(self, path: str | None = None, context: str | None = None) -> None:
        self.path = path
        self.context = context

    def close(self) -> None:
        return None

    def _read(self) -> bytes:
        if self.path == "-":
            return read_capped(sys.stdin.buffer, MAX_PODS_JSON, "kubernetes pods from stdin")
        if self.path:
            return read_file_capped(Path(self.path), MAX_PODS_JSON, f"kubernetes pods {self.path}")
        kubectl = shutil.which("kubectl")
        if kubectl is None:
            raise InputError(
                "kubernetes: kubectl is not installed; pass the output of "
                "`kubectl get pods -A -o json` as kubernetes:FILE"
            )
        args = [kubectl, "get", "pods", "-A", "-o", "json"]
        if self.context:
            args += ["--context", self.context]
        try:
            proc = subprocess.run(args, capture_output=True, timeout=KUBECTL_TIMEOUT, check=False)
        except subprocess.TimeoutExpired:
            raise InputError(f"kubernetes: kubectl did not answer within {KUBECTL_TIMEOUT:.0f} s") from None
        if proc.returncode != 0:
            line = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise InputError(f"kubernetes: kubectl failed: {line[-1][:200] if line else proc.returncode}")
        if len(proc.stdout) > MAX_PODS_JSON:
            raise InputError("kubernetes: kubectl's answer is larger than the limit")
        return proc.stdout

    def containers(self) -> list[Container]:
        raw = self._read()
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise InputError(f"kubernetes: {self.path or 'kubectl'}: malformed JSON") from None
        return containers_from_pods(doc)
