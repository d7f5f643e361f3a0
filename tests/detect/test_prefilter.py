"""The literal prefilter (seawall.detect.prefilter) must never change what is found: the
findings with it are exactly those of testing every rule on every fully decoded line --
including lines that hide the rules' words behind JSON escapes, upper case or non-ASCII."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from devtools.detectgen import audit as synth
from seawall.detect import DetectOptions, run
from seawall.detect.engine import SourceProgram
from seawall.detect.loader import load_rules


def _escaped(value: Any, rng: random.Random, p: float = 0.3) -> str:
    """JSON text with string characters written as \\uXXXX (or `\\/`) at random: the same
    event for a JSON decoder, different bytes for a substring search."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_escaped(k, rng, p)}:{_escaped(v, rng, p)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_escaped(v, rng, p) for v in value) + "]"
    if isinstance(value, str):
        out = []
        for ch in value:
            r = rng.random()
            if ch == "/" and r < p:
                out.append("\\/")
            elif ch.isalpha() and r < p:
                out.append(f"\\u{ord(ch):04x}")
            else:
                out.append(orjson.dumps(ch).decode()[1:-1])
        return '"' + "".join(out) + '"'
    return orjson.dumps(value).decode()


def _upper(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        return {k: _upper(v, rng) for k, v in value.items()}
    if isinstance(value, list):
        return [_upper(v, rng) for v in value]
    if isinstance(value, str) and rng.random() < 0.5:
        return value.upper()
    return value


def _findings(path: Path, prefilter: bool) -> list[dict[str, Any]]:
    result = run(
        DetectOptions(source="k8s-audit", paths=[str(path)], state_path=None, prefilter=prefilter),
        RULES,
    )
    return [f.to_dict() for f in result.findings]


RULES = load_rules([])


def test_prefilter_keeps_every_finding_on_disguised_events(tmp_path: Path) -> None:
    rng = random.Random(7)
    plain = synth.write(tmp_path / "plain.log", 20_000, seed=11, story_at=9_000, noisy=0.05)
    lines = plain.read_bytes().splitlines()
    out = []
    for i, line in enumerate(lines):
        event = orjson.loads(line)
        kind = i % 4
        if kind == 1:
            out.append(_escaped(event, rng).encode())
        elif kind == 2:
            out.append(orjson.dumps(_upper(event, rng)))
        elif kind == 3 and "objectRef" in event:
            # the Kelvin sign lower-cases to `k`: "Kube-system" is kube-system for the rules
            ns = event["objectRef"].get("namespace")
            if isinstance(ns, str) and ns.startswith("k"):
                event["objectRef"]["namespace"] = "\u212a" + ns[1:]
            out.append(orjson.dumps(event))
        else:
            out.append(line)
    mixed = tmp_path / "mixed.log"
    mixed.write_bytes(b"\n".join(out) + b"\n")

    # the tiers are really in use on this input
    program = SourceProgram("k8s-audit", RULES.rules, [])
    program.plan_tiers(out[:2000])
    assert program.tiers is not None and program.tiers.needles and program.tiers.broad_rules

    with_filter, without = _findings(mixed, True), _findings(mixed, False)
    assert with_filter == without
    rules = {f["rule"] for f in with_filter}
    # the attack story is found whichever way its lines are written
    for rule in ("SW-K8S-EXEC", "SW-K8S-PRIVILEGED-POD", "SW-K8S-SECRETS-ENUM", "SW-K8S-ANONYMOUS-ALLOWED"):
        assert rule in rules
    assert _findings(plain, True) == _findings(plain, False)


def test_escaped_attack_line_alone_still_fires(tmp_path: Path) -> None:
    rng = random.Random(3)
    story = synth.attack_story(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    path = tmp_path / "story.log"
    # every letter escaped: no rule word is left as plain bytes
    path.write_bytes(b"\n".join(_escaped(ev, rng, 1.0).encode() for ev in story) + b"\n")
    got = _findings(path, True)
    assert got == _findings(path, False)
    assert "SW-K8S-EXEC" in {f["rule"] for f in got}


def test_kelvin_sign_line_matches_as_its_lower_case(tmp_path: Path) -> None:
    # the Kelvin sign lower-cases to `k`: "\u212aube-system" is kube-system to a
    # case-insensitive rule, though no byte of the line spells "kube-system"
    rule = tmp_path / "rule.yaml"
    rule.write_text(
        "rules:\n- id: T-KUBE-NS\n  title: in kube-system\n  severity: low\n  source: k8s-audit\n"
        "  detection:\n    sel: {objectRef.namespace: kube-system}\n    condition: sel\n"
    )
    ruleset = load_rules([rule], builtin=False, bundled_sigma=False)
    lines = [
        orjson.dumps({"verb": "get", "objectRef": {"namespace": f"ns{i}", "resource": "pods"}, "x": i})
        for i in range(3000)
    ]
    lines.append(orjson.dumps({"verb": "get", "objectRef": {"namespace": "\u212aube-system"}}))
    log = tmp_path / "audit.log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    results = []
    for prefilter in (True, False):
        result = run(
            DetectOptions(source="k8s-audit", paths=[str(log)], state_path=None, prefilter=prefilter), ruleset
        )
        results.append([f.to_dict() for f in result.findings])
    assert results[0] == results[1]
    assert [f["rule"] for f in results[0]] == ["T-KUBE-NS"]
    program = SourceProgram("k8s-audit", ruleset.rules, [])
    program.plan_tiers(lines)
    assert program.tiers is not None and program.tiers.needles == ["kube-system"]
