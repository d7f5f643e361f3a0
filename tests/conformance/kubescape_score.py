"""Score seawall's posture checks on Kubescape's own unit-test cases (regolibrary), per control.

    python -m tests.conformance.kubescape_score            # the per-control table and totals
    python -m tests.conformance.kubescape_score --json     # the same as JSON

Every usable case is audited on its own, as Kubescape's test runner does (the objects of one case
folder are the whole cluster), through `seawall.posture.audit_paths` over the case's files written
to a temporary directory. For a control, the cases are those of the rules that implement it, and:

- an expected alert is found (true positive) when a finding that references `kubescape:C-XXXX`
  names its resource, or one of the objects related to it (an RBAC alert names the subject and
  relates the binding and role; seawall reports the role or the binding);
- it is missed (false negative) otherwise;
- each resource a finding for the control names that no expected alert of the case names (nor
  relates) is a false positive.

Resources compare by kind and name, and by namespace when both sides give one. Cases whose
`data.json` overrides control inputs, and cases whose inputs are not Kubernetes objects
(Kubescape's host-sensor and cloud-API shapes), are counted and left out.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from seawall.core import Finding
from seawall.posture import AuditOptions, all_checks, audit_paths

DATA = Path(__file__).resolve().parent / "kubescape" / "cases.json"
PREFIX = "kubescape:"


@cache
def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text("utf-8"))
    return data


def referenced_controls() -> dict[str, list[str]]:
    """Control id -> the seawall checks that reference it."""
    out: dict[str, list[str]] = {}
    for check in all_checks():
        for ref in check.references:
            if ref.startswith(PREFIX):
                out.setdefault(ref[len(PREFIX):], []).append(check.id)
    return out


Key = tuple[str, str, str | None]


def _key(ref: dict[str, str]) -> Key:
    return (ref["kind"], ref["name"], ref.get("namespace") or None)


def _same(a: Key, b: Key) -> bool:
    return a[0] == b[0] and a[1] == b[1] and (a[2] is None or b[2] is None or a[2] == b[2])


@dataclass(slots=True)
class Score:
    tp: int = 0
    fn: int = 0
    fp: int = 0
    cases: int = 0
    passed: int = 0  # cases with no miss and no false positive
    left_out: int = 0
    unusable: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fn += other.fn
        self.fp += other.fp
        self.cases += other.cases
        self.passed += other.passed
        self.left_out += other.left_out
        self.unusable += other.unusable

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def score_case(expected: list[dict[str, Any]], findings: Iterable[Finding], control: str) -> tuple[
        int, int, int, list[str]]:
    """(true positives, false negatives, false positives, what went wrong) of one case."""
    ref = PREFIX + control
    found: list[Key] = []
    for f in findings:
        if ref in f.references:
            key = (f.resource.type, f.resource.name, f.resource.namespace)
            if not any(k == key for k in found):
                found.append(key)
    alerts: dict[Key, list[Key]] = {}  # an alert's resource -> every object that satisfies it
    for alert in expected:
        main = _key(alert["resource"])
        alerts.setdefault(main, [main]).extend(_key(r) for r in alert["related"])
    tp = fn = 0
    why: list[str] = []
    for main, names in alerts.items():
        if any(_same(n, f) for n in names for f in found):
            tp += 1
        else:
            fn += 1
            why.append(f"missed {main[0]}/{main[1]}")
    fp = 0
    for f in found:
        if not any(_same(n, f) for names in alerts.values() for n in names):
            fp += 1
            why.append(f"false positive {f[0]}/{f[1]}")
    return tp, fn, fp, why


@cache
def audit_case(rule: str, case: str) -> list[Finding]:
    """The findings of one case's inputs, audited on their own."""
    inputs = load()["rules"][rule][case]["inputs"]
    with tempfile.TemporaryDirectory(prefix="seawall-ks-") as tmp:
        for name, text in inputs.items():
            (Path(tmp) / name).write_text(text, "utf-8")
        report = audit_paths([Path(tmp)], AuditOptions(workers=1))
    return report.findings


