"""Kubernetes audit events (audit.k8s.io/v1 `Event`), as JSON lines from the log backend,
`EventList` bodies from the webhook backend, and EKS control-plane logs exported from
CloudWatch Logs (a timestamp before the JSON, or `{"events": [{"message": ...}]}`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import orjson
import polars as pl

from seawall.telemetry.jsonread import ExprOf, JsonReader, ts

# objectRef.resource -> Kind, for the workload column
KINDS = {
    "pods": "Pod",
    "deployments": "Deployment",
    "daemonsets": "DaemonSet",
    "statefulsets": "StatefulSet",
    "replicasets": "ReplicaSet",
    "jobs": "Job",
    "cronjobs": "CronJob",
    "services": "Service",
    "secrets": "Secret",
    "configmaps": "ConfigMap",
    "serviceaccounts": "ServiceAccount",
    "namespaces": "Namespace",
    "roles": "Role",
    "rolebindings": "RoleBinding",
    "clusterroles": "ClusterRole",
    "clusterrolebindings": "ClusterRoleBinding",
    "nodes": "Node",
    "ingresses": "Ingress",
    "networkpolicies": "NetworkPolicy",
    "persistentvolumes": "PersistentVolume",
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "events": "Event",
    "mutatingwebhookconfigurations": "MutatingWebhookConfiguration",
    "validatingwebhookconfigurations": "ValidatingWebhookConfiguration",
    "customresourcedefinitions": "CustomResourceDefinition",
    "certificatesigningrequests": "CertificateSigningRequest",
    "tokenreviews": "TokenReview",
    "selfsubjectaccessreviews": "SelfSubjectAccessReview",
    "selfsubjectrulesreviews": "SelfSubjectRulesReview",
}


_SPEC = "requestObject.spec"
_TEMPLATE = "requestObject.spec.template.spec"
_IMAGE_PATHS = tuple(
    f"{spec}.{kind}[].image"
    for spec in (_SPEC, _TEMPLATE)
    for kind in ("containers", "initContainers", "ephemeralContainers")
)


def _images(f: ExprOf) -> pl.Expr:
    """Every container image of a created pod or pod template (containers, init and ephemeral)."""
    lists = [f(p).fill_null(pl.lit([], pl.List(pl.String))) for p in _IMAGE_PATHS]
    return pl.concat_list(lists)


def _owner_kind(f: ExprOf) -> pl.Expr:
    return f("requestObject.metadata.ownerReferences[].kind").list.first()


def _owner(f: ExprOf) -> pl.Expr:
    """The controller that owns a created object: its ownerReference, else the generateName stem;
    a ReplicaSet owner is named after its Deployment (the pod-template-hash suffix dropped)."""
    ref = f("requestObject.metadata.ownerReferences[].name").list.first()
    stem = f("requestObject.metadata.generateName").str.strip_suffix("-")
    tmpl = f('requestObject.metadata.labels."pod-template-hash"')
    deployment = (
        pl.when((_owner_kind(f) == "ReplicaSet") & tmpl.is_not_null())
        .then(ref.str.strip_suffix(pl.concat_str([pl.lit("-"), tmpl])))
        .otherwise(ref)
    )
    return pl.coalesce(deployment, stem)


def _pod(f: ExprOf) -> pl.Expr:
    """The object's own name (a pod's generated name once the API server answered)."""
    return pl.coalesce(
        f("objectRef.name"), f("requestObject.metadata.name"), f("responseObject.metadata.name")
    )


class K8sAuditReader(JsonReader):
    name = "k8s-audit"
    signature = (b'"auditID"', b'"requestURI"', b'"verb"')
    prefilter = True  # raw JSON paths only: the engine may prefilter lines by literals
    identity_field = "auditID"  # one request, logged once per audit stage the policy keeps
    # SigmaHQ's Kubernetes rules use a few names that are not raw audit fields (they assume a
    # field mapping); these are the audit paths they stand for
    aliases: ClassVar[dict[str, str]] = {
        "apiGroup": "objectRef.apiGroup",
        "hostPath": "requestObject.spec.volumes[].hostPath.path",
        "capabilities": "requestObject.spec.containers[].securityContext.capabilities.add[]",
    }
    derived: ClassVar[dict[str, Callable[[ExprOf], pl.Expr]]] = {
        "k8s.images": _images,
        "k8s.owner": _owner,
        "k8s.owner_kind": _owner_kind,
        "k8s.object": _pod,
    }
    derived_needs: ClassVar[dict[str, tuple[str, ...]]] = {
        "k8s.images": _IMAGE_PATHS,
        "k8s.owner": (
            "requestObject.metadata.ownerReferences[].name",
            "requestObject.metadata.ownerReferences[].kind",
            "requestObject.metadata.generateName",
            'requestObject.metadata.labels."pod-template-hash"',
        ),
        "k8s.owner_kind": ("requestObject.metadata.ownerReferences[].kind",),
        "k8s.object": ("objectRef.name", "requestObject.metadata.name", "responseObject.metadata.name"),
    }
    list_derived = frozenset({"k8s.images"})
    list_fields = frozenset(
        {
            "sourceIPs",
            "requestObject.metadata.ownerReferences",
            "user.groups",
            "impersonatedUser.groups",
            "requestObject.subjects",
            "requestObject.rules",
            "requestObject.rules.verbs",
            "requestObject.rules.resources",
            "requestObject.rules.apiGroups",
            "requestObject.spec.containers",
            "requestObject.spec.initContainers",
            "requestObject.spec.ephemeralContainers",
            "requestObject.spec.volumes",
            "requestObject.spec.template.spec.containers",
            "requestObject.spec.template.spec.initContainers",
            "requestObject.spec.template.spec.volumes",
            "requestObject.webhooks",
        }
    )
    base_fields = (
        "stageTimestamp",
        "requestReceivedTimestamp",
        "user.username",
        "sourceIPs",
        "objectRef.namespace",
        "objectRef.resource",
        "objectRef.name",
        "requestObject.metadata.name",
        "requestObject.metadata.namespace",
        "responseObject.metadata.name",
        "requestObject.metadata.ownerReferences[].name",
        "requestObject.metadata.ownerReferences[].kind",
        "requestObject.metadata.generateName",
        'requestObject.metadata.labels."pod-template-hash"',
    )

    def common(self, f: ExprOf) -> dict[str, pl.Expr]:
        """The workload of an event: the object it names, or for an object created by a
        controller (a DaemonSet's pod, a Deployment's ReplicaSet pod, a CronJob's Job) that
        controller -- so that one rollout is one finding, not one per pod."""
        resource = f("objectRef.resource")
        owner = _owner(f)
        kind = resource.replace_strict(KINDS, default=resource, return_dtype=pl.String)
        deployment = (_owner_kind(f) == "ReplicaSet") & f(
            'requestObject.metadata.labels."pod-template-hash"'
        ).is_not_null()
        owner_kind = pl.when(deployment).then(pl.lit("Deployment")).otherwise(_owner_kind(f))
        return {
            "time": ts(pl.coalesce(f("stageTimestamp"), f("requestReceivedTimestamp"))),
            "actor": f("user.username"),
            "src_ip": f("sourceIPs").list.first(),
            "dst_ip": pl.lit(None, pl.String),
            "workload_type": pl.lit("k8s"),
            "namespace": pl.coalesce(f("objectRef.namespace"), f("requestObject.metadata.namespace")),
            "workload_kind": pl.when(owner.is_not_null() & owner_kind.is_not_null())
            .then(owner_kind)
            .otherwise(kind),
            "workload_name": pl.coalesce(owner, _pod(f)),
            "cluster": pl.lit(None, pl.String),
            "container_id": pl.lit(None, pl.String),
            "container_name": pl.lit(None, pl.String),
        }

    def prepare_line(self, line: bytes) -> bytes | None:
        # CloudWatch Logs export to S3: "2024-05-01T10:00:00.000Z {...audit event...}"
        stripped = line.strip()
        brace = stripped.find(b" {")
        if 0 < brace < 64:
            return stripped[brace + 1 :]
        return super().prepare_line(line)

    def record_items(self, key: str, item: Any) -> list[Any]:
        if key == "events" and isinstance(item, dict) and isinstance(item.get("message"), str):
            try:  # `aws logs filter-log-events` output: each message is one audit event
                return [orjson.loads(item["message"])]
            except orjson.JSONDecodeError:
                return [item["message"]]
        return [item]

    def records_of(self, doc: Any) -> list[Any] | None:
        if isinstance(doc, dict) and isinstance(doc.get("events"), list):
            # `aws logs filter-log-events` output: each message is one audit event
            out = []
            for ev in doc["events"]:
                msg = ev.get("message") if isinstance(ev, dict) else None
                if isinstance(msg, str):
                    try:
                        out.append(orjson.loads(msg))
                    except orjson.JSONDecodeError:
                        continue
            return out
        return super().records_of(doc)


READER = K8sAuditReader()
