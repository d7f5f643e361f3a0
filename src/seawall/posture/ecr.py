"""Amazon ECR: repositories (describe-repositories / create-repository), repository policies
(get-repository-policy), lifecycle policies (get-lifecycle-policy) and registry scanning
configuration (get-registry-scanning-configuration), joined per repository across files.

Who can read and change images: policies are evaluated statement by statement for public
access ("*"), cross-account pull without conditions and cross-account write.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from seawall.core import Resource
from seawall.posture.base import Context, load_checks
from seawall.posture.loader import Document, LDict

NAME = "ecr"
PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
WRITE_ACTIONS = ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:CompleteLayerUpload",
                 "ecr:UploadLayerPart", "ecr:BatchDeleteImage", "ecr:DeleteRepository",
                 "ecr:SetRepositoryPolicy", "ecr:DeleteRepositoryPolicy", "ecr:PutLifecyclePolicy",
                 "ecr:PutImageTagMutability")
_ACCOUNT = re.compile(r"^(\d{12})$|^arn:aws[\w-]*:(?:iam|sts)::(\d{12}):")


@dataclass(slots=True)
class Repo:
    name: str
    registry: str | None = None
    arn: str | None = None
    data: LDict | None = None
    path: str | None = None
    policy: tuple[str, str, int] | None = None  # (policy text, path, line)
    lifecycle: bool = False
    tags: set[str] = field(default_factory=set)

    def resource(self) -> Resource:
        return Resource(type="AWS::ECR::Repository", name=self.name, namespace=self.registry, arn=self.arn)


def _kind(data: Any) -> str | None:
    if not isinstance(data, LDict):
        return None
    if isinstance(data.get("repositories"), list) and any(
            isinstance(r, dict) and "repositoryName" in r for r in data["repositories"]):
        return "repositories"
    if isinstance(data.get("repository"), dict) and "repositoryName" in data["repository"]:
        return "repository"
    if "policyText" in data and "repositoryName" in data:
        return "policy"
    if "lifecyclePolicyText" in data and "repositoryName" in data:
        return "lifecycle"
    scanning = data.get("scanningConfiguration")
    if isinstance(scanning, dict) and ("scanType" in scanning or "rules" in scanning):
        return "scanning"
    return None


def accepts(doc: Document) -> bool:
    return _kind(doc.data) is not None


def _principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        if isinstance(aws, str):
            return [aws]
        if isinstance(aws, list):
            return [str(a) for a in aws]
    return []


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement.get("Action")
    if isinstance(action, str):
        return [action]
    return [str(a) for a in action] if isinstance(action, list) else []


def _grants(actions: list[str], wanted: tuple[str, ...]) -> list[str]:
    return sorted({w for w in wanted for a in actions
                   if fnmatch.fnmatchcase(w.lower(), a.lower())})


def _account(principal: str) -> str | None:
    m = _ACCOUNT.match(principal)
    return (m.group(1) or m.group(2)) if m else None


def _scan_covered(name: str, scanning: list[LDict]) -> bool:
    for config in scanning:
        conf = config.get("scanningConfiguration")
        if not isinstance(conf, dict):
            continue
        rules = conf.get("rules")
        for rule in rules if isinstance(rules, list) else []:
            if not isinstance(rule, dict):
                continue
            if rule.get("scanFrequency") not in ("SCAN_ON_PUSH", "CONTINUOUS_SCAN"):
                continue
            filters = rule.get("repositoryFilters")
            for flt in filters if isinstance(filters, list) else []:
                if isinstance(flt, dict) and fnmatch.fnmatchcase(name, str(flt.get("filter", ""))):
                    return True
    return False


def _policy_findings(repo: Repo, ctx: Context) -> None:
    assert repo.policy is not None
    checks = load_checks(NAME)
    text, path, line = repo.policy
    try:
        policy = orjson.loads(text)
    except orjson.JSONDecodeError:
        ctx.warn(f"{path}: policyText of {repo.name} is not valid JSON; policy not checked")
        return
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements or []:
        if not isinstance(st, dict) or st.get("Effect") != "Allow":
            continue
        sid = st.get("Sid") or "(no Sid)"
        actions = _actions(st)
        pulls = _grants(actions, PULL_ACTIONS)
        writes = _grants(actions, WRITE_ACTIONS)
        conditioned = bool(st.get("Condition"))
        for principal in _principals(st):
            if principal == "*":
                if not conditioned and (pulls or writes):
                    ctx.report(checks["SW-ECR-005"], repo.resource(), path, line,
                               f"statement {sid}: Principal * may {', '.join(pulls + writes)}",
                               suppress=repo.tags)
                continue
            account = _account(principal)
            if account is None or account == repo.registry or account in ctx.policy.trusted_accounts:
                continue
            if writes:
                ctx.report(checks["SW-ECR-007"], repo.resource(), path, line,
                           f"statement {sid}: account {account} may {', '.join(writes)}", suppress=repo.tags)
            elif pulls and not conditioned:
                ctx.report(checks["SW-ECR-006"], repo.resource(), path, line,
                           f"statement {sid}: account {account} may pull without conditions",
                           suppress=repo.tags)


def audit(docs: list[Document], ctx: Context, lifecycle_known: bool = False) -> None:
    checks = load_checks(NAME)
    repos: dict[str, Repo] = {}
    scanning: list[LDict] = []

    def repo_for(name: str, registry: Any) -> Repo:
        repo = repos.get(name)
        if repo is None:
            repo = repos[name] = Repo(name=name)
        if registry and not repo.registry:
            repo.registry = str(registry)
        return repo

    for doc in docs:
        data = doc.data
        kind = _kind(data)
        assert isinstance(data, LDict)
        if kind in ("repositories", "repository"):
            items = data["repositories"] if kind == "repositories" else [data["repository"]]
            for item in items:
                if not isinstance(item, LDict) or not isinstance(item.get("repositoryName"), str):
                    continue
                arn = str(item.get("repositoryArn") or "") or None
                registry = item.get("registryId") or (
                    arn.split(":")[4] if arn and arn.count(":") >= 5 else None)
                repo = repo_for(str(item["repositoryName"]), registry)
                repo.arn, repo.data, repo.path = arn, item, doc.path
        elif kind == "policy":
            repo = repo_for(str(data["repositoryName"]), data.get("registryId"))
            repo.policy = (str(data["policyText"]), doc.path, data.ln("policyText"))
        elif kind == "lifecycle":
            repo_for(str(data["repositoryName"]), data.get("registryId")).lifecycle = True
            lifecycle_known = True
        elif kind == "scanning":
            scanning.append(data)

    for repo in repos.values():
        if repo.policy is not None:
            _policy_findings(repo, ctx)
        item = repo.data
        if item is None or repo.path is None:
            continue
        path = repo.path
        scan = item.get("imageScanningConfiguration")
        if not (isinstance(scan, dict) and scan.get("scanOnPush") is True) and not _scan_covered(repo.name,
                                                                                                 scanning):
            line = scan.ln("scanOnPush") if isinstance(scan, LDict) and "scanOnPush" in scan else item.line
            ctx.report(checks["SW-ECR-001"], repo.resource(), path, line,
                       "imageScanningConfiguration.scanOnPush: false and no registry scanning rule covers it",
                       suppress=repo.tags)
        if item.get("imageTagMutability", "MUTABLE") not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
            ctx.report(checks["SW-ECR-002"], repo.resource(), path, item.ln("imageTagMutability"),
                       f"imageTagMutability: {item.get('imageTagMutability', 'MUTABLE')}", suppress=repo.tags)
        enc = item.get("encryptionConfiguration")
        etype = enc.get("encryptionType") if isinstance(enc, dict) else "AES256"
        if not str(etype).startswith("KMS"):
            line = enc.ln("encryptionType") if isinstance(enc, LDict) else item.line
            ctx.report(checks["SW-ECR-004"], repo.resource(), path, line, f"encryptionType: {etype}",
                       suppress=repo.tags)
        if lifecycle_known and not repo.lifecycle:
            ctx.report(checks["SW-ECR-003"], repo.resource(), path, item.ln("repositoryName"),
                       "no lifecycle policy", suppress=repo.tags)


def run(docs: list[Document], ctx: Context) -> None:
    audit(docs, ctx, lifecycle_known=any(d.fmt == "aws" for d in docs))