def score(controls: Iterable[str] | None = None) -> dict[str, Score]:
    """Per control (default: every control seawall references), its score over its cases."""
    data = load()
    wanted = sorted(controls if controls is not None else referenced_controls())
    out: dict[str, Score] = {}
    for control in wanted:
        s = Score()
        for rule in data["controls"].get(control, {}).get("rules", []):
            for case, body in sorted(data["rules"].get(rule, {}).items()):
                if "left_out" in body:
                    s.left_out += 1
                    continue
                if "unusable" in body:
                    s.unusable += 1
                    continue
                tp, fn, fp, why = score_case(body["expected"], audit_case(rule, case), control)
                s.tp += tp
                s.fn += fn
                s.fp += fp
                s.cases += 1
                if fn or fp:
                    s.failures.append(f"{rule}/{case}: {'; '.join(why)}")
                else:
                    s.passed += 1
        out[control] = s
    return out


FAMILIES = {"kubernetes_controlplane": "Control plane", "kubernetes_rbac": "RBAC",
            "kubernetes_network": "Network and exposure", "kubernetes": "Workloads"}


def family(control: str) -> str:
    """The control's family, as README and docs/posture.md group the figures: the posture module
    (workloads, RBAC, network and exposure, control plane) of the checks that reference it."""
    targets = {c.target for c in all_checks() if PREFIX + control in c.references}
    for target, name in FAMILIES.items():  # a control referenced from two modules: the first here
        if target in targets:
            return name
    return "?"


def report(scores: dict[str, Score]) -> str:
    data = load()
    refs = referenced_controls()
    lines = [f"{'control':8} {'family':20} {'cases':>5} {'pass':>5} {'tp':>4} {'fn':>4} {'fp':>4} "
             f"{'prec':>5} {'rec':>5}  checks"]
    by_family: dict[str, Score] = {}
    total = Score()
    for control, s in sorted(scores.items()):
        fam = family(control)
        by_family.setdefault(fam, Score()).add(s)
        total.add(s)
        lines.append(f"{control:8} {fam:20} {s.cases:5} {s.passed:5} {s.tp:4} {s.fn:4} {s.fp:4} "
                     f"{s.precision:5.2f} {s.recall:5.2f}  {','.join(refs.get(control, []))}"
                     + (f"  [{data['controls'].get(control, {}).get('name', '?')}]"))
    lines.append("")
    for fam, s in sorted(by_family.items()):
        n = sum(1 for c, sc in scores.items() if family(c) == fam and sc.cases)
        lines.append(f"{fam:22} {n:3} controls {s.cases:4} cases  precision {s.precision:.3f}  "
                     f"recall {s.recall:.3f}  ({s.tp} found, {s.fn} missed, {s.fp} false positives)")
    without = sorted(c for c, sc in scores.items() if not sc.cases)
    if without:
        lines.append(f"referenced, no usable case: {', '.join(without)}")
    lines.append(f"{'all':22} {len(scores) - len(without):3} controls {total.cases:4} cases  precision "
                 f"{total.precision:.3f}  recall {total.recall:.3f}  ({total.tp} found, {total.fn} "
                 f"missed, {total.fp} false positives); left out: {total.left_out} cases with "
                 f"data.json, {total.unusable} whose inputs are not Kubernetes objects")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    scores = score()
    if "--json" in argv:
        print(json.dumps({c: {"cases": s.cases, "passed": s.passed, "tp": s.tp, "fn": s.fn, "fp": s.fp,
                              "precision": s.precision, "recall": s.recall, "family": family(c),
                              "left_out": s.left_out, "unusable": s.unusable}
                          for c, s in scores.items()}, indent=1))
        return 0
    print(report(scores))
    if "-v" in argv:
        for control, s in sorted(scores.items()):
            for failure in s.failures:
                print(f"{control} {failure}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
