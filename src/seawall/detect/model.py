"""A detection rule after loading: metadata plus the parsed condition(s), source-independent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from seawall.core import Severity

if TYPE_CHECKING:
    from seawall.detect.context import AllowEntry, Context

RULE_KINDS = ("match", "threshold", "sequence", "first_seen")


@dataclass(slots=True)
class Threshold:
    count: int
    window: float  # seconds
    by: list[str]


@dataclass(slots=True)
class Sequence:
    within: float  # seconds from the first step to the last
    by: list[str]


@dataclass(slots=True)
class FirstSeen:
    key: list[str]
    learn: float  # seconds of learning (no findings) when a rule first sees a scope
    scope: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Aggregate:
    """How a rule's matches group into findings when the workload is not the point: by these
    fields only (e.g. the actor), within this window (None: the run's --window)."""

    by: list[str]
    window: float | None = None


@dataclass(slots=True)
class Rule:
    id: str
    title: str
    severity: Severity
    sources: list[str]
    conditions: list[Any]  # pySigma condition trees; one per sequence step
    kind: str = "match"
    attack: list[str] = field(default_factory=list)
    description: str = ""
    remediation: str | None = None
    references: list[str] = field(default_factory=list)
    origin: str = "builtin"  # builtin | sigma | a file path
    path: str | None = None
    threshold: Threshold | None = None
    sequence: Sequence | None = None
    first_seen: FirstSeen | None = None
    dedupe_by: list[str] = field(default_factory=list)
    aggregate: Aggregate | None = None
    falco: list[str] = field(default_factory=list)  # Falco k8s audit rules this one covers
    tests: dict[str, Any] = field(default_factory=dict)
    status: str | None = None
    enabled: bool = True
    filters: list[str] = field(default_factory=list)  # Sigma filters applied (title and file)
    allow: list[AllowEntry] = field(default_factory=list)  # allowlist entries naming this rule (resolved)


@dataclass(slots=True)
class RuleProblem:
    """A rule that did not load, or loaded but cannot run on any source: never silent."""

    path: str
    rule_id: str | None
    title: str | None
    reason: str
    category: str  # parse-error | unsupported | no-source


@dataclass(slots=True)
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    files: int = 0
    context: Context | None = None  # allowlists, value lists, organisation (seawall.detect.context)
