"""Kubescape conformance: seawall's posture checks on Kubescape's own unit-test cases, per control.

Every usable case of the regolibrary snapshot (tests/conformance/kubescape/cases.json, Apache-2.0) is
audited on its own, as Kubescape's test runner does; see `kubescape_score` for how a case is scored.
`python -m tests.conformance.kubescape_score -v` prints the per-control table and every miss.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conformance import kubescape_score as ks

# what the project promises (README, docs/posture.md): at least this many controls referenced that
# have usable cases, and precision and recall over all of their cases at least these
MIN_CONTROLS = 80
MIN_PRECISION = 0.95
MIN_RECALL = 0.95


def test_conformance_per_control(capsys: pytest.CaptureFixture[str]) -> None:
    scores = ks.score()
    table = ks.report(scores)
    with capsys.disabled():
        print("\n" + table)
    scored = {c: s for c, s in scores.items() if s.cases}
    total = ks.Score()
    for s in scored.values():
        total.add(s)
    assert len(scored) >= MIN_CONTROLS, table
    assert total.precision >= MIN_PRECISION, table
    assert total.recall >= MIN_RECALL, table


def test_a_finding_on_an_unexpected_resource_is_a_false_positive() -> None:
    """The scorer itself: a found alert, a missed one, a false positive, and a subject alert
    satisfied through its related binding."""
    from seawall.core import Finding, FindingKind, Location, Resource, Severity

    def finding(kind: str, name: str, ns: str | None = None) -> Finding:
        return Finding(kind=FindingKind.MISCONFIGURATION, rule="X", title="t", severity=Severity.LOW,
                       resource=Resource(type=kind, name=name, namespace=ns), location=Location(path="p"),
                       references=["kubescape:C-0001"])

    expected = [{"resource": {"kind": "Pod", "name": "a"}, "related": []},
                {"resource": {"kind": "Pod", "name": "b"}, "related": []},
                {"resource": {"kind": "User", "name": "jane"},
                 "related": [{"kind": "RoleBinding", "name": "rb", "namespace": "ns"}]}]
    found = [finding("Pod", "a", "default"), finding("Pod", "c"), finding("RoleBinding", "rb", "ns")]
    tp, fn, fp, why = ks.score_case(expected, found, "C-0001")
    assert (tp, fn, fp) == (2, 1, 1), why
    assert ks.score_case(expected, found, "C-0002")[:3] == (0, 3, 0)


def test_the_case_data_carries_its_license_and_source() -> None:
    here = ks.DATA.parent
    assert "Apache License" in (here / "LICENSE").read_text()
    assert "github.com/kubescape/regolibrary" in (here / "NOTICE").read_text()
    data = ks.load()
    cases = [c for rule in data["rules"].values() for c in rule.values()]
    assert sum("inputs" in c for c in cases) > 700
    assert all(("inputs" in c) != ("left_out" in c or "unusable" in c) for c in cases)


def test_case_data_matches_the_regolibrary_snapshot_when_present() -> None:
    shared = os.environ.get("SEAWALL_SHARED")
    lib = Path(shared or "../shared") / "conformance" / "kubescape-regolibrary"
    if not (lib / "controls").is_dir():
        pytest.skip("no regolibrary snapshot beside the checkout (SEAWALL_SHARED): the committed "
                    "cases.json is used as is")
    from devtools.kubescape_cases import build

    assert json.loads(json.dumps(build(lib), sort_keys=True)) == ks.load()
