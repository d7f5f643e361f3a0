"""The posture contract: check metadata (data, from YAML), the module interface, the run context.

A target module (kubernetes, ecs, eks, ecr, dockerfile, dockerhost ...) is a small module with
    NAME: str                       # its checks file is `checks/<NAME>.yaml`
    def accepts(doc: Document) -> bool
    def run(docs: list[Document], ctx: Context) -> None     # calls ctx.report(...)
and, when it can judge documents as they are read, a streaming form
    def open_stream(ctx: Context) -> ModuleStream           # feed(doc) ... finish()
(a module without one is fed through `Buffered`, which keeps its documents for `run`). Modules
are registered in `posture.registry.MODULES`. Predicates live in the module; what a finding says
(title, severity, rationale, remediation, references) lives in the YAML beside it.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import yaml

from seawall.core import Finding, FindingKind, Location, Resource, Severity, Skip
from seawall.core.errors import InputError
from seawall.posture.loader import Document, LDict


@dataclass(frozen=True, slots=True)
class Check:
    id: str
    title: str
    severity: Severity
    target: str
    kind: FindingKind = FindingKind.MISCONFIGURATION
    rationale: str = ""
    remediation: str = ""
    references: tuple[str, ...] = ()
    attack: tuple[str, ...] = ()
    # the module's own data for this check (e.g. the flag conditions of a control plane check):
    # every key of the check's YAML entry that is not one of the fields above
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


class TargetModule(Protocol):
    NAME: str

    def accepts(self, doc: Document) -> bool: ...

    def run(self, docs: list[Document], ctx: Context) -> None: ...


class ModuleStream(Protocol):
    """A module fed documents one at a time: what it can judge alone it reports at once; what a
    join needs (Roles for bindings, Services for workloads) it keeps, small, until `finish`."""

    def feed(self, doc: Document) -> None: ...

    def finish(self) -> None: ...


class Buffered:
    """The stream of a module that needs all of its documents at once: kept until `finish`."""

    def __init__(self, module: TargetModule, ctx: Context) -> None:
        self.module = module
        self.ctx = ctx
        self.docs: list[Document] = []

    def feed(self, doc: Document) -> None:
        self.docs.append(doc)

    def finish(self) -> None:
        if self.docs:
            self.module.run(self.docs, self.ctx)
        self.docs = []


def open_stream(module: TargetModule, ctx: Context) -> ModuleStream:
    opener = getattr(module, "open_stream", None)
    stream: ModuleStream = opener(ctx) if opener is not None else Buffered(module, ctx)
    return stream


@cache
def load_checks(name: str) -> dict[str, Check]:
    """Checks of one target module, from `seawall/posture/checks/<name>.yaml`, through the one check
    spec loader (`seawall.checks`: severity, kind, ATT&CK ids and every reference validated against
    the published lists). Keys the spec does not know (a module's predicate data) are `params`."""
    from seawall.checks import specs_from_list

    text = resources.files("seawall.posture").joinpath("checks", f"{name}.yaml").read_text("utf-8")
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}  # noqa: S506
    checks: dict[str, Check] = {}
    for spec in specs_from_list(raw.get("checks", []), f"posture/checks/{name}.yaml",
                                require_remediation=True):
        checks[spec.id] = Check(
            id=spec.id, title=spec.title, severity=spec.severity, target=name, kind=spec.kind,
            rationale=spec.description, remediation=spec.remediation, references=spec.references,
            attack=spec.attack, params=dict(spec.extra))
    return checks


# --------------------------------------------------------------------------- policy


@dataclass(slots=True)
class Exception_:
    check: str
    resource: str = "*"
    path: str = "*"
    expires: date | None = None
    reason: str = ""


