"""The posture analyzer, as `seawall.analyzers` enters it: `audit`.

    AUDIT.run(["k8s/", "ecs/"], AuditOptions())            files and directories (type by content)
    AUDIT.run("aws", AuditOptions(aws=AwsOptions(...)))     live ECR/ECS/EKS through boto3
    AUDIT.run("host", AuditOptions(root=Path("/")))          a Docker host's files (CIS Docker)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seawall.core import Report, ReportKind
from seawall.core.errors import InputError
from seawall.posture.engine import AuditOptions, audit_paths, sort_findings


class AuditAnalyzer:
    name = "audit"
    report_kind = ReportKind.FINDINGS

    def options(self, **values: Any) -> AuditOptions:
        return AuditOptions(**values)

    def run(self, target: str | Sequence[str], options: AuditOptions) -> Report:
        args = [target] if isinstance(target, str) else list(target)
        if not args:
            raise InputError("nothing to audit: give files or directories, `aws` or `host` "
                             "(see seawall audit --help)")
        if args[0] == "aws":
            if len(args) > 1:
                raise InputError("`seawall audit aws` takes no paths; use --region / --profile")
            from seawall.posture.aws import AwsOptions, audit_aws

            return audit_aws(options.aws or AwsOptions(), options)
        if args[0] == "host":
            if len(args) > 1:
                raise InputError("`seawall audit host` takes no paths; use --root DIR")
            from seawall.posture.base import Context
            from seawall.posture.dockerhost import audit_host

            report = audit_host(options.root, Context(policy=options.policy, only=options.only))
            sort_findings(report)
            return report
        return audit_paths([Path(a) for a in args], options)


AUDIT = AuditAnalyzer()
