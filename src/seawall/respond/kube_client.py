"""The Kubernetes side that talks to an API server (official `kubernetes` client): the client from
a kubeconfig or in-cluster, and the executor that saves evidence, applies a plan's changes and
undoes them. API errors become one-line seawall errors naming the verb and resource (403 says
which permission is missing)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from seawall.core.errors import AuthError, InputError, NetworkError, SeawallError
from seawall.respond.base import Applied, ApplyFailed, Change, Options, Plan
from seawall.respond.evidence import Bundle

LOG_BYTES = 8 << 20
LOG_LINES = 10_000
TIMEOUT = (10, 60)
MERGE_PATCH = "application/merge-patch+json"
CUSTOM = {  # kind -> (group, version, plural, namespaced)
    "CiliumNetworkPolicy": ("cilium.io", "v2", "ciliumnetworkpolicies", True),
    "GlobalNetworkPolicy": ("crd.projectcalico.org", "v1", "globalnetworkpolicies", False),
    "AdminNetworkPolicy": ("policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies", False),
}


def api_client(kubeconfig: str | None, context: str | None) -> Any:
    """An ApiClient from --kubeconfig/$KUBECONFIG/~/.kube/config, or in-cluster when none exists."""
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
        if kubeconfig or os.path.exists(path.split(os.pathsep)[0]):
            config.load_kube_config(
                config_file=path, context=context, client_configuration=configuration, persist_config=False
            )
        else:
            config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException as err:
        raise AuthError(f"no usable Kubernetes configuration: {err}") from None
    except (OSError, ValueError, TypeError) as err:
        raise InputError(f"kubeconfig {kubeconfig or '(default)'}: {err}") from None
    return client.ApiClient(configuration)


def call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """One API call; errors as one line: `what` names the verb and object."""
    import urllib3
    from kubernetes.client import ApiException

    try:
        return fn(*args, _request_timeout=TIMEOUT, **kwargs)
    except ApiException as err:
        reason = _reason(err)
        if err.status == 403:
            raise AuthError(f"forbidden: {what} ({reason}); the identity needs that permission") from None
        if err.status == 401:
            raise AuthError(f"unauthorized: {what}: the API server rejected the credentials") from None
        if err.status == 404:
            raise InputError(f"{what}: not found ({reason})") from None
        raise SeawallError(f"{what} failed: {err.status} {reason}") from None
    except (OSError, ValueError, urllib3.exceptions.HTTPError) as err:  # refused, bad TLS, timeouts
        cause = getattr(err, "reason", None) or err
        raise NetworkError(f"{what}: cannot reach the API server ({str(cause)[:240]})") from None


def _reason(err: Any) -> str:
    import json

    try:
        body = json.loads(err.body or "{}")
        return str(body.get("message") or err.reason)[:300]
    except (ValueError, TypeError):
        return str(err.reason)[:300]


class Executor:
    def __init__(self, api: Any) -> None:
        from kubernetes import client

        self.api = api
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.net = client.NetworkingV1Api(api)
        self.custom = client.CustomObjectsApi(api)

    # -- evidence -------------------------------------------------------------------------------

    def evidence(self, plan: Plan, options: Options) -> str:
        bundle = Bundle.create(options.evidence_dir, str(plan.workload))
        for target in plan.targets:
            ns, name = str(target["namespace"]), str(target["name"])
            pod = call(f"get pod {ns}/{name}", self.core.read_namespaced_pod, name, ns)
            raw = self.api.sanitize_for_serialization(pod)
            bundle.add_json(f"{name}/pod.json", raw)
            spec = raw.get("spec") or {}
            statuses = {s.get("name"): s for s in ((raw.get("status") or {}).get("containerStatuses") or [])}
            for container in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
                cname = str(container.get("name"))
                runs = [False] + ([True] if (statuses.get(cname) or {}).get("restartCount") else [])
                for previous in runs:
                    try:
                        text = call(
                            f"read logs of {ns}/{name} container {cname}",
                            self.core.read_namespaced_pod_log,
                            name,
                            ns,
                            container=cname,
                            previous=previous,
                            timestamps=True,
                            tail_lines=LOG_LINES,
                            limit_bytes=LOG_BYTES,
                        )
                        bundle.add_text(
                            f"{name}/logs/{cname}{'.previous' if previous else ''}.log", text or ""
                        )
                    except SeawallError as err:  # no logs (not started, no previous run): said in the bundle
                        bundle.note(str(err))
            events = call(
                f"list events of pod {ns}/{name}",
                self.core.list_namespaced_event,
                ns,
                field_selector=f"involvedObject.name={name}",
                limit=500,
            )
            bundle.add_json(f"{name}/events.json", self.api.sanitize_for_serialization(events))
            node_name = spec.get("nodeName")
            if node_name:
                try:
                    node = call(f"get node {node_name}", self.core.read_node, node_name)
                    bundle.add_json(f"{name}/node.json", self.api.sanitize_for_serialization(node))
                except SeawallError as err:  # responders often may not read nodes; a node may be gone
                    bundle.note(str(err))
        return bundle.close()

    # -- changes ---------------------------------------------------------------------------------

    def do(self, change: Change) -> None:
        kind, name, ns, body = change.kind, change.name, change.namespace or "", change.body
        what = f"{change.action} {kind} {ns + '/' if ns else ''}{name}"
        if kind == "Pod" and change.action == "patch":
            call(what, self.core.patch_namespaced_pod, name, ns, body, _content_type=MERGE_PATCH)
        elif kind == "NetworkPolicy" and change.action == "create":
            call(what, self.net.create_namespaced_network_policy, ns, body)
        elif kind == "NetworkPolicy" and change.action == "delete":
            call(what, self.net.delete_namespaced_network_policy, name, ns)
        elif kind == "DeploymentScale" and change.action == "patch":
            call(what, self.apps.patch_namespaced_deployment_scale, name, ns, body, _content_type=MERGE_PATCH)
        elif kind in CUSTOM:
            group, version, plural, namespaced = CUSTOM[kind]
            if change.action == "create" and namespaced:
                call(what, self.custom.create_namespaced_custom_object, group, version, ns, plural, body)
            elif change.action == "create":
                call(what, self.custom.create_cluster_custom_object, group, version, plural, body)
            elif namespaced:
                call(what, self.custom.delete_namespaced_custom_object, group, version, ns, plural, name)
            else:
                call(what, self.custom.delete_cluster_custom_object, group, version, plural, name)
        else:
            raise InputError(f"cannot {what}: not a change seawall makes")

    def apply(self, plan: Plan, options: Options) -> Applied:
        applied = Applied()
        applied.evidence = self.evidence(plan, options)
        for change in plan.changes():
            try:
                self.do(change)
            except SeawallError as err:
                raise ApplyFailed(err.message, applied) from None
            applied.changes.append(change)
        return applied

    def release(self, changes: list[Change]) -> list[str]:
        done: list[str] = []
        for change in reversed(changes):
            if change.undo is None:
                continue
            undo = Change.from_dict({**change.undo, "body": change.undo.get("body") or {}})
            try:
                self.do(undo)
            except InputError as err:
                if "not found" not in err.message:
                    raise
                done.append(f"{undo.action} {undo.kind} {undo.name}: already gone")
                continue
            done.append(
                f"{undo.action} {undo.kind} {(undo.namespace + '/') if undo.namespace else ''}{undo.name}"
            )
        return done
