"""Same-named objects in different files never hide each other, and cross-object joins prefer the
same file, then the same directory (kustomize overlays, several clusters' manifests in one repo)."""

from __future__ import annotations

from pathlib import Path

from seawall.posture import audit_paths

ROLE = """apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: reader, namespace: app}}
rules:
  - apiGroups: [""]
    resources: [{resources}]
    verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: reader, namespace: app}}
subjects:
  - {{kind: ServiceAccount, name: {subject}, namespace: app}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}}
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_dangerous_role_is_not_hidden_by_a_harmless_namesake(tmp_path: Path) -> None:
    # read in this order: the dangerous Role first, then the harmless one of the same kind/ns/name
    _write(tmp_path / "a-prod" / "rbac.yaml", ROLE.format(resources="secrets", subject="api"))
    _write(tmp_path / "b-dev" / "rbac.yaml", ROLE.format(resources="configmaps", subject="web"))
    report = audit_paths([tmp_path])
    secrets = [f for f in report.findings if f.rule == "SW-K8S-042"]
    assert [(f.location.path, f.location.line) for f in secrets] == [
        (str(tmp_path / "a-prod" / "rbac.yaml"), 6)]
    # the binding beside the Role is the one that grants it: prod's api, not dev's web
    assert secrets[0].evidence and "ServiceAccount app/api" in secrets[0].evidence
    assert "web" not in secrets[0].evidence


def test_the_harmless_namesake_read_last_does_not_win_either(tmp_path: Path) -> None:
    _write(tmp_path / "a-dev" / "rbac.yaml", ROLE.format(resources="configmaps", subject="web"))
    _write(tmp_path / "b-prod" / "rbac.yaml", ROLE.format(resources="secrets", subject="api"))
    report = audit_paths([tmp_path])
    assert [f.location.path for f in report.findings if f.rule == "SW-K8S-042"] == [
        str(tmp_path / "b-prod" / "rbac.yaml")]


def test_binding_in_its_own_file_resolves_to_the_role_of_its_directory(tmp_path: Path) -> None:
    """roleRef resolution: same file, else same directory, else anywhere."""
    role, binding = ROLE.split("---\n")
    _write(tmp_path / "prod" / "role.yaml", role.format(resources="secrets"))
    _write(tmp_path / "prod" / "binding.yaml", binding.format(subject="api"))
    _write(tmp_path / "dev" / "role.yaml", role.format(resources="configmaps"))
    _write(tmp_path / "dev" / "binding.yaml", binding.format(subject="web"))
    report = audit_paths([tmp_path])
    hits = [f for f in report.findings if f.rule == "SW-K8S-042"]
    assert len(hits) == 1 and hits[0].location.path == str(tmp_path / "prod" / "role.yaml")
    assert "ServiceAccount app/api" in (hits[0].evidence or "") and "web" not in (hits[0].evidence or "")


def test_default_service_account_bound_in_one_overlay_only(tmp_path: Path) -> None:
    """A binding to a Role that is empty in its own overlay grants nothing there, whatever a
    namesake elsewhere holds."""
    empty = """apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: app}
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: app}
subjects:
  - {kind: ServiceAccount, name: default, namespace: app}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
"""
    _write(tmp_path / "dev" / "rbac.yaml", empty)
    _write(tmp_path / "prod" / "rbac.yaml", ROLE.format(resources="secrets", subject="default"))
    report = audit_paths([tmp_path])
    assert [f.location.path for f in report.findings if f.rule == "SW-K8S-047"] == [
        str(tmp_path / "prod" / "rbac.yaml")]
