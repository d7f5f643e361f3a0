"""A benign day of an EKS 1.30 cluster's audit log (kube-apiserver log backend, JSON lines).

What a real cluster does on an ordinary day, with no attack: kubelets renewing leases, patching
status and requesting service-account tokens; controllers listing and watching; a node scale-up
by Karpenter (new nodes get their add-on DaemonSet pods); an `aws-node` add-on upgrade by the EKS
add-on manager rolling the VPC CNI DaemonSet; kube-state-metrics and Argo CD watching secrets
cluster-wide; cert-manager and external-secrets writing secrets; a CronJob every 15 minutes; CI
rollouts (image bumps) and Argo CD syncs; three engineers reading with kubectl 1.30 (SSO roles);
anonymous health probes; one legitimate exec into a staging pod; and a developer who, after five
refused reads of production secrets, reads a staging secret. About 30,000 events.

    write(path, seed=1) -> path;  generate(seed=1) -> iterator of JSON lines (time order)

The events follow what kube-apiserver writes (audit.k8s.io/v1 Event): stages, levels (Metadata
for reads and secrets, RequestResponse for pods and workloads), objectRef, user, sourceIPs,
userAgent, requestObject of created pods with their ownerReferences, images and security context.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

START = datetime(2026, 3, 3, 0, 0, 0, tzinfo=UTC)
DAY = 86_400
ACCOUNT = "111122223333"
REGION = "eu-west-1"
ECR_EKS = f"602401143452.dkr.ecr.{REGION}.amazonaws.com"
APP_REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
KUBECTL = "kubectl/v1.30.2 (linux/arm64) kubernetes/3968350"
KUBELET = "kubelet/v1.30.4-eks-a737599 (linux/amd64) kubernetes/a737599"
KCM = "kube-controller-manager/v1.30.4 (linux/amd64) kubernetes/a737599/system:serviceaccount:kube-system:"
NODES0 = [f"ip-10-0-{i}-{20 + 7 * i}.{REGION}.compute.internal" for i in range(8)]
NODES_NEW = [f"ip-10-0-{i}-{90 + i}.{REGION}.compute.internal" for i in (8, 9)]
SSO = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_EKSDeveloper_4f1c2a9b7d3e5f60"
ENGINEERS = {"alice": "192.0.2.21", "bob": "192.0.2.34", "carol": "198.51.100.71"}
CI_USER = f"arn:aws:sts::{ACCOUNT}:assumed-role/github-actions-deployer/GitHubActions"
APPS = {"payments": ["api", "ledger"], "web": ["frontend", "checkout"], "staging": ["api", "frontend"]}
SECRETS = {
    "payments": ["db-credentials", "stripe-api-key"],
    "web": ["session-key"],
    "staging": ["db-credentials", "session-key"],
}

# the add-on DaemonSets of an EKS node: name -> (containers, init containers, host network,
# host paths, which containers are privileged)
ADDONS: dict[str, dict[str, Any]] = {
    "aws-node": {
        "containers": [
            ("aws-node", f"{ECR_EKS}/amazon-k8s-cni:v1.18.5-eksbuild.1"),
            ("aws-eks-nodeagent", f"{ECR_EKS}/amazon/aws-network-policy-agent:v1.1.4-eksbuild.1"),
        ],
        "init": [("aws-vpc-cni-init", f"{ECR_EKS}/amazon-k8s-cni-init:v1.18.5-eksbuild.1")],
        "privileged": {"aws-vpc-cni-init", "aws-eks-nodeagent"},
        "host_network": True,
        "host_paths": [
            "/opt/cni/bin",
            "/etc/cni/net.d",
            "/var/log/aws-routed-eni",
            "/var/run/aws-node",
            "/run/xtables.lock",
            "/sys/fs/bpf",
        ],
    },
    "kube-proxy": {
        "containers": [("kube-proxy", f"{ECR_EKS}/eks/kube-proxy:v1.30.3-minimal-eksbuild.5")],
        "init": [],
        "privileged": {"kube-proxy"},
        "host_network": True,
        "host_paths": ["/var/log", "/run/xtables.lock", "/lib/modules"],
    },
    "ebs-csi-node": {
        "containers": [
            ("ebs-plugin", f"{ECR_EKS}/eks/aws-ebs-csi-driver:v1.34.0"),
            ("node-driver-registrar", f"{ECR_EKS}/eks/csi-node-driver-registrar:v2.11.1-eks-1-30-12"),
            ("liveness-probe", f"{ECR_EKS}/eks/livenessprobe:v2.13.1-eks-1-30-12"),
        ],
        "init": [],
        "privileged": {"ebs-plugin"},
        "host_network": False,
        "host_paths": [
            "/var/lib/kubelet",
            "/var/lib/kubelet/plugins/ebs.csi.aws.com/",
            "/var/lib/kubelet/plugins_registry/",
            "/dev",
        ],
    },
    "efs-csi-node": {
        "containers": [
            ("efs-plugin", f"{ECR_EKS}/eks/aws-efs-csi-driver:v2.0.7"),
            ("csi-driver-registrar", f"{ECR_EKS}/eks/csi-node-driver-registrar:v2.11.1-eks-1-30-12"),
            ("liveness-probe", f"{ECR_EKS}/eks/livenessprobe:v2.13.1-eks-1-30-12"),
        ],
        "init": [],
        "privileged": {"efs-plugin"},
        "host_network": True,
        "host_paths": [
            "/var/lib/kubelet",
            "/var/lib/kubelet/plugins/efs.csi.aws.com/",
            "/var/lib/kubelet/plugins_registry/",
            "/var/run/efs",
            "/var/amazon/efs",
        ],
    },
    "eks-pod-identity-agent": {
        "containers": [("eks-pod-identity-agent", f"{ECR_EKS}/eks/eks-pod-identity-agent:0.1.10")],
        "init": [("eks-pod-identity-agent-init", f"{ECR_EKS}/eks/eks-pod-identity-agent:0.1.10")],
        "privileged": {"eks-pod-identity-agent-init"},
        "host_network": True,
        "host_paths": [],
    },
}


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Day:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.events: list[tuple[datetime, int, dict[str, Any]]] = []
        self.n = 0

    def at(self, seconds: float) -> datetime:
        return START + timedelta(seconds=seconds)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128)))

    def ev(
        self,
        t: datetime,
        verb: str,
        user: str,
        groups: list[str],
        *,
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
        api_group: str = "",
        api_version: str = "v1",
        code: int = 200,
        ip: str = "10.0.0.10",
        ua: str = KUBECTL,
        uri: str | None = None,
        level: str = "Metadata",
        stage: str = "ResponseComplete",
        request: dict[str, Any] | None = None,
        response_name: str | None = None,
        reason: str = "",
        decision: str = "allow",
        audit_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if uri is None:
            base = f"/apis/{api_group}/{api_version}" if api_group else "/api/v1"
            uri = (
                base
                + (f"/namespaces/{namespace}" if namespace else "")
                + (f"/{resource}" if resource else "")
            )
            uri += (f"/{name}" if name else "") + (f"/{subresource}" if subresource else "")
            if verb == "watch":
                uri += "?allowWatchBookmarks=true&resourceVersion=4821337&timeout=7m41s&watch=true"
            elif verb == "list":
                uri += "?limit=500&resourceVersion=0"
        event: dict[str, Any] = {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": level,
            "auditID": audit_id or self.uid(),
            "stage": stage,
            "requestURI": uri,
            "verb": verb,
            "user": {"username": user, "groups": groups, **(extra or {})},
            "sourceIPs": [ip],
            "userAgent": ua,
        }
        if resource:
            ref: dict[str, Any] = {"resource": resource}
            if namespace:
                ref["namespace"] = namespace
            if name:
                ref["name"] = name
            if api_group:
                ref["apiGroup"] = api_group
            ref["apiVersion"] = api_version
            if subresource:
                ref["subresource"] = subresource
            event["objectRef"] = ref
        if stage != "RequestReceived":
            status: dict[str, Any] = {"metadata": {}, "code": code}
            if code >= 400:
                status.update(status="Failure", reason="Forbidden", message="forbidden")
            event["responseStatus"] = status
        if request is not None and level in ("Request", "RequestResponse"):
            event["requestObject"] = request
        if response_name is not None and level == "RequestResponse":
            event["responseObject"] = {
                "kind": "Pod",
                "apiVersion": "v1",
                "metadata": {"name": response_name, "namespace": namespace},
            }
        event["requestReceivedTimestamp"] = _stamp(t)
        event["stageTimestamp"] = _stamp(t + timedelta(milliseconds=self.rng.randint(1, 40)))
        event["annotations"] = {
            "authorization.k8s.io/decision": decision,
            "authorization.k8s.io/reason": reason or "EKS Access Policy: allowed",
        }
        self.n += 1
        self.events.append((t, self.n, event))
        return event

    # -- identities ---------------------------------------------------------------------------
    def node(self, t: datetime, node: str, verb: str, **kw: Any) -> dict[str, Any]:
        return self.ev(
            t,
            verb,
            f"system:node:{node}",
            ["system:nodes", "system:authenticated"],
            ua=KUBELET,
            ip=f"10.0.{NODE_IPS.get(node, '0.1')}",
            **kw,
        )

    def sa(
        self, t: datetime, ns: str, account: str, verb: str, ua: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
        return self.ev(
            t, verb, f"system:serviceaccount:{ns}:{account}", groups, ua=ua or f"{account}/v0.0.0", **kw
        )

    def kcm(self, t: datetime, ctl: str, verb: str, **kw: Any) -> dict[str, Any]:
        return self.sa(t, "kube-system", ctl, verb, ua=KCM + ctl, ip="10.0.0.5", **kw)

    def person(self, t: datetime, who: str, verb: str, **kw: Any) -> dict[str, Any]:
        kw.setdefault("ip", ENGINEERS[who])
        return self.ev(
            t,
            verb,
            f"{SSO}/{who}@example.com",
            ["system:authenticated"],
            extra={"extra": {"accessKeyId": ["ASIA4EXAMPLEKEYID"], "principalId": ["AROA4EXAMPLE:x"]}},
            **kw,
        )


NODE_IPS = {n: f"{i}.{20 + 7 * i}" for i, n in enumerate(NODES0)} | {
    n: f"{i}.{90 + i}" for i, n in zip((8, 9), NODES_NEW, strict=True)
}


def _suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(n))


def pod_spec(addon: dict[str, Any], node: str) -> dict[str, Any]:
    def container(name: str, image: str) -> dict[str, Any]:
        c: dict[str, Any] = {
            "name": name,
            "image": image,
            "resources": {"requests": {"cpu": "25m"}},
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
        }
        if name in addon["privileged"]:
            c["securityContext"] = {"privileged": True}
        else:
            c["securityContext"] = (
                {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}} if name == "aws-node" else {}
            )
        return c

    spec: dict[str, Any] = {
        "containers": [container(n, i) for n, i in addon["containers"]],
        "nodeName": node,
        "priorityClassName": "system-node-critical",
        "serviceAccountName": "default",
        "tolerations": [{"operator": "Exists"}],
        "volumes": [
            {"name": f"host-{k}", "hostPath": {"path": p}} for k, p in enumerate(addon["host_paths"])
        ],
    }
    if addon["init"]:
        spec["initContainers"] = [container(n, i) for n, i in addon["init"]]
    if addon["host_network"]:
        spec["hostNetwork"] = True
    return spec


def addon_pod(day: Day, t: datetime, ds: str, node: str) -> None:
    """The DaemonSet controller creates one add-on pod on a node (then the scheduler and kubelet)."""
    addon = ADDONS[ds]
    pod = f"{ds}-{_suffix(day.rng)}"
    request = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "generateName": f"{ds}-",
            "namespace": "kube-system",
            "labels": {"k8s-app": ds, "controller-revision-hash": "7c9d5b8f6d"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "DaemonSet",
                    "name": ds,
                    "uid": "0b9f6a52-9d2e-4c58-a0d6-4b1f3c2e7a10",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": pod_spec(addon, node),
    }
    day.kcm(
        t,
        "daemon-set-controller",
        "create",
        resource="pods",
        namespace="kube-system",
        level="RequestResponse",
        request=request,
        response_name=pod,
        code=201,
    )
    day.node(
        t + timedelta(seconds=2),
        node,
        "patch",
        resource="pods",
        namespace="kube-system",
        name=pod,
        subresource="status",
    )
    day.node(
        t + timedelta(seconds=3),
        node,
        "create",
        resource="serviceaccounts",
        namespace="kube-system",
        name=ADDON_SA.get(ds, ds),
        subresource="token",
        level="Metadata",
        code=201,
    )


ADDON_SA = {"ebs-csi-node": "ebs-csi-node-sa", "efs-csi-node": "efs-csi-node-sa", "kube-proxy": "kube-proxy"}


def app_pod(day: Day, t: datetime, ns: str, app: str, node: str, image: str, owner: tuple[str, str]) -> str:
    kind, oname = owner
    pod = f"{oname}-{_suffix(day.rng)}"
    request = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "generateName": f"{oname}-",
            "namespace": ns,
            "labels": {"app": app},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1" if kind != "Job" else "batch/v1",
                    "kind": kind,
                    "name": oname,
                    "uid": day.uid(),
                    "controller": True,
                }
            ],
        },
        "spec": {
            "containers": [
                {
                    "name": app,
                    "image": image,
                    "ports": [{"containerPort": 8080}],
                    "securityContext": {
                        "runAsNonRoot": True,
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                    },
                }
            ],
            "serviceAccountName": app,
            "nodeName": None,
        },
    }
    ctl = "replicaset-controller" if kind == "ReplicaSet" else "job-controller"
    day.kcm(
        t,
        ctl,
        "create",
        resource="pods",
        namespace=ns,
        level="RequestResponse",
        request=request,
        response_name=pod,
        code=201,
    )
    day.ev(
        t + timedelta(milliseconds=300),
        "create",
        "system:kube-scheduler",
        ["system:authenticated"],
        resource="pods",
        namespace=ns,
        name=pod,
        subresource="binding",
        code=201,
        ua="kube-scheduler/v1.30.4 (linux/amd64) kubernetes/a737599/scheduler",
        ip="10.0.0.5",
    )
    day.node(
        t + timedelta(seconds=2),
        node,
        "create",
        resource="serviceaccounts",
        namespace=ns,
        name=app,
        subresource="token",
        code=201,
    )
    day.node(
        t + timedelta(seconds=4), node, "patch", resource="pods", namespace=ns, name=pod, subresource="status"
    )
    return pod


def generate_events(seed: int = 1) -> list[dict[str, Any]]:
    day = Day(seed)
    rng = day.rng
    nodes = list(NODES0)
    # -- node scale-up at 09:40 (Karpenter) and the aws-node add-on upgrade at 14:05 -----------
    scale_up = 9 * 3600 + 40 * 60
    upgrade = 14 * 3600 + 5 * 60
    for k, node in enumerate(NODES_NEW):
        t = day.at(scale_up + 60 * k)
        day.sa(
            t - timedelta(seconds=50),
            "kube-system",
            "karpenter",
            "create",
            resource="nodeclaims",
            api_group="karpenter.sh",
            name=f"default-{_suffix(rng)}",
            code=201,
            ip="10.0.3.41",
            ua="karpenter/v1.0.6",
        )
        day.node(
            t,
            node,
            "create",
            resource="nodes",
            name=node,
            level="RequestResponse",
            code=201,
            request={"kind": "Node", "apiVersion": "v1", "metadata": {"name": node}},
        )
        day.node(
            t + timedelta(seconds=1),
            node,
            "create",
            resource="certificatesigningrequests",
            api_group="certificates.k8s.io",
            name=f"csr-{_suffix(rng)}",
            code=201,
        )
        for j, ds in enumerate(ADDONS):
            addon_pod(day, t + timedelta(seconds=5 + 3 * j), ds, node)
        nodes.append(node)
    day.ev(
        day.at(upgrade),
        "patch",
        "eks:addon-manager",
        ["system:authenticated"],
        resource="daemonsets",
        api_group="apps",
        namespace="kube-system",
        name="aws-node",
        level="RequestResponse",
        ua="eks-addon-manager/v1.30 (linux/amd64)",
        ip="10.0.0.7",
        request={
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {"name": "aws-node", "image": f"{ECR_EKS}/amazon-k8s-cni:v1.18.5-eksbuild.1"}
                        ]
                    }
                }
            }
        },
    )
    for k, node in enumerate(nodes):
        t = day.at(upgrade + 20 + 45 * k)
        day.kcm(
            t - timedelta(seconds=5),
            "daemon-set-controller",
            "delete",
            resource="pods",
            namespace="kube-system",
            name=f"aws-node-{_suffix(rng)}",
        )
        addon_pod(day, t, "aws-node", node)
    # -- background, spread over the day --------------------------------------------------------
    seconds = 0.0
    while seconds < DAY:
        seconds += rng.expovariate(1 / 2.95)
        t = day.at(seconds)
        live = nodes if seconds > scale_up else NODES0
        r = rng.random()
        node = rng.choice(live)
        if r < 0.22:
            day.node(
                t,
                node,
                "update",
                resource="leases",
                api_group="coordination.k8s.io",
                namespace="kube-node-lease",
                name=node,
            )
        elif r < 0.30:
            day.node(t, node, "patch", resource="nodes", name=node, subresource="status")
        elif r < 0.40:  # projected service-account tokens renewed by the kubelet
            ns = rng.choice([*APPS, "kube-system", "monitoring", "argocd"])
            day.node(
                t,
                node,
                "create",
                resource="serviceaccounts",
                namespace=ns,
                name=rng.choice(["default", "api", "frontend", "aws-node", "coredns", "prometheus"]),
                subresource="token",
                code=201,
            )
        elif r < 0.46:
            day.node(
                t,
                node,
                rng.choice(["get", "watch"]),
                resource=rng.choice(["configmaps", "services", "pods"]),
                namespace=rng.choice([*APPS, "kube-system"]),
            )
        elif r < 0.62:
            ctl = rng.choice(
                [
                    "replicaset-controller",
                    "deployment-controller",
                    "endpointslice-controller",
                    "daemon-set-controller",
                    "namespace-controller",
                    "generic-garbage-collector",
                    "horizontal-pod-autoscaler",
                    "resourcequota-controller",
                ]
            )
            day.kcm(
                t,
                ctl,
                rng.choice(["list", "watch", "get"]),
                resource=rng.choice(["pods", "replicasets", "endpointslices", "services", "deployments"]),
                namespace=rng.choice([*APPS, "kube-system", None]),
            )
        elif r < 0.66:
            day.ev(
                t,
                "get",
                "system:anonymous",
                ["system:unauthenticated"],
                ua="kube-probe/1.30",
                ip="10.0.0.2",
                uri=rng.choice(["/healthz", "/livez", "/readyz"]),
                reason='RBAC: allowed by ClusterRoleBinding "system:public-info-viewer"',
            )
        elif r < 0.70:
            day.ev(
                t,
                rng.choice(["list", "get", "watch"]),
                rng.choice(
                    [
                        "eks:cloud-controller-manager",
                        "eks:k8s-metrics",
                        "eks:node-manager",
                        "eks:addon-manager",
                        "eks:certificate-controller",
                        "eks:pod-identity-mutating-webhook",
                    ]
                ),
                ["system:authenticated"],
                resource=rng.choice(["nodes", "pods", "configmaps", "endpoints"]),
                ip="10.0.0.7",
                ua="eks-internal/v1.30",
            )
        elif r < 0.76:
            day.sa(
                t,
                "monitoring",
                "prometheus",
                rng.choice(["get", "list", "watch"]),
                resource=rng.choice(["pods", "endpoints", "services", "nodes"]),
                namespace=rng.choice([*APPS, "kube-system"]),
                ip="10.0.4.12",
                ua="prometheus/v2.53.1",
            )
        elif r < 0.80:
            day.sa(
                t,
                "kube-system",
                "coredns",
                rng.choice(["list", "watch"]),
                resource=rng.choice(["endpointslices", "services", "namespaces"]),
                api_group="discovery.k8s.io" if r < 0.78 else "",
                ip="10.0.2.33",
                ua="coredns/v1.11.3",
            )
        elif r < 0.84:  # kube-state-metrics: lists and watches everything, secrets included
            day.sa(
                t,
                "monitoring",
                "kube-state-metrics",
                rng.choice(["list", "watch", "watch"]),
                resource=rng.choice(["secrets", "pods", "deployments", "configmaps", "nodes", "secrets"]),
                ip="10.0.4.19",
                ua="kube-state-metrics/v2.13.0",
            )
        elif r < 0.88:  # Argo CD: watches every kind, secrets for cluster and repo credentials
            day.sa(
                t,
                "argocd",
                rng.choice(["argocd-application-controller", "argocd-server"]),
                rng.choice(["watch", "list", "get"]),
                resource=rng.choice(["secrets", "deployments", "services", "configmaps", "secrets"]),
                namespace=rng.choice(["argocd", None, "payments", "web"]),
                ip="10.0.5.8",
                ua="argocd-application-controller/v2.12.3",
            )
        elif r < 0.90:
            day.sa(
                t,
                "cert-manager",
                "cert-manager",
                rng.choice(["watch", "list", "get"]),
                resource=rng.choice(["secrets", "certificates", "certificaterequests"]),
                api_group="" if r < 0.89 else "cert-manager.io",
                ip="10.0.6.3",
                ua="cert-manager-controller/v1.15.3",
            )
        elif r < 0.92:
            day.sa(
                t,
                "external-secrets",
                "external-secrets",
                rng.choice(["watch", "list", "get"]),
                resource=rng.choice(["secrets", "externalsecrets"]),
                ip="10.0.6.9",
                ua="external-secrets/v0.10.3",
            )
        elif r < 0.94:
            day.sa(
                t,
                "kube-system",
                "karpenter",
                rng.choice(["list", "watch", "get"]),
                resource=rng.choice(["pods", "nodes", "nodeclaims"]),
                ip="10.0.3.41",
                ua="karpenter/v1.0.6",
            )
        elif r < 0.96:
            day.sa(
                t,
                "kube-system",
                "ebs-csi-controller-sa",
                rng.choice(["list", "watch", "get", "patch"]),
                resource=rng.choice(["volumeattachments", "persistentvolumes", "leases"]),
                api_group="storage.k8s.io",
                ip="10.0.3.52",
                ua="csi-attacher/v4.6.1",
            )
        elif 8 * 3600 < seconds < 19 * 3600:  # engineers at work
            who = rng.choice(list(ENGINEERS))
            res = rng.choice(["pods", "pods", "deployments", "events", "services", "replicasets"])
            ns = rng.choice([*APPS])
            if res == "pods" and rng.random() < 0.3:
                day.person(
                    t,
                    who,
                    "get",
                    resource="pods",
                    namespace=ns,
                    name=f"{APPS[ns][0]}-7d9f8c6b5-{_suffix(rng)}",
                    subresource="log",
                )
            else:
                day.person(
                    t,
                    who,
                    rng.choice(["get", "list"]),
                    resource=res,
                    namespace=ns,
                    api_group="apps" if res in ("deployments", "replicasets") else "",
                )
        else:
            day.kcm(
                t,
                "endpointslice-controller",
                "update",
                resource="endpointslices",
                api_group="discovery.k8s.io",
                namespace=rng.choice([*APPS]),
            )
    # -- cert-manager renewals and external-secrets refreshes (secrets written) ----------------
    for h in range(24):
        for k, (ns, secret) in enumerate([(ns, s) for ns, ss in SECRETS.items() for s in ss]):
            day.sa(
                day.at(h * 3600 + 300 + 7 * k),
                "external-secrets",
                "external-secrets",
                "update",
                resource="secrets",
                namespace=ns,
                name=secret,
                ip="10.0.6.9",
                ua="external-secrets/v0.10.3",
            )
    for k, (ns, host) in enumerate(
        [("web", "shop-tls"), ("payments", "api-tls"), ("staging", "staging-tls")]
    ):
        t = day.at(3 * 3600 + 900 * k)
        day.sa(
            t,
            "cert-manager",
            "cert-manager",
            "create",
            resource="secrets",
            namespace=ns,
            name=f"{host}-{_suffix(rng)}",
            code=201,
            ip="10.0.6.3",
            ua="cert-manager-controller/v1.15.3",
        )
        day.sa(
            t + timedelta(seconds=20),
            "cert-manager",
            "cert-manager",
            "update",
            resource="secrets",
            namespace=ns,
            name=host,
            ip="10.0.6.3",
            ua="cert-manager-controller/v1.15.3",
        )
    # -- a CronJob every 15 minutes --------------------------------------------------------------
    for k in range(96):
        t = day.at(k * 900 + 1)
        job = f"ledger-report-{29000000 + k * 15}"
        day.kcm(
            t,
            "cronjob-controller",
            "create",
            resource="jobs",
            api_group="batch",
            namespace="payments",
            level="RequestResponse",
            code=201,
            request={
                "kind": "Job",
                "apiVersion": "batch/v1",
                "metadata": {"name": job, "namespace": "payments"},
            },
        )
        day.kcm(
            t + timedelta(seconds=1),
            "cronjob-controller",
            "update",
            resource="cronjobs",
            api_group="batch",
            namespace="payments",
            name="ledger-report",
            subresource="status",
        )
        app_pod(
            day,
            t + timedelta(seconds=2),
            "payments",
            "ledger-report",
            rng.choice(NODES0),
            f"{APP_REGISTRY}/ledger-report:2.4.1",
            ("Job", job),
        )
        day.kcm(
            t + timedelta(seconds=95),
            "job-controller",
            "update",
            resource="jobs",
            api_group="batch",
            namespace="payments",
            name=job,
            subresource="status",
        )
        if k >= 3:
            day.kcm(
                t + timedelta(seconds=100),
                "cronjob-controller",
                "delete",
                resource="jobs",
                api_group="batch",
                namespace="payments",
                name=f"ledger-report-{29000000 + (k - 3) * 15}",
            )
    # -- CI rollouts (image bumps by the pipeline) and Argo CD syncs ------------------------------
    for k, hour in enumerate([9.5, 10.25, 11.75, 13.1, 15.4, 16.2, 17.8]):
        ns = list(APPS)[k % 3]
        app = APPS[ns][k % 2]
        tag = f"1.{40 + k}.{rng.randint(0, 9)}"
        t = day.at(hour * 3600)
        image = f"{APP_REGISTRY}/{app}:{tag}"
        patch = {"spec": {"template": {"spec": {"containers": [{"name": app, "image": image}]}}}}
        if k % 2:
            day.ev(
                t,
                "patch",
                CI_USER,
                ["system:authenticated"],
                resource="deployments",
                api_group="apps",
                namespace=ns,
                name=app,
                level="RequestResponse",
                request=patch,
                ip="20.59.113.4",
                ua="kubectl/v1.30.2 (linux/amd64) kubernetes/3968350",
            )
        else:
            day.sa(
                t,
                "argocd",
                "argocd-application-controller",
                "patch",
                resource="deployments",
                api_group="apps",
                namespace=ns,
                name=app,
                level="RequestResponse",
                request=patch,
                ip="10.0.5.8",
                ua="argocd-application-controller/v2.12.3",
            )
        rs = f"{app}-{_suffix(rng, 9)}"
        day.kcm(
            t + timedelta(seconds=1),
            "deployment-controller",
            "create",
            resource="replicasets",
            api_group="apps",
            namespace=ns,
            level="RequestResponse",
            code=201,
            request={"kind": "ReplicaSet", "metadata": {"name": rs, "namespace": ns}},
        )
        for r in range(3):
            app_pod(
                day, t + timedelta(seconds=5 + 20 * r), ns, app, rng.choice(nodes), image, ("ReplicaSet", rs)
            )
    # -- engineers: one legitimate exec into staging (kubectl 1.30: WebSockets, verb get) ---------
    t = day.at(11 * 3600 + 17 * 60)
    pod = "api-6b8f9d7c5-k2mzq"
    exec_id = day.uid()
    uri = (
        f"/api/v1/namespaces/staging/pods/{pod}/exec?command=sh&container=api&stdin=true&stdout=true&tty=true"
    )
    for stage, dt in (("ResponseStarted", 0), ("ResponseComplete", 412)):
        day.person(
            t + timedelta(seconds=dt),
            "bob",
            "get",
            resource="pods",
            namespace="staging",
            name=pod,
            subresource="exec",
            stage=stage,
            code=101,
            uri=uri,
            audit_id=exec_id,
        )
    # -- a developer refused five production secrets, then reads a staging secret ------------------
    t = day.at(15 * 3600 + 42 * 60)
    for k in range(5):
        day.person(
            t + timedelta(seconds=9 * k),
            "carol",
            "get",
            resource="secrets",
            namespace="payments",
            name=rng.choice(SECRETS["payments"]),
            code=403,
            decision="forbid",
            reason="",
        )
    day.person(
        t + timedelta(seconds=70),
        "carol",
        "get",
        resource="secrets",
        namespace="staging",
        name="db-credentials",
    )
    day.events.sort(key=lambda e: (e[0], e[1]))
    return [e for _, _, e in day.events]


def generate(seed: int = 1) -> Iterator[bytes]:
    for event in generate_events(seed):
        yield orjson.dumps(event)


def write(path: Path, seed: int = 1) -> Path:
    path.write_bytes(b"\n".join(generate(seed)) + b"\n")
    return path
