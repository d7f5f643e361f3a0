"""Who an AWS resource policy lets in, evaluated rather than pattern-matched.

`grants(policy_text, own_account)` reads the Allow statements of a resource policy (an ECR
repository or registry policy, as CloudTrail records it in `requestParameters.policyText`) and
says whether it is public, and which other accounts and Organizations it admits. A wildcard
principal (`"*"`, `{"AWS": "*"}`) is public unless a condition limits who can use it:
`aws:PrincipalOrgID` / `aws:PrincipalOrgPaths` (that Organization), `aws:PrincipalAccount`,
`aws:SourceAccount`, `aws:PrincipalArn` (those accounts), `aws:SourceVpce` / `aws:SourceVpc`
(requests through that endpoint or VPC only). `...IfExists` operators and negated operators
(`StringNotEquals`) do not limit: a principal without the key, or any other value, passes them.
Service principals (`"Service": "..."`) are AWS services acting for the account, not grantees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

_ACCOUNT = re.compile(r"^\d{12}$")
_ARN_ACCOUNT = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:(\d{12}):")
_ORG_PATH = re.compile(r"^(o-[a-z0-9]{10,32})/")
# condition operators that limit a key to the values given (not IfExists, not negated)
_LIMITING = re.compile(
    r"^(?:forallvalues:|foranyvalue:)?(?:stringequals|stringequalsignorecase|stringlike|arnequals|arnlike)$"
)


@dataclass(slots=True)
class Grants:
    public: bool = False
    accounts: list[str] = field(default_factory=list)  # other accounts admitted
    org_ids: list[str] = field(default_factory=list)  # Organizations admitted as a whole
    endpoints: list[str] = field(default_factory=list)  # VPC endpoints / VPCs a wildcard is limited to
    unreadable: bool = False  # the text is not a policy document

    def grantees(self) -> list[str]:
        """Accounts and `org:<id>` Organizations, for allowlists over both at once."""
        return sorted(set(self.accounts)) + [f"org:{o}" for o in sorted(set(self.org_ids))]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _account_of(principal: str) -> str | None:
    if _ACCOUNT.match(principal):
        return principal
    m = _ARN_ACCOUNT.match(principal)
    return m.group(1) if m else None


def _limits(condition: Any) -> dict[str, list[str]]:
    """Condition keys (lower case) that restrict the request to listed values."""
    out: dict[str, list[str]] = {}
    if not isinstance(condition, dict):
        return out
    for operator, block in condition.items():
        if (
            not isinstance(operator, str)
            or not _LIMITING.match(operator.lower())
            or not isinstance(block, dict)
        ):
            continue
        for key, values in block.items():
            if isinstance(key, str):
                out.setdefault(key.lower(), []).extend(
                    str(v) for v in _as_list(values) if isinstance(v, str | int)
                )
    return out


def grants(policy_text: str | None, own_account: str | None) -> Grants:
    out = Grants()
    if not policy_text:
        return out
    try:
        doc = orjson.loads(policy_text)
    except orjson.JSONDecodeError:
        out.unreadable = True
        return out
    if not isinstance(doc, dict):
        out.unreadable = True
        return out
    accounts: set[str] = set()
    for stmt in _as_list(doc.get("Statement")):
        if not isinstance(stmt, dict) or str(stmt.get("Effect", "")).lower() != "allow":
            continue
        if "NotPrincipal" in stmt:  # Allow + NotPrincipal: everyone but the named ones
            out.public = True
            continue
        principal = stmt.get("Principal")
        aws: list[Any] = []
        if principal == "*":
            aws = ["*"]
        elif isinstance(principal, dict):
            aws = _as_list(principal.get("AWS"))
        names = [str(p) for p in aws if isinstance(p, str)]
        if not names:
            continue  # service or federated principals only
        limits = _limits(stmt.get("Condition"))
        org_ids = limits.get("aws:principalorgid", []) + [
            m.group(1) for p in limits.get("aws:principalorgpaths", []) if (m := _ORG_PATH.match(p))
        ]
        limited_accounts = [
            a
            for key in ("aws:principalaccount", "aws:sourceaccount")
            for a in limits.get(key, [])
            if _ACCOUNT.match(a)
        ] + [a for arn in limits.get("aws:principalarn", []) if (a := _account_of(arn)) is not None]
        endpoints = limits.get("aws:sourcevpce", []) + limits.get("aws:sourcevpc", [])
        for name in names:
            if name == "*":
                if limited_accounts:
                    accounts.update(limited_accounts)
                elif org_ids:
                    out.org_ids.extend(org_ids)
                elif endpoints:
                    out.endpoints.extend(endpoints)
                else:
                    out.public = True
                continue
            account = _account_of(name)
            if account is not None:
                accounts.add(account)
    accounts.discard(own_account or "")
    out.accounts = sorted(accounts)
    out.org_ids = sorted(set(out.org_ids))
    out.endpoints = sorted(set(out.endpoints))
    return out