@dataclass(slots=True)
class Policy:
    """`--policy FILE`: skip checks, change severities, exceptions with expiry, options."""

    skip: set[str] = field(default_factory=set)
    severity: dict[str, Severity] = field(default_factory=dict)
    exceptions: list[Exception_] = field(default_factory=list)
    allowed_registries: list[str] = field(default_factory=list)
    eks_oldest_supported_version: str | None = None
    trusted_accounts: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path) -> Policy:
        try:
            raw = yaml.safe_load(path.read_text("utf-8"))
        except OSError as exc:
            raise InputError(f"cannot read policy {path}: {exc.strerror or exc}") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise InputError(f"policy {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        return cls.from_dict(raw or {}, str(path))

    @classmethod
    def from_dict(cls, raw: Any, where: str = "policy") -> Policy:
        if not isinstance(raw, dict):
            raise InputError(f"{where}: expected a mapping at the top level")
        known = {"skip", "severity", "exceptions", "allowed_registries",
                 "eks_oldest_supported_version", "trusted_accounts"}
        unknown = set(raw) - known
        if unknown:
            raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                             f"expected {', '.join(sorted(known))}")
        policy = cls()
        policy.skip = {str(x) for x in raw.get("skip") or []}
        for check_id, sev in (raw.get("severity") or {}).items():
            parsed = Severity.parse(str(sev))
            if parsed is Severity.UNKNOWN:
                raise InputError(f"{where}: unknown severity {sev!r} for {check_id}")
            policy.severity[str(check_id)] = parsed
        for item in raw.get("exceptions") or []:
            if not isinstance(item, dict) or "check" not in item:
                raise InputError(f"{where}: each exception needs at least `check`")
            expires = item.get("expires")
            if isinstance(expires, str):
                try:
                    expires = date.fromisoformat(expires)
                except ValueError:
                    raise InputError(f"{where}: bad expires date {expires!r}") from None
            policy.exceptions.append(Exception_(
                check=str(item["check"]), resource=str(item.get("resource", "*")),
                path=str(item.get("path", "*")), expires=expires, reason=str(item.get("reason", ""))))
        policy.allowed_registries = [str(x).rstrip("/") for x in raw.get("allowed_registries") or []]
        if raw.get("eks_oldest_supported_version") is not None:
            policy.eks_oldest_supported_version = str(raw["eks_oldest_supported_version"])
        policy.trusted_accounts = {str(x) for x in raw.get("trusted_accounts") or []}
        return policy


# --------------------------------------------------------------------------- context

IGNORE_ANNOTATION = "seawall.io/ignore"


def ignored_ids(*metas: Any) -> set[str]:
    """Check ids listed in `seawall.io/ignore` annotations (comma or space separated)."""
    out: set[str] = set()
    for meta in metas:
        if not isinstance(meta, dict):
            continue
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            value = annotations.get(IGNORE_ANNOTATION)
            if isinstance(value, str):
                out.update(x for x in re.split(r"[,\s]+", value) if x)
    return out


def resource_key(resource: Resource) -> str:
    parts = [resource.type]
    if resource.namespace:
        parts.append(resource.namespace)
    parts.append(resource.name)
    return "/".join(parts)


@dataclass(slots=True)
class Context:
    """What a module reports into; applies policy, suppressions and severity overrides."""

    policy: Policy = field(default_factory=Policy)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    suppressed: int = 0
    today: date = field(default_factory=date.today)
    only: set[str] | None = None

    def report(self, check: Check, resource: Resource, path: str | None, line: int | None,
               evidence: str | None = None, suppress: set[str] | None = None,
               extra: dict[str, Any] | None = None, severity: Severity | None = None) -> None:
        if check.id in self.policy.skip or (self.only is not None and check.id not in self.only):
            return
        if suppress and (check.id in suppress or "all" in suppress):
            self.suppressed += 1
            return
        for exc in self.policy.exceptions:
            if exc.check not in (check.id, "*"):
                continue
            if exc.expires is not None and exc.expires < self.today:
                continue
            if fnmatch.fnmatchcase(resource_key(resource), exc.resource) and \
                    fnmatch.fnmatchcase(path or "", exc.path):
                self.suppressed += 1
                return
        sev = self.policy.severity.get(check.id, severity or check.severity)
        self.findings.append(Finding(
            kind=check.kind, rule=check.id, title=check.title, severity=sev, resource=resource,
            location=Location(path=path, line=line or None), evidence=evidence,
            remediation=check.remediation or None, references=list(check.references),
            attack=list(check.attack), extra=extra or {}))

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def skip(self, subject: str, reason: str, count: int = 1, category: str = "skipped") -> None:
        """Something not analyzed, and why: a value on the report that ends as a warning."""
        self.skips.append(Skip(subject=subject, reason=reason, count=count, category=category))


def meta_of(data: Any) -> LDict | dict[str, Any]:
    meta = data.get("metadata") if isinstance(data, dict) else None
    return meta if isinstance(meta, dict) else {}
