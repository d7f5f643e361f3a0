"""`seawall audit PATH...` as a user runs it: bad input, suppressions, policy, formats, exit codes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from seawall.posture import AuditOptions, audit_paths
from tests.conftest import run_cli

PRIVILEGED_POD = """apiVersion: v1
kind: Pod
metadata:
  name: debug
  namespace: tools
spec:
  containers:
    - name: shell
      image: busybox:1.36
      securityContext:
        privileged: true
"""
BILLION_LAUGHS = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
apiVersion: v1
kind: ConfigMap
"""


def _json(proc) -> dict:
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def _rules(report: dict) -> list[tuple[str, str, int]]:
    return sorted((f["rule"], f["resource"]["name"], f["location"].get("line", 0))
                  for f in report["findings"])


def test_bad_files_are_warnings_and_the_audit_goes_on(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(PRIVILEGED_POD)
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [unclosed\n")
    (tmp_path / "bomb.yaml").write_text(BILLION_LAUGHS)
    (tmp_path / "loop.yaml").write_text("a: &a [*a]\n")
    (tmp_path / "latin1.yaml").write_bytes(
        "apiVersion: v1\nkind: ConfigMap\ndata: {k: caf\xe9}\n".encode("latin-1"))
    (tmp_path / "crd.yaml").write_text(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\n")
    (tmp_path / "values.yaml").write_text("replicaCount: 2\nimage: {tag: 1.0}\n")
    (tmp_path / "blob.json").write_bytes(b"{\x00\x01\x02}")
    with (tmp_path / "huge.yaml").open("wb") as fh:  # sparse: over the size bound without using disk
        fh.truncate(30 * 1024 * 1024)
    start = time.monotonic()
    proc = run_cli("audit", str(tmp_path), "--format", "json")
    assert time.monotonic() - start < 30
    report = _json(proc)
    assert ("SW-K8S-001", "debug", 11) in _rules(report)
    # what could not be read is a skip value (subject, reason, category), and a warning line each
    skipped = {Path(s["subject"].split(" (after")[0].split()[-1]).name: s for s in report["skipped"]}
    assert "invalid YAML at line 5" in skipped["broken.yaml"]["reason"]
    assert "YAML bomb" in skipped["bomb.yaml"]["reason"]
    assert "recursive alias" in skipped["loop.yaml"]["reason"]
    assert "not valid UTF-8" in skipped["latin1.yaml"]["reason"]
    assert skipped["crd.yaml"]["subject"].startswith("Certificate object(s) in ")
    assert skipped["crd.yaml"]["category"] == "unsupported"
    assert "not a recognised configuration document" in skipped["values.yaml"]["reason"]
    assert "binary file" in skipped["blob.json"]["reason"]
    assert "over the 20971520-byte limit" in skipped["huge.yaml"]["reason"]
    assert skipped["huge.yaml"]["subject"].startswith("file ")
    assert skipped["huge.yaml"]["category"] == "unreadable"
    assert len(skipped) == len(report["skipped"]) == 8
    # every skip is also one line on stderr (and in `warnings`), never a traceback
    assert proc.stderr.count("seawall: warning:") == len(report["warnings"]) == 8
    assert all(" not analyzed: " in w for w in report["warnings"])
    assert "Traceback" not in proc.stderr


def test_nothing_readable_is_exit_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("kind: [\n")
    proc = run_cli("audit", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("seawall: error: none of the 1 file(s) could be read")
    proc = run_cli("audit", str(tmp_path / "missing"))
    assert proc.returncode == 2 and "no such file or directory" in proc.stderr
    proc = run_cli("audit")
    assert proc.returncode == 2 and "nothing to audit" in proc.stderr


def test_fail_on_and_severity_filter(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(PRIVILEGED_POD)
    assert run_cli("audit", str(tmp_path), "--fail-on", "critical", "-q").returncode == 1
    report = _json(run_cli("audit", str(tmp_path), "--severity", "CRITICAL", "--format", "json"))
    assert {f["rule"] for f in report["findings"]} == {"SW-K8S-001"}
    only = _json(run_cli("audit", str(tmp_path), "--check", "SW-K8S-021", "--format", "json"))
    assert _rules(only) == [("SW-K8S-021", "debug", 8)]


def test_inline_suppression_annotation(tmp_path: Path) -> None:
    pod = PRIVILEGED_POD.replace(
        "  namespace: tools\n",
        "  namespace: tools\n  annotations:\n    seawall.io/ignore: SW-K8S-001, SW-K8S-021\n")
    (tmp_path / "pod.yaml").write_text(pod)
    report = audit_paths([tmp_path])
    rules = {f.rule for f in report.findings}
    assert "SW-K8S-001" not in rules and "SW-K8S-021" not in rules
    assert "SW-K8S-015" in rules
    assert report.target.metadata["suppressed"] == 2


def test_policy_file_skip_severity_and_expiring_exceptions(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(PRIVILEGED_POD)
    policy = tmp_path / "policy.yml"
    policy.write_text("""skip: [SW-K8S-025]
severity:
  SW-K8S-001: medium
exceptions:
  - check: SW-K8S-021
    resource: "Pod/tools/*"
    expires: 2999-01-01
    reason: debug pods are ephemeral
  - check: SW-K8S-015
    resource: "Pod/tools/debug"
    expires: 2020-01-01
""")
    report = _json(run_cli("audit", str(tmp_path / "pod.yaml"), "--policy", str(policy), "--format", "json"))
    by_rule = {f["rule"]: f for f in report["findings"]}
    assert "SW-K8S-025" not in by_rule
    assert by_rule["SW-K8S-001"]["severity"] == "medium"
    assert "SW-K8S-021" not in by_rule  # live exception
    assert "SW-K8S-015" in by_rule  # expired exception no longer applies
    bad = tmp_path / "bad-policy.yml"
    bad.write_text("skipp: [x]\n")
    proc = run_cli("audit", str(tmp_path / "pod.yaml"), "--policy", str(bad))
    assert proc.returncode == 2 and "unknown key(s) skipp" in proc.stderr


def test_allowed_registries_option(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(PRIVILEGED_POD)
    report = _json(run_cli("audit", str(tmp_path), "--allowed-registry",
                           "123456789012.dkr.ecr.us-east-1.amazonaws.com", "--format", "json"))
    hit = [f for f in report["findings"] if f["rule"] == "SW-K8S-026"]
    assert len(hit) == 1 and "registry docker.io" in hit[0]["evidence"]


def test_list_checks(tmp_path: Path) -> None:
    proc = run_cli("audit", "--list-checks")
    assert proc.returncode == 0
    for check_id in ("SW-K8S-001", "SW-K8S-047", "SW-K8S-066", "SW-ECS-010", "SW-EKS-005", "SW-ECR-007",
                     "SW-DF-011", "SW-DH-012"):
        assert check_id in proc.stdout
    assert "kubescape:C-0057" in proc.stdout


def test_list_checks_as_json(tmp_path: Path) -> None:
    """`--list-checks --format json` is JSON (it printed the table before): every check once, with
    its references, and the same to a file with -o; a format that cannot list checks is exit 2."""
    from seawall.posture import all_checks

    proc = run_cli("audit", "--list-checks", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    checks = json.loads(proc.stdout)
    assert [c["id"] for c in checks] == [c.id for c in all_checks()]
    by_id = {c["id"]: c for c in checks}
    assert by_id["SW-K8S-001"]["severity"] == "critical"
    assert "kubescape:C-0057" in by_id["SW-K8S-001"]["references"]
    assert by_id["SW-K8S-001"]["remediation"] and by_id["SW-K8S-001"]["target"] == "kubernetes"
    out = tmp_path / "checks.json"
    proc = run_cli("audit", "--list-checks", "-f", "json", "-o", str(out))
    assert proc.returncode == 0 and json.loads(out.read_text()) == checks
    proc = run_cli("audit", "--list-checks", "-f", "sarif")
    assert proc.returncode == 2 and "table or JSON" in proc.stderr and proc.stdout == ""


def test_kubectl_list_and_json_with_tabs(tmp_path: Path) -> None:
    dump = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "x"},
         "spec": {"hostPID": True, "containers": [{"name": "c", "image": "nginx:1.25"}]}}]}
    (tmp_path / "dump.json").write_text(json.dumps(dump, indent="\t"))
    report = audit_paths([tmp_path / "dump.json"], AuditOptions())
    hit = [f for f in report.findings if f.rule == "SW-K8S-003"]
    assert [(h.resource.name, h.location.line) for h in hit] == [("a", 13)]
    assert not report.warnings


def test_sarif_output_carries_locations(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(PRIVILEGED_POD)
    proc = run_cli("audit", str(tmp_path), "--format", "sarif")
    assert proc.returncode == 0, proc.stderr
    sarif = json.loads(proc.stdout)
    results = sarif["runs"][0]["results"]
    priv = [r for r in results if r["ruleId"] == "SW-K8S-001"]
    assert priv and priv[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 11


def test_init_and_ephemeral_containers_and_yaml_list(tmp_path: Path) -> None:
    (tmp_path / "pods.yaml").write_text("""apiVersion: v1
kind: PodList
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: web, namespace: app}
    spec:
      initContainers:
        - name: setup
          image: busybox:1.36
          securityContext: {runAsUser: 0}
      containers:
        - name: web
          image: nginx:1.25
      ephemeralContainers:
        - name: debugger
          image: nicolaka/netshoot:v0.13
          securityContext:
            capabilities:
              add: [SYS_PTRACE]
""")
    report = audit_paths([tmp_path])
    got = {(f.rule, f.location.line, (f.evidence or "").split(":")[0]) for f in report.findings
           if f.rule in ("SW-K8S-017", "SW-K8S-007")}
    assert got == {("SW-K8S-017", 11, "initContainer setup"),
                   ("SW-K8S-007", 20, "ephemeralContainer debugger")}
    # limits are not settable on ephemeral containers: no limit findings for the debugger
    assert not [f for f in report.findings if f.rule in ("SW-K8S-022", "SW-K8S-023")
                and "debugger" in (f.evidence or "")]


def test_secret_like_names_that_hold_no_secret_are_not_findings(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text("""apiVersion: v1
kind: Pod
metadata: {name: api, namespace: app}
spec:
  containers:
    - name: api
      image: api:1.0
      env:
        - {name: OAUTH_TOKEN_URL, value: "https://login.example.com/oauth2/token"}
        - {name: DB_PASSWORD_FILE, value: /run/secrets/db-password}
        - {name: SECRET_NAME, value: api-credentials}
        - {name: API_KEY, value: "changeme"}
        - {name: SESSION_SECRET, value: "f3e1c9a7b5d3e1f9a7c5"}
        - {name: DATABASE_URL, value: "postgres://app:Sup3rS3cret@db:5432/app"}
""")
    report = audit_paths([tmp_path])
    got = sorted((f.location.line, f.evidence) for f in report.findings if f.rule == "SW-K8S-027")
    # the one secret detector's redaction: a few leading characters, never the secret
    assert got == [(13, "container api: env SESSION_SECRET=f3e1****"),
                   (14, "container api: env DATABASE_URL=Su****")]


def test_ecs_cluster_without_settings_is_not_judged(tmp_path: Path) -> None:
    (tmp_path / "clusters.json").write_text(json.dumps({"clusters": [{
        "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/prod", "clusterName": "prod",
        "status": "ACTIVE"}], "failures": []}))
    report = audit_paths([tmp_path])
    assert report.findings == [] and report.warnings == []


def test_wrongly_typed_fields_are_reported_not_passed(tmp_path: Path) -> None:
    """`containers: "x"` or `privileged: "true"` would make the checks that read the field pass
    silently; each is a skip naming the field, its line and what was expected (the API server
    refuses such an object), and the rest of the object and of the file is still checked."""
    (tmp_path / "bad.yaml").write_text("""apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  template:
    spec:
      containers: "x"
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
spec:
  hostPID: true
  containers:
    - name: c
      image: nginx:1.25
      securityContext:
        privileged: "true"
      env: {A: b}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r, namespace: shop}
rules:
  - {apiGroups: [""], resources: secrets, verbs: ["get"]}
""")
    proc = run_cli("audit", str(tmp_path), "-f", "json")
    report = _json(proc)
    damaged = sorted((s["subject"], s["reason"].split(";")[0]) for s in report["skipped"])
    path = tmp_path / "bad.yaml"
    assert damaged == [
        (f"field rules[0].resources of Role r ({path}:25)", "expected a list, found a string"),
        (f"field spec.containers[0].env of Pod p ({path}:19)", "expected a list, found a mapping"),
        (f"field spec.containers[0].securityContext.privileged of Pod p ({path}:18)",
         "expected a boolean, found a string"),
        (f"field spec.template.spec.containers of Deployment api ({path}:7)",
         "expected a list, found a string"),
    ]
    assert all(s["category"] == "damaged" for s in report["skipped"])
    assert proc.stderr.count("seawall: warning:") == 4
    assert ("SW-K8S-003", "p", 13) in _rules(report)  # the good fields are still checked


def test_a_file_with_findings_is_not_called_skipped(tmp_path: Path) -> None:
    """A file with a Deployment and a custom resource: the Deployment's findings are reported and
    the skip names only the custom resource, counted (it said "file.yaml: skipped (...)" while
    reporting findings from that very file)."""
    (tmp_path / "app.yaml").write_text(PRIVILEGED_POD + """---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: web-tls, namespace: team}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: api-tls, namespace: team}
""")
    report = _json(run_cli("audit", str(tmp_path), "-f", "json"))
    assert ("SW-K8S-001", "debug", 11) in _rules(report)
    path = tmp_path / "app.yaml"
    assert report["skipped"] == [{"subject": f"Certificate object(s) in {path}", "count": 2,
                                  "reason": "no posture check reads this kind", "category": "unsupported"}]
    assert report["warnings"] == [f"2 Certificate object(s) in {path} not analyzed: "
                                  "no posture check reads this kind"]
    assert not any("skipped" in w for w in report["warnings"])
