"""Runtime rule metadata (rules.yaml beside this module): drift classes and signature results."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from seawall.core import Severity


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    severity: Severity
    attack: tuple[str, ...]
    rationale: str
    remediation: str
    references: tuple[str, ...]
    cls: str | None = None


@cache
def _load() -> dict[str, list[Rule]]:
    doc = yaml.safe_load((Path(__file__).parent / "rules.yaml").read_text(encoding="utf-8"))
    out: dict[str, list[Rule]] = {}
    for section, items in doc.items():
        out[section] = [
            Rule(
                id=r["id"],
                title=r["title"],
                severity=Severity.parse(r["severity"]),
                attack=tuple(r.get("attack") or ()),
                rationale=" ".join(str(r["rationale"]).split()),
                remediation=r["remediation"],
                references=tuple(r.get("references") or ()),
                cls=r.get("class"),
            )
            for r in items
        ]
    return out


def drift_rule(cls: str) -> Rule:
    return next(r for r in _load()["drift"] if r.cls == cls)


def signature_rule(rule_id: str) -> Rule:
    return next(r for r in _load()["signatures"] if r.id == rule_id)


def all_rules() -> list[Rule]:
    return [r for rules in _load().values() for r in rules]
