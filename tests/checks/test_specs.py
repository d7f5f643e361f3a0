"""Every check and rule of every analyzer goes through the one spec loader and its reference
validation: a retired Security Hub control or an unknown Kubescape id fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seawall.checks import spec_from_mapping, specs_from_list
from seawall.checks.references import kubescape_controls, reference_problem
from seawall.core.errors import InputError

SRC = Path(__file__).resolve().parents[2] / "src" / "seawall"


def _metadata_files() -> list[tuple[Path, str]]:
    """(file, layout): `list` (checks:/rules: list) or `by-id` (mapping of id -> metadata)."""
    files = [(p, "list") for p in sorted((SRC / "posture" / "checks").glob("*.yaml"))]
    files += [(SRC / "scan" / "image_checks.yaml", "list"), (SRC / "secrets" / "rules.yaml", "list")]
    files += [(p, "list") for p in sorted((SRC / "detect" / "rules").glob("*.yaml"))]
    files += [(SRC / "network" / "rules.yaml", "by-id")]
    return files


@pytest.mark.parametrize(("path", "layout"), _metadata_files(), ids=lambda v: getattr(v, "name", v))
def test_every_metadata_file_loads_through_the_one_spec(path: Path, layout: str) -> None:
    raw = yaml.safe_load(path.read_text("utf-8"))
    if layout == "by-id":
        items = {k: v for k, v in raw.items() if isinstance(v, dict)}
        specs = [spec_from_mapping(v, path.name, id=k) for k, v in items.items()]
    else:
        specs = specs_from_list(raw.get("checks") or raw.get("rules"), path.name)
    assert specs, f"{path} holds no checks"
    assert len({s.id for s in specs}) == len(specs), f"{path}: duplicate ids"


def test_references_are_validated_against_published_lists() -> None:
    assert reference_problem("kubescape:C-0057") is None
    assert "Kubescape" in (reference_problem("kubescape:C-9999") or "")
    assert reference_problem("checkov:CKV_K8S_16") is None
    assert reference_problem("checkov:CKV_K8S_99999") is not None
    assert reference_problem("aws-securityhub:ECS.4") is None
    assert "retired" in (reference_problem("aws-securityhub:ECS.1") or "")
    assert reference_problem("aws-securityhub:ECR.99") is not None
    assert reference_problem("cis-k8s:5.2.1") is None
    assert reference_problem("cis-docker:5.33") is not None  # section 5 ends at 5.32
    assert reference_problem("pss:restricted") is None
    assert reference_problem("https://attack.mitre.org/techniques/T1046/") is None
    assert "unknown reference scheme" in (reference_problem("nist:AC-2") or "")
    assert len(kubescape_controls()) > 250


def test_a_bad_spec_is_one_line_error_naming_the_check() -> None:
    with pytest.raises(InputError, match=r"x.yaml: SW-1: reference 'aws-securityhub:ECS.1': AWS retired"):
        spec_from_mapping({"id": "SW-1", "title": "t", "severity": "high",
                           "references": ["aws-securityhub:ECS.1"]}, "x.yaml")
    with pytest.raises(InputError, match="ATT&CK"):
        spec_from_mapping({"id": "SW-2", "title": "t", "severity": "high", "attack": ["1611"]}, "x.yaml")
    with pytest.raises(InputError, match="unknown severity"):
        spec_from_mapping({"id": "SW-3", "title": "t", "severity": "severe"}, "x.yaml")
    with pytest.raises(InputError, match="duplicate"):
        specs_from_list([{"id": "A", "title": "t", "severity": "low"}] * 2, "x.yaml")


def test_detect_native_rules_are_read_through_the_spec(tmp_path: Path) -> None:
    """A native detection rule's metadata goes through the same loader: a retired Security Hub
    control or a malformed ATT&CK id is a rule problem naming the rule; its neighbours load."""
    from seawall.detect.loader import load_rules

    rules = tmp_path / "mine.yaml"
    base = ("    source: cloudtrail\n    severity: high\n"
            "    detection:\n      sel: {eventName: StopLogging}\n      condition: sel\n")
    rules.write_text(
        "rules:\n"
        "  - id: my-retired\n    title: Cites a retired control\n" + base
        + "    references: ['aws-securityhub:ECS.1']\n"
        "  - id: my-attack\n    title: Bad technique\n" + base + "    attack: ['1562']\n"
        "  - id: my-good\n    title: Trail stopped\n" + base
        + "    attack: [T1562.008]\n    references: ['aws-securityhub:CloudTrail.1']\n"
        "    remediation: >-\n      Start the trail\n      again.\n", "utf-8")
    loaded = load_rules([rules], builtin=False, bundled_sigma=False)
    problems = {p.rule_id: p.reason for p in loaded.problems}
    assert "AWS retired this Security Hub control" in problems["my-retired"]
    assert "ATT&CK" in problems["my-attack"]
    (good,) = [r for r in loaded.rules if r.id == "my-good"]
    assert (good.title, good.severity.value, good.attack, good.references, good.remediation) == (
        "Trail stopped", "high", ["T1562.008"], ["aws-securityhub:CloudTrail.1"], "Start the trail again.")


def test_secret_pairs_load_through_the_spec() -> None:
    raw = yaml.safe_load((SRC / "secrets" / "rules.yaml").read_text("utf-8"))
    assert specs_from_list(raw["pairs"], "rules.yaml")
