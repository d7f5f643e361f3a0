"""Kubernetes: `kubectl get pods -A -o json` (a file, `-` for stdin, or run here when no file is
given), or the Kubernetes API itself (`kubernetes-api[:URL]`: `GET /api/v1/pods`, paged, with a
bearer token; in a pod, the service account's token and CA). Each running container of each pod:
its image and `imageID` (the digest the kubelet pulled), start time, the pod's namespace and
controller (a ReplicaSet's Deployment found by `pod-template-hash`), and privileges from the pod
and container security contexts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from seawall.bounded import read_capped, read_file_capped
from seawall.core.errors import InputError, NetworkError
from seawall.runtime.base import Container, Privileges, Workload
from seawall.runtime.inventory._http import APIClient

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


SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TOKEN_ENV = "SEAWALL_KUBERNETES_TOKEN"  # the bearer token itself (else the service account's)
CA_ENV = "SEAWALL_KUBERNETES_CA"  # the API server's CA (else the service account's ca.crt)
PAGE = 500
MAX_PAGES = 2000  # a million pods
LIST_DEADLINE = 600.0


class KubernetesAPISource:
    """`GET /api/v1/pods?limit=500` and its `continue` pages, straight from the API server: in a
    pod through `KUBERNETES_SERVICE_HOST` with the service account's token and CA (needs
    `list pods` at cluster scope), else the URL given with `$SEAWALL_KUBERNETES_TOKEN` and
    `$SEAWALL_KUBERNETES_CA`. TLS is always verified; the token is never printed."""

    name = "kubernetes-api"

    def __init__(self, address: str | None = None) -> None:
        url = address or _in_cluster_url()
        if not url.startswith("https://"):
            raise InputError(f"kubernetes-api: {url!r} is not an https:// URL of the API server")
        token = os.environ.get(TOKEN_ENV) or _read_small(SERVICE_ACCOUNT / "token", "service account token")
        ca = os.environ.get(CA_ENV)
        ca_file = Path(ca) if ca else SERVICE_ACCOUNT / "ca.crt"
        if not ca_file.is_file():
            raise InputError(
                f"kubernetes-api: no CA file for the API server (set ${CA_ENV} or run in a pod with "
                f"a service account); {ca_file} does not exist"
            )
        self.client = APIClient(
            url,
            "kubernetes-api",
            timeout=30.0,
            deadline=120.0,
            ca_file=ca_file,
            headers={"Authorization": f"Bearer {token.strip()}", "Accept": "application/json"},
        )

    def close(self) -> None:
        self.client.close()

    def containers(self) -> list[Container]:
        out: list[Container] = []
        started = time.monotonic()
        token: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, str | int] = {"limit": PAGE}
            if token:
                params["continue"] = token
            page = self.client.get_json("/api/v1/pods", params=params)
            out.extend(containers_from_pods(page))
            meta = page.get("metadata") if isinstance(page, dict) else None
            token = meta.get("continue") if isinstance(meta, dict) else None
            if not token or not isinstance(token, str):
                return out
            if time.monotonic() - started > LIST_DEADLINE:
                raise NetworkError(f"kubernetes-api: listing pods took longer than {LIST_DEADLINE:.0f} s")
        raise InputError(f"kubernetes-api: more than {MAX_PAGES} pages of pods")


def _in_cluster_url() -> str:
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host:
        raise InputError(
            "kubernetes-api: not in a pod (no KUBERNETES_SERVICE_HOST); name the API server as "
            "kubernetes-api:https://HOST:PORT"
        )
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def _read_small(path: Path, what: str) -> str:
    if not path.is_file():
        raise InputError(f"kubernetes-api: no bearer token (set ${TOKEN_ENV} or run in a pod with a {what})")
    return read_file_capped(path, 64 << 10, f"kubernetes-api {what}").decode("utf-8", "replace")
