"""Findings as AWS Security Finding Format (ASFF) through Security Hub's BatchImportFindings.

    asff = to_asff(finding, Context(region, account), incident_state="acknowledged", now=...)
    for batch in batches(items):                      # <= 100 findings and <= 6 MB per request
        ok, failed = import_batch(client, batch, limiter)   # <= 10 requests/s (burst 30)

One seawall finding is one ASFF finding whose `Id` is stable (`seawall/<finding id>`), so that
sending it again updates it instead of adding one. Its incident's state is carried as
`Workflow.Status` (open NEW, acknowledged NOTIFIED, resolved RESOLVED, false positive SUPPRESSED)
and `RecordState` (ARCHIVED once resolved or a false positive). A finding over 240 KB is cut
(evidence, then the description) to fit; one that still does not fit is skipped with a reason.
Evidence is attacker text: it is shown redacted (`seawall.secrets.redact_text`) and capped.

Resources are typed as Security Hub expects: `AwsEcrContainerImage` (an ECR image, by its ARN-like
id with the digest), `Container` (another image or a running container), `AwsEcsTask`,
`AwsEcsService`, `AwsEcsCluster`, `AwsEcsTaskDefinition`, `AwsEksCluster`, `AwsEcrRepository`,
and `Other` for Kubernetes objects (with the EKS cluster beside them when configured).
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from seawall.core.text import printable

SCHEMA_VERSION = "2018-10-08"
MAX_PER_CALL = 100
MAX_FINDING_BYTES = 240 * 1024
MAX_REQUEST_BYTES = 6 * 1024 * 1024
RATE_PER_SECOND = 10.0  # BatchImportFindings: 10 requests per second, burst 30
BURST = 30
TITLE_CHARS = 256
DESCRIPTION_CHARS = 1024

SEVERITY = {
    "critical": ("CRITICAL", 90),
    "high": ("HIGH", 70),
    "medium": ("MEDIUM", 40),
    "low": ("LOW", 1),
    "info": ("INFORMATIONAL", 0),
    "unknown": ("INFORMATIONAL", 0),
}
WORKFLOW = {"open": "NEW", "acknowledged": "NOTIFIED", "resolved": "RESOLVED", "false_positive": "SUPPRESSED"}
# ATT&CK tactics -> the TTPs category of the ASFF types taxonomy
TTPS = {
    "initial-access": "Initial Access",
    "execution": "Execution",
    "persistence": "Persistence",
    "privilege-escalation": "Privilege Escalation",
    "defense-evasion": "Defense Evasion",
    "credential-access": "Credential Access",
    "discovery": "Discovery",
    "lateral-movement": "Lateral Movement",
    "collection": "Collection",
    "command-and-control": "Command and Control",
}
_ECR = re.compile(
    r"^(?P<acct>\d{12})\.dkr\.ecr(-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/(?P<repo>[^:@]+)"
)


@dataclass(frozen=True, slots=True)
class Context:
    region: str
    account: str
    partition: str = "aws"
    eks_cluster: str | None = None  # the cluster Kubernetes findings come from (name)
    console_url: str = ""

    @property
    def product_arn(self) -> str:
        return f"arn:{self.partition}:securityhub:{self.region}:{self.account}:product/{self.account}/default"


def _iso(text: str | None, fallback: str) -> str:
    value = (text or fallback).replace("+00:00", "Z")
    if value.endswith("Z") and "." in value:  # ASFF takes fractional seconds up to milliseconds
        head, frac = value[:-1].split(".", 1)
        value = f"{head}.{frac[:3]}Z"
    return value


def _text(value: Any, cap: int) -> str:
    return printable(str(value or "")).strip()[:cap]


@functools.lru_cache(maxsize=1)
def _scanner() -> Any:
    from seawall.secrets import SecretScanner

    return SecretScanner()


def _redacted(text: str, cap: int) -> str:
    from seawall.secrets import redact_text

    if not text:
        return ""
    return _text(redact_text(printable(text[: cap * 4]), _scanner()), cap)


def _image_resource(ref: str, digest: str | None, ctx: Context) -> dict[str, Any]:
    m = _ECR.match(ref)
    name = ref.split("@", 1)[0]
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else None
    if m:
        repo = m.group("repo")
        region = m.group("region")
        ident = f"arn:{ctx.partition}:ecr:{region}:{m.group('acct')}:repository/{repo}"
        if digest:
            ident += f"/{digest}"
        details: dict[str, Any] = {"RegistryId": m.group("acct"), "RepositoryName": repo}
        if digest:
            details["ImageDigest"] = digest
        if tag:
            details["ImageTags"] = [tag]
        return {
            "Type": "AwsEcrContainerImage",
            "Id": ident[:512],
            "Partition": ctx.partition,
            "Region": region,
            "Details": {"AwsEcrContainerImage": details},
        }
    details = {"ImageName": _text(ref, 512)}
    if digest:
        details["ImageId"] = digest
    return {
        "Type": "Container",
        "Id": _text(f"{ref.split('@', 1)[0]}@{digest}" if digest else ref, 512),
        "Partition": ctx.partition,
        "Region": ctx.region,
        "Details": {"Container": details},
    }


def _arn(service: str, resource: str, ctx: Context) -> str:
    return f"arn:{ctx.partition}:{service}:{ctx.region}:{ctx.account}:{resource}"


# AWS resources named by the finding: resource type -> (ASFF type, ARN service, ARN path, the
# details field holding the name, its length limit in ASFF)
_NAMED_AWS: dict[str, tuple[str, str, str, str, int]] = {
    **dict.fromkeys(("ecs:service", "AWS::ECS::Service"),
                    ("AwsEcsService", "ecs", "service/{ns}/{name}", "Name", 255)),
    **dict.fromkeys(("ecs:cluster", "AWS::ECS::Cluster"),
                    ("AwsEcsCluster", "ecs", "cluster/{name}", "ClusterName", 255)),
    "AWS::ECS::TaskDefinition": ("AwsEcsTaskDefinition", "ecs", "task-definition/{name}", "Family", 255),
    **dict.fromkeys(("AWS::EKS::Cluster", "eks:cluster"),
                    ("AwsEksCluster", "eks", "cluster/{name}", "Name", 100)),
    **dict.fromkeys(("AWS::ECR::Repository", "ecr:repository"),
                    ("AwsEcrRepository", "ecr", "repository/{name}", "RepositoryName", 255)),
}


def resources(f: dict[str, Any], ctx: Context) -> list[dict[str, Any]]:
    """The ASFF Resources of a finding (report contract shape)."""
    res = f.get("resource") or {}
    rtype, name, ns = str(res.get("type") or ""), str(res.get("name") or ""), res.get("namespace")
    arn = res.get("arn")
    extra = f.get("extra") or {}

    def aws(kind: str, ident: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Type": kind,
            "Id": _text(ident, 512),
            "Partition": ctx.partition,
            "Region": ctx.region,
        }
        if details:
            out["Details"] = details
        return out

    out: list[dict[str, Any]] = []
    if rtype == "container-image":
        out.append(
            _image_resource(name, (f.get("location") or {}).get("digest") or extra.get("image_digest"), ctx)
        )
    elif rtype in ("ecs:task", "ecs:Task"):
        task_arn = arn or _arn("ecs", f"task/{ns or 'default'}/{name}", ctx)
        cluster_arn = _arn("ecs", f"cluster/{ns}", ctx) if ns else None
        details = {"AwsEcsTask": {"ClusterArn": cluster_arn}} if cluster_arn else None
        out.append(aws("AwsEcsTask", task_arn, details))
    elif rtype in _NAMED_AWS:
        asff_type, service, path, field, limit = _NAMED_AWS[rtype]
        value = name.split(":")[0] if asff_type == "AwsEcsTaskDefinition" else name
        out.append(aws(asff_type, arn or _arn(service, path.format(ns=ns or "default", name=name), ctx),
                       {asff_type: {field: _text(value, limit)}}))
    elif rtype.startswith("ecs:"):
        out.append(aws("Other", arn or f"ecs:{ns or '-'}/{rtype[4:]}/{name}"))
    elif rtype == "container":
        details = {"Container": {"Name": _text(name, 255)}}
        if extra.get("image"):
            details["Container"]["ImageName"] = _text(extra["image"], 512)
        if extra.get("image_digest"):
            details["Container"]["ImageId"] = _text(extra["image_digest"], 255)
        out.append(aws("Container", arn or str(res.get("workload") or f"container/{name}"), details))
    elif rtype.startswith("k8s:") or rtype[:1].isupper():
        kind = rtype[4:] if rtype.startswith("k8s:") else rtype
        ident = f"k8s:{ctx.eks_cluster or 'cluster'}/{ns or '-'}/{kind}/{name}"
        out.append(
            aws(
                "Other",
                ident,
                {
                    "Other": {
                        "kind": _text(kind, 128),
                        "namespace": _text(ns or "-", 128),
                        "name": _text(name, 256),
                    }
                },
            )
        )
    else:
        out.append(aws("Other", arn or f"{rtype or 'resource'}:{ns or '-'}/{name}"))
    if ctx.eks_cluster and (
        rtype.startswith("k8s:") or (rtype[:1].isupper() and not rtype.startswith("AWS::"))
    ):
        out.append(
            aws(
                "AwsEksCluster",
                _arn("eks", f"cluster/{ctx.eks_cluster}", ctx),
                {"AwsEksCluster": {"Name": ctx.eks_cluster}},
            )
        )
    if extra.get("image") and rtype != "container-image" and rtype != "container":
        out.append(_image_resource(str(extra["image"]), extra.get("image_digest"), ctx))
    return out[:32]


def types_of(f: dict[str, Any]) -> list[str]:
    kind = f.get("kind")
    if kind == "vulnerability":
        return ["Software and Configuration Checks/Vulnerabilities/CVE"]
    if kind == "misconfiguration":
        return ["Software and Configuration Checks/Industry and Regulatory Standards"]
    if kind == "secret":
        return ["Sensitive Data Identifications/Passwords"]
    if kind == "exposure":
        return ["Effects/Data Exposure"]
    from seawall.service.incidents import tactics_of

    ttps = [f"TTPs/{TTPS[t]}" for t in tactics_of(list(f.get("attack") or [])) if t in TTPS]
    return (ttps or ["Unusual Behaviors/Process"])[:50]


def _vulnerabilities(f: dict[str, Any]) -> list[dict[str, Any]] | None:
    v, p = f.get("vulnerability"), f.get("package")
    if not v:
        return None
    aliases = [a for a in v.get("aliases") or [] if a.startswith("CVE-")]
    out: dict[str, Any] = {"Id": _text(aliases[0] if aliases else v.get("id"), 512)}
    if p:
        pkg: dict[str, Any] = {
            "Name": _text(p.get("name"), 512),
            "Version": _text(p.get("version"), 512),
            "PackageManager": _text(p.get("ecosystem"), 512),
        }
        if v.get("fixed_versions"):
            pkg["FixedInVersion"] = _text(", ".join(v["fixed_versions"]), 512)
        out["VulnerablePackages"] = [pkg]
    cvss = v.get("cvss") or {}
    if cvss.get("score") is not None:
        vector = str(cvss.get("vector") or "")
        version = (
            "3.1" if vector.startswith("CVSS:3.1") else "3.0" if vector.startswith("CVSS:3.0") else "2.0"
        )
        out["Cvss"] = [
            {"Version": version, "BaseScore": float(cvss["score"]), "BaseVector": _text(vector, 512)}
        ]
    refs = [r for r in f.get("references") or [] if str(r).startswith("https://")]
    if refs:
        out["ReferenceUrls"] = [_text(r, 512) for r in refs[:20]]
    out["FixAvailable"] = "YES" if v.get("fixed_versions") else "NO"
    return [out]


def to_asff(f: dict[str, Any], ctx: Context, incident_state: str | None, now: str) -> dict[str, Any]:
    """One finding (the API's shape: report contract + count, first_seen, last_seen, workload)."""
    label, normalized = SEVERITY.get(str(f.get("severity")), ("INFORMATIONAL", 0))
    title = _text(f.get("title"), TITLE_CHARS) or _text(f.get("rule"), TITLE_CHARS) or "seawall finding"
    evidence = _redacted(str(f.get("evidence") or ""), 700)
    desc_parts = [title]
    if f.get("count") and int(f["count"]) > 1:
        desc_parts.append(f"seen {f['count']} times")
    if evidence:
        desc_parts.append(f"evidence: {evidence}")
    description = _text(". ".join(desc_parts), DESCRIPTION_CHARS)
    first = _iso(f.get("first_seen"), now)
    last = _iso(f.get("last_seen"), first)
    state = incident_state or ("suppressed" if f.get("suppressed") else None)
    workflow = WORKFLOW.get(state or "open", "NEW") if state != "suppressed" else "SUPPRESSED"
    archived = state in ("resolved", "false_positive")
    out: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": f"seawall/{f['id']}",
        "ProductArn": ctx.product_arn,
        "ProductName": "seawall",
        "CompanyName": "seawall",
        "GeneratorId": _text(f"seawall/{f.get('kind')}/{f.get('rule')}", 512),
        "AwsAccountId": ctx.account,
        "Region": ctx.region,
        "Types": types_of(f),
        "FirstObservedAt": first,
        "LastObservedAt": last,
        "CreatedAt": first,
        "UpdatedAt": _iso(now, now),
        "Severity": {"Label": label, "Normalized": normalized, "Original": _text(f.get("severity"), 64)},
        "Title": title,
        "Description": description,
        "Resources": resources(f, ctx),
        "RecordState": "ARCHIVED" if archived else "ACTIVE",
        "Workflow": {"Status": workflow},
        "ProductFields": {
            k: v
            for k, v in {
                "seawall/kind": _text(f.get("kind"), 64),
                "seawall/rule": _text(f.get("rule"), 255),
                "seawall/workload": _text(f.get("workload"), 512),
                "seawall/count": str(f.get("count") or 1),
                "seawall/source": _text(f.get("source"), 64),
                "seawall/incident": str(f.get("incident_id") or ""),
                "seawall/attack": _text(",".join(f.get("attack") or []), 512),
            }.items()
            if v
        },
    }
    if f.get("remediation"):
        rec: dict[str, Any] = {"Text": _text(f["remediation"], 512)}
        url = next((r for r in f.get("references") or [] if str(r).startswith("https://")), None)
        if url:
            rec["Url"] = _text(url, 512)
        out["Remediation"] = {"Recommendation": rec}
    vulns = _vulnerabilities(f)
    if vulns:
        out["Vulnerabilities"] = vulns
    if ctx.console_url:
        out["SourceUrl"] = (
            f"{ctx.console_url}/incidents/{f['incident_id']}"
            if f.get("incident_id")
            else f"{ctx.console_url}/findings/{f['id']}"
        )
    return out


