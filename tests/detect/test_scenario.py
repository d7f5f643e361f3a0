"""The scenario of issue 5: 100,000 benign audit events with an attack story inside
(anonymous probe -> secrets list -> privileged pod -> exec) must give exactly the story's
findings, on the right workloads, in order -- run through the CLI as a user would."""

from __future__ import annotations

import json
from pathlib import Path

from devtools.detectgen import audit as synth
from tests.conftest import run_cli

# (rule, resource type, namespace, name) per step of the story, in order
STORY = [
    [("SW-K8S-ANONYMOUS-ALLOWED", "k8s:Pod", "kube-system", "*")],
    [
        ("SW-K8S-SECRETS-ENUM", "k8s:Secret", "data", "*"),
        ("sigma:eeb3e9e1-b685-44e4-9232-6bb701f925b5", "k8s:Secret", "data", "*"),
    ],
    [
        ("SW-K8S-PRIVILEGED-POD", "k8s:Pod", "data", "etl-debug"),
        ("SW-K8S-HOSTPID-POD", "k8s:Pod", "data", "etl-debug"),
        ("SW-K8S-SENSITIVE-MOUNT", "k8s:Pod", "data", "etl-debug"),
        ("SW-K8S-PRIV-POD-THEN-EXEC", "k8s:Pod", "data", "etl-debug"),
        ("sigma:402b955c-8fe0-4a8c-b635-622b4ac5f902", "k8s:Pod", "data", "etl-debug"),
    ],
    [
        ("SW-K8S-EXEC", "k8s:Pod", "data", "etl-debug"),
        ("sigma:a1b0ca4e-7835-413e-8471-3ff2b8a66be6", "k8s:Pod", "data", "etl-debug"),
    ],
]


def test_attack_story_in_100k_benign_events(tmp_path: Path) -> None:
    log = synth.write(tmp_path / "audit.log", 100_000, story_at=40_000)
    proc = run_cli("detect", "--source", "k8s-audit", str(log), "--format", "json", "--no-state")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["target"]["metadata"]["events"] == 100_004
    findings = report["findings"]
    got = [
        (f["rule"], f["resource"]["type"], f["resource"].get("namespace"), f["resource"]["name"])
        for f in findings
    ]
    expected = [item for step in STORY for item in step]
    assert sorted(got) == sorted(expected), got
    # in order: every finding of a step starts after every finding of the step before
    step_of = {item: i for i, step in enumerate(STORY) for item in step}
    times = [(step_of[g], f["first_seen"]) for g, f in zip(got, findings, strict=True)]
    assert [s for s, _ in times] == sorted(s for s, _ in times)
    assert [t for _, t in times] == sorted(t for _, t in times)
    by_rule = {f["rule"]: f for f in findings}
    exec_f = by_rule["SW-K8S-EXEC"]
    assert exec_f["attack"] == ["T1609"] and exec_f["count"] == 1
    assert synth.STORY_ACTOR in exec_f["evidence"] and "exec?command" in exec_f["evidence"]
    assert exec_f["location"]["line"] > 40_000
    seq = by_rule["SW-K8S-PRIV-POD-THEN-EXEC"]
    assert seq["severity"] == "critical" and seq["first_seen"] < seq["last_seen"]
