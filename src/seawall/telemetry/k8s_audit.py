"""Kubernetes audit events (audit.k8s.io/v1 `Event`), as JSON lines from the log backend,
`EventList` bodies from the webhook backend, and EKS control-plane logs exported from
CloudWatch Logs (a timestamp before the JSON, or `{"events": [{"message": ...}]}`)."""

from __future__ import annotations

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


class K8sAuditReader(JsonReader):
    name = "k8s-audit"
    prefilter = True  # raw JSON paths only: the engine may prefilter lines by literals
    # SigmaHQ's Kubernetes rules use a few names that are not raw audit fields (they assume a
    # field mapping); these are the audit paths they stand for
    aliases: ClassVar[dict[str, str]] = {
        "apiGroup": "objectRef.apiGroup",
        "hostPath": "requestObject.spec.volumes[].hostPath.path",
        "capabilities": "requestObject.spec.containers[].securityContext.capabilities.add[]",
    }
    list_fields = frozenset(
        {
            "sourceIPs",
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
    )

    def common(self, f: ExprOf) -> dict[str, pl.Expr]:
        resource = f("objectRef.resource")
        return {
            "time": ts(pl.coalesce(f("stageTimestamp"), f("requestReceivedTimestamp"))),
            "actor": f("user.username"),
            "src_ip": f("sourceIPs").list.first(),
            "dst_ip": pl.lit(None, pl.String),
            "workload_type": pl.lit("k8s"),
            "namespace": pl.coalesce(f("objectRef.namespace"), f("requestObject.metadata.namespace")),
            "workload_kind": resource.replace_strict(KINDS, default=resource, return_dtype=pl.String),
            "workload_name": pl.coalesce(
                f("objectRef.name"), f("requestObject.metadata.name"), f("responseObject.metadata.name")
            ),
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
