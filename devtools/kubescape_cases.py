"""Build `tests/conformance/kubescape/cases.json` from a snapshot of Kubescape's regolibrary.

    python -m devtools.kubescape_cases [REGOLIBRARY_DIR]     (default: $SEAWALL_SHARED/conformance/
                                                               kubescape-regolibrary)

The regolibrary (github.com/kubescape/regolibrary, Apache-2.0) holds one unit-test case per folder
under `rules/<rule>/test/<case>/`: `input/*` (Kubernetes objects; Kubescape's test runner reads only
the first document of a file), `expected.json` (the resources the rule must report) and sometimes
`data.json` (control inputs that override the defaults). This script keeps what the conformance
test needs, compactly and unchanged in meaning:

- `controls`: every control id with its name and the rules that implement it (also what the
  reference cross-check of the posture checks reads);
- `rules`: per rule and case, the first document of each input file (text as written), the
  resources each expected alert names (kind, name, namespace, and the objects related to it), or
  why the case is left out: `data.json` (it overrides control inputs) or `unusable` (an input that
  is not a Kubernetes object: Kubescape's host-sensor and cloud-API shapes, unparseable text).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "conformance" / "kubescape"
# apiVersion groups that are Kubescape's own sensors or cloud-provider API dumps, not objects a
# manifest or a cluster holds
NOT_KUBERNETES = ("hostdata.kubescape.cloud/", "apiserverinfo.kubescape.cloud/", "kubescape.io/",
                  "management.azure.com/", "eks.amazonaws.com/", "container.googleapis.com/",
                  "armo.vuln.images/")


def _first_document(text: str, name: str) -> tuple[str, Any]:
    """(text of the first document, its parsed value); raises ValueError when it does not parse."""
    if name.endswith(".json"):
        return text, json.loads(text)
    end = None
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.DocumentEndEvent):
                end = event.end_mark.index
                break
    except yaml.YAMLError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    first = text if end is None else text[:end]
    try:
        value = next(iter(yaml.safe_load_all(first)), None)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    return first.rstrip("\n") + "\n", value


def _ref(obj: Any) -> dict[str, str] | None:
    """kind/name/namespace of an object as an expected alert names it."""
    if not isinstance(obj, dict) or not isinstance(obj.get("kind"), str):
        return None
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name", obj.get("name"))
    if not isinstance(name, str):
        return None
    out = {"kind": obj["kind"], "name": name}
    ns = meta.get("namespace", obj.get("namespace"))
    if isinstance(ns, str) and ns:
        out["namespace"] = ns
    return out


def _expected(alerts: Any) -> list[dict[str, Any]]:
    """Per alert: the resource it is about and the objects related to it (either satisfies it)."""
    out: list[dict[str, Any]] = []
    for alert in alerts if isinstance(alerts, list) else []:
        obj = alert.get("alertObject") or {}
        named: list[dict[str, str]] = []
        for item in obj.get("k8sApiObjects") or []:
            if (ref := _ref(item)) is not None:
                named.append(ref)
        ext = obj.get("externalObjects")
        if isinstance(ext, dict):
            if (ref := _ref(ext)) is not None:
                named.append(ref)
            for item in ext.get("relatedObjects") or []:
                if (ref := _ref(item)) is not None:
                    named.append(ref)
        for rel in alert.get("relatedObjects") or []:
            if (ref := _ref(rel.get("object") if isinstance(rel, dict) and "object" in rel else rel)):
                named.append(ref)
        if named:
            out.append({"resource": named[0], "related": named[1:]})
    return out


def _case(folder: Path) -> dict[str, Any]:
    if (folder / "data.json").exists():
        return {"left_out": "data.json overrides control inputs"}
    inputs: dict[str, str] = {}
    for path in sorted((folder / "input").iterdir()):
        if not path.is_file():
            continue
        try:
            text, value = _first_document(path.read_text("utf-8"), path.name)
        except (ValueError, UnicodeDecodeError) as exc:
            return {"unusable": f"{path.name}: does not parse ({exc})"}
        if not isinstance(value, dict) or not isinstance(value.get("kind"), str) \
                or not isinstance(value.get("apiVersion"), str):
            return {"unusable": f"{path.name}: not a Kubernetes object"}
        if value["apiVersion"].startswith(NOT_KUBERNETES):
            return {"unusable": f"{path.name}: {value['kind']} ({value['apiVersion']}) is Kubescape's "
                                "sensor or cloud-API data, not a Kubernetes object"}
        inputs[path.name] = text
    try:
        expected = json.loads((folder / "expected.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        return {"unusable": f"expected.json: {exc}"}
    return {"inputs": inputs, "expected": _expected(expected)}


def build(lib: Path) -> dict[str, Any]:
    rule_dirs: dict[str, Path] = {}
    for folder in sorted((lib / "rules").iterdir()):
        meta = folder / "rule.metadata.json"
        if meta.exists():
            rule_dirs[json.loads(meta.read_text("utf-8"))["name"]] = folder
    controls: dict[str, Any] = {}
    for path in sorted((lib / "controls").glob("*.json")):
        control = json.loads(path.read_text("utf-8"))
        controls[control["controlID"]] = {"name": control["name"],
                                          "rules": list(control.get("rulesNames") or [])}
    used = {r for c in controls.values() for r in c["rules"]}
    rules: dict[str, Any] = {}
    for name in sorted(used):
        folder = rule_dirs.get(name)
        tests = folder / "test" if folder else None
        if tests is None or not tests.is_dir():
            continue
        cases = {case.name: _case(case) for case in sorted(tests.iterdir())
                 if (case / "input").is_dir()}
        if cases:
            rules[name] = cases
    return {"source": "github.com/kubescape/regolibrary (see NOTICE)", "controls": controls,
            "rules": rules}


def main() -> int:
    if len(sys.argv) > 1:
        lib = Path(sys.argv[1])
    else:
        lib = Path(os.environ.get("SEAWALL_SHARED", "../shared")) / "conformance" / "kubescape-regolibrary"
    if not (lib / "controls").is_dir():
        print(f"no regolibrary at {lib}", file=sys.stderr)
        return 2
    data = build(lib)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cases.json").write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", "utf-8")
    (OUT / "LICENSE").write_bytes((lib / "LICENSE").read_bytes())
    cases = [c for r in data["rules"].values() for c in r.values()]
    print(f"{len(data['controls'])} controls, {len(data['rules'])} rules with cases, {len(cases)} cases: "
          f"{sum('inputs' in c for c in cases)} usable, {sum('left_out' in c for c in cases)} with "
          f"data.json, {sum('unusable' in c for c in cases)} not Kubernetes objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
