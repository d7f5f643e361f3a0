"""Live AWS collectors (boto3): ECR, ECS and EKS across regions, every list call paginated.

The collectors produce the same JSON shapes the AWS CLI prints (describe-repositories,
describe-task-definition, describe-services, describe-clusters, describe-cluster ...), so the
checks that audit exported files audit the live account unchanged. Missing credentials and
AccessDenied stop the audit with one line naming the denied action (exit 2).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from seawall.core import Report, Target
from seawall.core.errors import AuthError, InputError, NetworkError
from seawall.posture import ecr, ecs, eks
from seawall.posture.base import Context
from seawall.posture.engine import AuditOptions, audit_documents, sort_findings
from seawall.posture.loader import Document, LDict, LList

DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException",
          "AuthorizationError"}
BAD_CREDENTIALS = {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken",
                   "ExpiredTokenException", "InvalidSignatureException", "SignatureDoesNotMatch",
                   "IncompleteSignature", "InvalidAccessKeyId"}


@dataclass(slots=True)
class AwsOptions:
    profile: str | None = None
    regions: list[str] = field(default_factory=list)
    all_regions: bool = False
    endpoint_url: str | None = None


def wrap(value: Any) -> Any:
    """A boto3 response as line-less LDict/LList (timestamps as ISO text) for the checks."""
    if isinstance(value, dict):
        out = LDict(0)
        for k, v in value.items():
            out[str(k)] = wrap(v)
        return out
    if isinstance(value, list | tuple):
        seq = LList(0)
        for item in value:
            seq.append(wrap(item))
            seq.item_lines.append(0)
        return seq
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


class _Aws:
    def __init__(self, options: AwsOptions) -> None:
        import boto3
        import botocore.config
        import botocore.exceptions

        self.exc = botocore.exceptions
        try:
            self.session = boto3.Session(profile_name=options.profile)
        except botocore.exceptions.ProfileNotFound:
            raise InputError(f"AWS profile {options.profile!r} not found in the AWS config files") from None
        if self.session.get_credentials() is None:
            raise AuthError("no AWS credentials found (set AWS_PROFILE/--profile, AWS_ACCESS_KEY_ID and "
                            "AWS_SECRET_ACCESS_KEY, or run on an instance/task with a role)")
        self.endpoint_url = options.endpoint_url
        self.config = botocore.config.Config(retries={"max_attempts": 4, "mode": "standard"},
                                             connect_timeout=10, read_timeout=60,
                                             user_agent_extra="seawall-audit")
        self.options = options

    def client(self, service: str, region: str) -> Any:
        return self.session.client(service, region_name=region, endpoint_url=self.endpoint_url,
                                   config=self.config)

    def call(self, client: Any, operation: str, region: str, ignore: tuple[str, ...] = (),
             **kwargs: Any) -> Any:
        """One API call with errors turned into one-line seawall errors."""
        service = client.meta.service_model.signing_name or client.meta.service_model.service_name
        action = f"{service}:{client.meta.service_model.operation_model(operation).name}"
        method = getattr(client, _snake(operation))
        try:
            return method(**kwargs)
        except self.exc.ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ignore:
                return None
            self._raise(err, code, action, region)
        except self.exc.NoCredentialsError:
            raise AuthError("no AWS credentials found") from None
        except (self.exc.EndpointConnectionError, self.exc.ConnectTimeoutError,
                self.exc.ReadTimeoutError) as err:
            raise NetworkError(f"cannot reach AWS for {action} in {region}: {err}") from None

    def pages(self, client: Any, operation: str, key: str, region: str, **kwargs: Any) -> Iterator[Any]:
        service = client.meta.service_model.signing_name or client.meta.service_model.service_name
        action = f"{service}:{client.meta.service_model.operation_model(operation).name}"
        try:
            for page in client.get_paginator(_snake(operation)).paginate(**kwargs):
                yield from page.get(key, [])
        except self.exc.ClientError as err:
            self._raise(err, err.response.get("Error", {}).get("Code", ""), action, region)
        except self.exc.NoCredentialsError:
            raise AuthError("no AWS credentials found") from None
        except (self.exc.EndpointConnectionError, self.exc.ConnectTimeoutError,
                self.exc.ReadTimeoutError) as err:
            raise NetworkError(f"cannot reach AWS for {action} in {region}: {err}") from None

    @staticmethod
    def _raise(err: Any, code: str, action: str, region: str) -> None:
        message = str(err.response.get("Error", {}).get("Message", "")).replace("\n", " ")
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # some endpoints answer a JSON-protocol call with a query-style XML error body
        xml_code = re.search(r"<Code>([^<]+)</Code>", message)
        if xml_code:
            code = xml_code.group(1)
            xml_message = re.search(r"<Message>([^<]+)</Message>", message)
            message = xml_message.group(1) if xml_message else ""
        message = message[:200]
        if code in DENIED or (status == 403 and code not in BAD_CREDENTIALS):
            raise AuthError(f"access denied: {action} in {region} ({message or code}); "
                            f"grant {action} to the audit role (e.g. the SecurityAudit managed policy)")
        if code in BAD_CREDENTIALS:
            raise AuthError(f"AWS rejected the credentials on {action} ({code}): {message}")
        raise NetworkError(f"{action} in {region} failed: {code}: {message}")

    def regions(self) -> list[str]:
        if self.options.regions:
            return self.options.regions
        default = self.session.region_name or "us-east-1"
        if self.options.all_regions:
            ec2 = self.client("ec2", default)
            found = self.call(ec2, "DescribeRegions", default)
            return sorted(r["RegionName"] for r in found.get("Regions", []))
        if self.session.region_name is None:
            raise InputError("no AWS region: pass --region (repeatable), --all-regions or set AWS_REGION")
        return [default]


def _snake(operation: str) -> str:
    out = []
    for i, ch in enumerate(operation):
        if ch.isupper() and i and not operation[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def collect_ecr(aws: _Aws, region: str) -> list[Document]:
    client = aws.client("ecr", region)
    docs: list[Document] = []
    for repo in aws.pages(client, "DescribeRepositories", "repositories", region):
        arn = repo.get("repositoryArn") or f"aws:ecr:{region}:{repo['repositoryName']}"
        docs.append(Document(path=arn, data=wrap({"repositories": [repo]}), fmt="aws"))
        policy = aws.call(client, "GetRepositoryPolicy", region,
                          ignore=("RepositoryPolicyNotFoundException",),
                          repositoryName=repo["repositoryName"], registryId=repo["registryId"])
        if policy and policy.get("policyText"):
            docs.append(Document(path=arn, data=wrap({k: policy.get(k) for k in (
                "registryId", "repositoryName", "policyText")}), fmt="aws"))
        lifecycle = aws.call(client, "GetLifecyclePolicy", region,
                             ignore=("LifecyclePolicyNotFoundException",),
                             repositoryName=repo["repositoryName"], registryId=repo["registryId"])
        if lifecycle and lifecycle.get("lifecyclePolicyText"):
            docs.append(Document(path=arn, data=wrap({k: lifecycle.get(k) for k in (
                "registryId", "repositoryName", "lifecyclePolicyText")}), fmt="aws"))
    scanning = aws.call(client, "GetRegistryScanningConfiguration", region,
                        ignore=("ValidationException", "InvalidRequestException"))
    if scanning and scanning.get("scanningConfiguration"):
        docs.append(Document(path=f"aws:ecr:{region}:registry", data=wrap({
            "registryId": scanning.get("registryId"),
            "scanningConfiguration": scanning["scanningConfiguration"]}), fmt="aws"))
    return docs


def collect_ecs(aws: _Aws, region: str) -> list[Document]:
    client = aws.client("ecs", region)
    docs: list[Document] = []
    task_defs: set[str] = set()
    cluster_arns = list(aws.pages(client, "ListClusters", "clusterArns", region))
    for batch in _batches(cluster_arns, 100):
        found = aws.call(client, "DescribeClusters", region, clusters=batch, include=["SETTINGS", "TAGS"])
        for cluster in (found or {}).get("clusters", []):
            docs.append(Document(path=cluster["clusterArn"], data=wrap({"clusters": [cluster]}), fmt="aws"))
    for cluster_arn in cluster_arns:
        service_arns = list(aws.pages(client, "ListServices", "serviceArns", region, cluster=cluster_arn))
        for batch in _batches(service_arns, 10):
            found = aws.call(client, "DescribeServices", region, cluster=cluster_arn, services=batch,
                             include=["TAGS"])
            for svc in (found or {}).get("services", []):
                docs.append(Document(path=svc.get("serviceArn", cluster_arn),
                                     data=wrap({"services": [svc]}), fmt="aws"))
                if svc.get("taskDefinition"):
                    task_defs.add(svc["taskDefinition"])
    for family in aws.pages(client, "ListTaskDefinitionFamilies", "families", region, status="ACTIVE"):
        task_defs.add(family)  # describe by family = its latest ACTIVE revision
    seen: set[str] = set()
    for ref in sorted(task_defs):
        found = aws.call(client, "DescribeTaskDefinition", region, taskDefinition=ref, include=["TAGS"])
        if not found or "taskDefinition" not in found:
            continue
        td = found["taskDefinition"]
        arn = td.get("taskDefinitionArn", ref)
        if arn in seen:
            continue
        seen.add(arn)
        docs.append(Document(path=arn, data=wrap({"taskDefinition": td, "tags": found.get("tags", [])}),
                             fmt="aws"))
    return docs


def collect_eks(aws: _Aws, region: str) -> list[Document]:
    client = aws.client("eks", region)
    docs: list[Document] = []
    for name in aws.pages(client, "ListClusters", "clusters", region):
        found = aws.call(client, "DescribeCluster", region, name=name)
        if found and "cluster" in found:
            cluster = found["cluster"]
            docs.append(Document(path=cluster.get("arn", f"aws:eks:{region}:{name}"),
                                 data=wrap({"cluster": cluster}), fmt="aws"))
    return docs


def audit_aws(options: AwsOptions, audit_options: AuditOptions | None = None) -> Report:
    audit_options = audit_options or AuditOptions()
    aws = _Aws(options)
    regions = aws.regions()
    account = None
    sts_region = regions[0]
    ident = aws.call(aws.client("sts", sts_region), "GetCallerIdentity", sts_region, ignore=tuple(DENIED))
    if ident:
        account = ident.get("Account")
    ctx = Context(policy=audit_options.policy, only=audit_options.only)
    counts: dict[str, int] = {}
    for region in regions:
        docs = collect_ecr(aws, region) + collect_ecs(aws, region) + collect_eks(aws, region)
        counts[region] = len(docs)
        audit_documents(docs, ctx, modules=(ecs, eks, ecr))
    target = Target(kind="aws", name=f"aws account {account or '?'}", metadata={
        "account": account, "regions": regions, "documents": counts, "suppressed": ctx.suppressed})
    report = Report(target=target, findings=ctx.findings, warnings=ctx.warnings)
    sort_findings(report)
    return report