def size_of(asff: dict[str, Any]) -> int:
    return len(orjson.dumps(asff))


def fit(asff: dict[str, Any]) -> dict[str, Any] | None:
    """The finding cut to <= 240 KB (resource details, product fields, then vulnerabilities), or None."""
    if size_of(asff) <= MAX_FINDING_BYTES:
        return asff
    out = dict(asff)
    out["Resources"] = [{k: v for k, v in r.items() if k != "Details"} for r in out["Resources"]]
    for key in ("ProductFields", "Vulnerabilities", "Remediation"):
        if size_of(out) <= MAX_FINDING_BYTES:
            break
        out.pop(key, None)
    return out if size_of(out) <= MAX_FINDING_BYTES else None


def fingerprint(asff: dict[str, Any]) -> str:
    """What decides that a finding must be sent again (everything but UpdatedAt)."""
    body = {k: v for k, v in asff.items() if k != "UpdatedAt"}
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def batches(items: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Requests of at most 100 findings and 6 MB (JSON, with room for the envelope)."""
    batch: list[dict[str, Any]] = []
    size = 32
    for item in items:
        n = size_of(item) + 1
        if batch and (len(batch) >= MAX_PER_CALL or size + n > MAX_REQUEST_BYTES - 1024):
            yield batch
            batch, size = [], 32
        batch.append(item)
        size += n
    if batch:
        yield batch


class RateLimiter:
    """A token bucket: `rate` calls per second, `burst` at once."""

    def __init__(self, rate: float = RATE_PER_SECOND, burst: int = BURST) -> None:
        self.rate = rate
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.at = time.monotonic()
        self.lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens < 1.0:
                pause = (1.0 - self.tokens) / self.rate
                time.sleep(pause)
                self.waited += pause
                self.tokens = 1.0
                self.at = time.monotonic()
            self.tokens -= 1.0


def import_batch(
    client: Any, batch: list[dict[str, Any]], limiter: RateLimiter
) -> tuple[list[str], list[dict[str, Any]]]:
    """BatchImportFindings of one batch: (ids imported, failures as {Id, ErrorCode, ErrorMessage})."""
    limiter.acquire()
    resp = client.batch_import_findings(Findings=batch)
    failed = list(resp.get("FailedFindings") or [])
    bad = {x.get("Id") for x in failed}
    return [f["Id"] for f in batch if f["Id"] not in bad], failed


# -- the ASFF JSON schema, from botocore's model of the API ---------------------------------------
@functools.lru_cache(maxsize=1)
def asff_schema() -> dict[str, Any]:
    """A JSON Schema of `AwsSecurityFinding` generated from botocore's Security Hub service model
    (the API's own definition: required members, types, enums, string lengths), plus the length
    limits AWS documents for ASFF (Title 256, Description 1024, Id 512)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("securityhub")
    defs: dict[str, Any] = {}

    def walk(shape: Any) -> dict[str, Any]:
        name = shape.name
        if shape.type_name == "structure":
            if name not in defs:
                defs[name] = {}  # placeholder for recursive shapes
                props = {k: walk(v) for k, v in shape.members.items()}
                defs[name] = {
                    "type": "object",
                    "properties": props,
                    "required": list(shape.required_members),
                    "additionalProperties": False,
                }
            return {"$ref": f"#/$defs/{name}"}
        if shape.type_name == "list":
            return {"type": "array", "items": walk(shape.member)}
        if shape.type_name == "map":
            return {"type": "object", "additionalProperties": walk(shape.value)}
        if shape.type_name == "string":
            out: dict[str, Any] = {"type": "string"}
            if shape.enum:
                out["enum"] = list(shape.enum)
            if "min" in shape.metadata:
                out["minLength"] = shape.metadata["min"]
            if "max" in shape.metadata:
                out["maxLength"] = shape.metadata["max"]
            return out
        if shape.type_name in ("integer", "long"):
            return {"type": "integer"}
        if shape.type_name in ("double", "float"):
            return {"type": "number"}
        if shape.type_name == "boolean":
            return {"type": "boolean"}
        return {}

    root = walk(model.shape_for("AwsSecurityFinding"))
    top = defs["AwsSecurityFinding"]["properties"]
    top["Title"] = {**top["Title"], "maxLength": TITLE_CHARS}
    top["Description"] = {**top["Description"], "maxLength": DESCRIPTION_CHARS}
    top["Id"] = {**top["Id"], "maxLength": 512}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **root, "$defs": defs}


def validate(asff: dict[str, Any]) -> list[str]:
    """Schema errors of one ASFF finding (empty when valid), plus the 240 KB limit."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(asff_schema())
    errors = [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"[:300] for e in validator.iter_errors(asff)
    ]
    if size_of(asff) > MAX_FINDING_BYTES:
        errors.append(f"finding is {size_of(asff)} bytes, over {MAX_FINDING_BYTES}")
    return errors
