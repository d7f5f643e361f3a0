"""The one place target modules are registered (order = order of findings' production)."""

from __future__ import annotations

from functools import cache

from seawall.posture import (
    dockerfile,
    dockerhost,
    ecr,
    ecs,
    eks,
    k8s_controlplane,
    k8s_network,
    k8s_rbac,
    kubernetes,
)
from seawall.posture.base import TargetModule

MODULES: tuple[TargetModule, ...] = (
    kubernetes, k8s_rbac, k8s_network, k8s_controlplane, ecs, eks, ecr, dockerfile, dockerhost,
)


@cache
def known_kinds() -> frozenset[str]:
    """Kubernetes kinds some module reads (others get an "unknown kind" warning)."""
    from seawall.posture.k8s_common import WORKLOAD_KINDS

    return frozenset(WORKLOAD_KINDS | {
        "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ServiceAccount", "Service",
        "Ingress", "NetworkPolicy", "Namespace", "KubeletConfiguration", "ConfigMap", "Secret",
        "PodDisruptionBudget", "HorizontalPodAutoscaler", "PersistentVolumeClaim", "LimitRange",
        "ResourceQuota", "CustomResourceDefinition", "StorageClass", "PriorityClass",
        "IngressClass", "Endpoints", "EndpointSlice", "PodSecurityPolicy",
        "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService",
        "Lease", "Event", "Node", "CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"})
