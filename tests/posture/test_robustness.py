"""Hostile and malformed documents never crash a module: mutated real samples, deep nesting."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from seawall.core.errors import InputError
from seawall.posture import Context, audit_documents, audit_paths
from seawall.posture.loader import parse_structured
from tests.conftest import REPO

SAMPLES = REPO / "devtools" / "samples" / "posture"
ODD_VALUES = [None, 0, 1, -1, "", "x", True, [], {}, [None], [1, "a"], {"a": None}, "*", "0.0.0.0/0", 3.5]


def _mutate(rng: random.Random, value: object, rate: float) -> object:
    if rng.random() < rate:
        return rng.choice(ODD_VALUES)
    if isinstance(value, dict):
        return {k: _mutate(rng, v, rate) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutate(rng, v, rate) for v in value]
    return value


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_samples_never_crash_a_check(seed: int) -> None:
    rng = random.Random(seed)
    samples = [(p.suffix, d) for p in sorted(SAMPLES.rglob("*")) if p.suffix in (".yaml", ".json")
               for d in yaml.safe_load_all(p.read_text()) if d is not None]
    assert len(samples) > 30
    findings = 0
    for i in range(800):
        suffix, doc = rng.choice(samples)
        mutated = _mutate(rng, doc, rate=rng.choice([0.03, 0.1, 0.2]))
        fmt = "json" if suffix == ".json" else "yaml"
        text = json.dumps(mutated, indent=1) if fmt == "json" else yaml.safe_dump(mutated)
        ctx = Context()
        audit_documents(parse_structured(text, f"case{i}{suffix}", fmt), ctx)
        findings += len([f.to_dict() for f in ctx.findings])
    assert findings > 1000  # the mutations leave most of each sample intact: checks really ran


def test_deep_nesting_is_refused_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 300 + "]" * 300 + "\n")  # past our 200 levels
    (tmp_path / "deeper.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")  # past libyaml's
    (tmp_path / "ok.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n")
    report = audit_paths([tmp_path])
    reasons = {Path(s.subject.split()[-1]).name: s.reason for s in report.skips}
    assert "nesting deeper than 200 levels" in reasons["deep.yaml"]
    assert "exceeded maximum nesting depth" in reasons["deeper.yaml"]
    with pytest.raises(InputError):
        parse_structured("a: *nowhere\n", "x.yaml")
