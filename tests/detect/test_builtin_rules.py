"""Every built-in rule: each attack case fires it, each near-miss does not (table-driven from
the `tests:` block of the rule's YAML). Runs the real reader + compiler + engine in-process."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from seawall.detect import DetectOptions, run
from seawall.detect.loader import load_rules
from seawall.detect.model import Rule, RuleSet

RULES = load_rules([], builtin=True, bundled_sigma=False)


def _cases() -> list[Any]:
    out = []
    for rule in RULES.rules:
        for expect in ("fires", "quiet"):
            for i, case in enumerate(rule.tests.get(expect, [])):
                out.append(pytest.param(rule, expect, case, id=f"{rule.id}-{expect}-{i}"))
    return out


def _lines(case: Any) -> list[bytes]:
    events = case["events"] if isinstance(case, dict) and "events" in case else [case]
    out: list[bytes] = []
    for ev in events:
        if isinstance(ev, str):
            out.append(ev.encode())
            continue
        ev = copy.deepcopy(ev)
        repeat = int(ev.pop("$repeat", 1))
        out.extend([orjson.dumps(ev)] * repeat)
    return out


def test_every_builtin_rule_has_an_attack_and_a_near_miss() -> None:
    assert not RULES.problems, RULES.problems
    missing = [r.id for r in RULES.rules if not r.tests.get("fires") or not r.tests.get("quiet")]
    assert not missing
    assert len(RULES.rules) >= 75


@pytest.mark.parametrize(("rule", "expect", "case"), _cases())
def test_rule_case(rule: Rule, expect: str, case: Any, tmp_path: Path) -> None:
    log = tmp_path / "events.log"
    log.write_bytes(b"\n".join(_lines(case)) + b"\n")
    single = copy.copy(rule)
    single.enabled = True
    result = run(
        DetectOptions(source=rule.sources[0], paths=[str(log)], state_path=None), RuleSet(rules=[single])
    )
    assert not result.problems, result.problems
    hits = [f for f in result.findings if f.rule == rule.id]
    if expect == "fires":
        assert hits, f"{rule.id} did not fire on its attack case"
        f = hits[0]
        assert f.evidence and f.count and f.count >= 1
        assert f.attack == rule.attack
        assert f.location.path == str(log)
    else:
        assert not hits, f"{rule.id} fired on its near-miss: {hits[0].evidence}"


FALCO_K8S_AUDIT = Path(__file__).parent / "data" / "falco" / "k8s_audit_rules.yaml"  # Apache-2.0


def test_every_falco_k8s_audit_rule_is_covered() -> None:
    import yaml

    falco = yaml.safe_load(FALCO_K8S_AUDIT.read_text())
    falco_rules = {r["rule"] for r in falco if isinstance(r, dict) and "rule" in r}
    covered = {name for r in RULES.rules for name in r.falco}
    assert len(falco_rules) == 48
    assert falco_rules <= covered, sorted(falco_rules - covered)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "detect.md").read_text()
    for name in falco_rules:
        assert f"| {name} |" in docs, name
