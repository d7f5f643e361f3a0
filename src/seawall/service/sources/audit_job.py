"""`audit`: posture audits of files or of AWS accounts on a schedule.

    - {name: manifests, type: audit, paths: [/etc/seawall/manifests, ecs/], interval: 1h}
    - {name: prod-aws, type: audit, target: aws, regions: [eu-west-1], profile: audit, interval: 6h}

Runs the `audit` analyzer (seawall.analyzers) as `seawall audit PATH...` / `seawall audit aws` do;
its findings land in the store under their own workloads (a Deployment's check under
k8s/NS/Deployment/NAME, the workload its incidents use), so an incident shows the posture findings
known for its workload. AWS: boto3's usual credentials, `profile`, `regions`, `endpoint_url`
(the tests use moto's server). A finding that a later complete run no longer reports is removed.
"""

from __future__ import annotations

from pathlib import Path

from seawall import analyzers
from seawall.core import Finding
from seawall.core.errors import InputError
from seawall.core.text import printable
from seawall.service.config import SourceConfig
from seawall.service.sources.base import Context
from seawall.service.sources.jobs import interval_of, strings


class AuditJob:
    type = "audit"

    def __init__(self, cfg: SourceConfig, ctx: Context) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.ctx = ctx
        self.interval = interval_of(cfg, 3600.0)
        self.target = str(cfg.get("target", "files"))
        self.paths = strings(cfg, "paths")
        if self.target == "aws":
            self.regions = strings(cfg, "regions") or strings(cfg, "region")
            self.profile = cfg.get("profile")
            self.endpoint_url = cfg.get("endpoint_url")
        elif self.target != "files":
            raise InputError(f"source {cfg.name}: target must be files (with paths) or aws")
        elif not self.paths:
            raise InputError(f"source {cfg.name}: an audit job needs paths, or target: aws")

    def run(
        self, known: dict[str, list[dict[str, str]]]
    ) -> tuple[list[Finding], dict[str, str], list[str], bool]:
        audit = analyzers.get("audit")
        if self.target == "aws":
            from seawall.posture.aws import AwsOptions

            aws = AwsOptions(
                profile=str(self.profile) if self.profile else None,
                regions=self.regions,
                endpoint_url=str(self.endpoint_url) if self.endpoint_url else None,
            )
            report = audit.run("aws", audit.options(aws=aws))
        else:
            missing = [p for p in self.paths if not Path(p).exists()]
            if missing:
                raise InputError(f"source {self.name}: no such path: {printable(missing[0])}")
            report = audit.run(self.paths, audit.options())
        warnings = [printable(w) for w in report.all_warnings()[:20]]
        return list(report.findings), {}, warnings, True
