"""Amazon EKS cluster configuration: `aws eks describe-cluster` output (or the bare cluster object)."""

from __future__ import annotations

from typing import Any

from seawall.core import Resource
from seawall.posture.base import Context, load_checks
from seawall.posture.loader import Document, LDict, LList

NAME = "eks"
# Oldest version in (standard or extended) support; override with the policy key
# `eks_oldest_supported_version` as AWS's calendar moves on.
OLDEST_SUPPORTED = "1.29"
AUDIT_TYPES = ("audit", "authenticator")


def _cluster(data: Any) -> LDict | None:
    if not isinstance(data, LDict):
        return None
    cluster = data.get("cluster") if isinstance(data.get("cluster"), LDict) else data
    if isinstance(cluster, LDict) and "resourcesVpcConfig" in cluster and (
            ":eks:" in str(cluster.get("arn", "")) or "endpoint" in cluster or "version" in cluster):
        return cluster
    return None


def accepts(doc: Document) -> bool:
    return _cluster(doc.data) is not None


def _version_tuple(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(".")[:2])
    except ValueError:
        return ()


def check_cluster(cluster: LDict, path: str, ctx: Context) -> None:
    checks = load_checks(NAME)
    name = str(cluster.get("name", "?"))
    res = Resource(type="AWS::EKS::Cluster", name=name, arn=str(cluster.get("arn") or "") or None)
    tags = cluster.get("tags")
    sup = set(str(tags.get("seawall.io/ignore", "")).replace(",", " ").split()) \
        if isinstance(tags, dict) else set()

    def rep(cid: str, line: int | None, ev: str) -> None:
        ctx.report(checks[cid], res, path, line, ev, suppress=sup)

    vpc = cluster.get("resourcesVpcConfig")
    if isinstance(vpc, LDict):
        public = vpc.get("endpointPublicAccess", True) is not False
        cidrs = vpc.get("publicAccessCidrs")
        cidr_list = [str(c) for c in cidrs] if isinstance(cidrs, list) else ["0.0.0.0/0"]
        if public and any(c in ("0.0.0.0/0", "::/0") for c in cidr_list):
            line = cidrs.ln(cidr_list.index("0.0.0.0/0")) if isinstance(cidrs, LList) and \
                "0.0.0.0/0" in cidr_list else vpc.ln("endpointPublicAccess")
            rep("SW-EKS-001", line, f"endpointPublicAccess: true, publicAccessCidrs {cidr_list}")
        if vpc.get("endpointPrivateAccess") is not True:
            rep("SW-EKS-002", vpc.ln("endpointPrivateAccess"), "endpointPrivateAccess: false")
    logging = cluster.get("logging")
    enabled: set[str] = set()
    line = cluster.ln("logging") if "logging" in cluster else cluster.line
    if isinstance(logging, LDict):
        setups = logging.get("clusterLogging")
        if isinstance(setups, LList):
            for setup in setups:
                if not isinstance(setup, LDict):
                    continue
                raw_types = setup.get("types")
                types = [str(t) for t in raw_types] if isinstance(raw_types, list) else []
                if setup.get("enabled") is True:
                    enabled.update(types)
                elif any(t in AUDIT_TYPES for t in types):
                    line = setup.first_line
    missing = [t for t in AUDIT_TYPES if t not in enabled]
    if missing:
        rep("SW-EKS-003", line, f"log types not enabled: {', '.join(missing)}")
    enc = cluster.get("encryptionConfig")
    has_secrets = isinstance(enc, list) and any(
        isinstance(e, dict) and isinstance(e.get("resources"), list) and "secrets" in e["resources"]
        for e in enc)
    if not has_secrets:
        line = cluster.ln("encryptionConfig") if "encryptionConfig" in cluster else cluster.ln("name")
        rep("SW-EKS-004", line, "no encryptionConfig for secrets")
    version = str(cluster.get("version", ""))
    oldest = ctx.policy.eks_oldest_supported_version or OLDEST_SUPPORTED
    if version and _version_tuple(version) and _version_tuple(version) < _version_tuple(oldest):
        rep("SW-EKS-005", cluster.ln("version"), f"version {version} (oldest supported {oldest})")


def run(docs: list[Document], ctx: Context) -> None:
    for doc in docs:
        cluster = _cluster(doc.data)
        if cluster is not None:
            check_cluster(cluster, doc.path, ctx)
