"""One check/rule spec for every analyzer: posture checks, image checks, secret rules, network
detectors and detection rules all describe what a finding says the same way.

    spec = spec_from_mapping(raw, origin="posture/checks/ecs.yaml")
    spec.id, spec.title, spec.severity, spec.description, spec.remediation,
    spec.references, spec.attack

`spec_from_mapping` is the one loader of that metadata (a YAML mapping per check, whatever file
it sits in); it validates the severity, the ATT&CK ids and every reference against the published
id lists shipped in `references/` (Kubescape controls, Checkov checks, AWS Security Hub controls
with the retired ones, CIS benchmark sections) and the formats of the others (Pod Security
Standards, Dockle, Hadolint, Trivy, AWS Config rules, URLs). A bad reference is an error at load
time, so that the copies cannot drift (a retired Security Hub control cited in one file but not
another). Logic stays in small predicates beside each analyzer; only what a finding says is here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seawall.checks.references import reference_problem
from seawall.core import FindingKind, Severity
from seawall.core.errors import InputError

ATTACK_ID = re.compile(r"^T\d{4}(\.\d{3})?$")
# the fields every spec has; anything else in the mapping is the analyzer's own (kept in `extra`)
SPEC_FIELDS = ("id", "title", "severity", "kind", "description", "remediation", "references", "attack")
# other names the metadata files have used for the description
DESCRIPTION_ALIASES = ("description", "rationale")


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """What a finding of one check or rule says: the same fields in every analyzer."""

    id: str
    title: str
    severity: Severity
    kind: FindingKind = FindingKind.MISCONFIGURATION
    description: str = ""
    remediation: str = ""
    references: tuple[str, ...] = ()
    attack: tuple[str, ...] = ()
    origin: str = ""  # the file (and entry) the spec was read from, for messages
    extra: Mapping[str, Any] = field(default_factory=dict)  # the analyzer's own fields


def _text(value: Any) -> str:
    return " ".join(str(value or "").split())


def _strings(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise InputError(f"{where}: `{key}` must be a list of strings")
    return tuple(str(v) for v in value)


def spec_from_mapping(raw: Mapping[str, Any], origin: str, *, id: str | None = None,
                      default_kind: FindingKind = FindingKind.MISCONFIGURATION,
                      require_remediation: bool = False) -> CheckSpec:
    """The spec of one check/rule from its metadata mapping (`id` when the file keys by id).

    Raises InputError naming `origin` and the check for a missing title, an unknown severity or
    kind, a malformed ATT&CK id, or a reference that is not in the published lists."""
    if not isinstance(raw, Mapping):
        raise InputError(f"{origin}: a check must be a mapping, not {type(raw).__name__}")
    check_id = str(id if id is not None else raw.get("id") or "").strip()
    if not check_id:
        raise InputError(f"{origin}: a check without an id")
    where = f"{origin}: {check_id}"
    title = _text(raw.get("title"))
    if not title:
        raise InputError(f"{where}: no title")
    severity = Severity.parse(str(raw.get("severity", "")))
    if severity is Severity.UNKNOWN and str(raw.get("severity", "")).strip().lower() != "unknown":
        raise InputError(f"{where}: unknown severity {raw.get('severity')!r}")
    try:
        kind = FindingKind(raw["kind"]) if raw.get("kind") else default_kind
    except ValueError:
        raise InputError(f"{where}: unknown kind {raw.get('kind')!r}") from None
    description = next((_text(raw[k]) for k in DESCRIPTION_ALIASES if raw.get(k)), "")
    remediation = _text(raw.get("remediation"))
    if require_remediation and not remediation:
        raise InputError(f"{where}: no remediation")
    attack = _strings(raw, "attack", where)
    for technique in attack:
        if not ATTACK_ID.match(technique):
            raise InputError(f"{where}: {technique!r} is not an ATT&CK technique id (T1234 or T1234.001)")
    references = _strings(raw, "references", where)
    for ref in references:
        problem = reference_problem(ref)
        if problem:
            raise InputError(f"{where}: reference {ref!r}: {problem}")
    extra = {k: v for k, v in raw.items() if k not in SPEC_FIELDS and k not in DESCRIPTION_ALIASES}
    return CheckSpec(id=check_id, title=title, severity=severity, kind=kind, description=description,
                     remediation=remediation, references=references, attack=attack, origin=origin,
                     extra=extra)


def specs_from_list(items: Any, origin: str, **kwargs: Any) -> list[CheckSpec]:
    """Every spec of a metadata list (`checks:` / `rules:`), ids unique within it."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise InputError(f"{origin}: expected a list of checks")
    specs = [spec_from_mapping(item, f"{origin}[{i}]", **kwargs) for i, item in enumerate(items)]
    seen: set[str] = set()
    for spec in specs:
        if spec.id in seen:
            raise InputError(f"{origin}: duplicate check id {spec.id}")
        seen.add(spec.id)
    return specs


def specs_from_mapping_of_ids(items: Any, origin: str, **kwargs: Any) -> list[CheckSpec]:
    """Every spec of a metadata mapping keyed by id (`net-port-scan: {title: ...}`)."""
    if not isinstance(items, Mapping):
        raise InputError(f"{origin}: expected a mapping of check ids")
    return [spec_from_mapping(raw, origin, id=str(key), **kwargs) for key, raw in items.items()]


__all__ = ["CheckSpec", "reference_problem", "spec_from_mapping", "specs_from_list",
           "specs_from_mapping_of_ids"]
