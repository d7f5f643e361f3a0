"""Posture auditing: configuration checks for Kubernetes, ECS, EKS, ECR, Dockerfiles and Docker hosts.

    audit_paths([Path("k8s/")], AuditOptions()) -> Report      # files and directories
    audit_host(Path("/"), AuditOptions()) -> Report             # a Docker host's root filesystem
    audit_aws(AwsOptions(...), AuditOptions()) -> Report        # live ECR / ECS / EKS (boto3)
    all_checks() -> list[Check]                                 # what `--list-checks` prints
"""

from __future__ import annotations

from seawall.posture.base import Check, Context, Policy, load_checks
from seawall.posture.engine import AuditOptions, all_checks, audit_documents, audit_paths

__all__ = ["AuditOptions", "Check", "Context", "Policy", "all_checks", "audit_documents",
           "audit_paths", "load_checks"]
