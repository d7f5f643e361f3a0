"""A LoadBalancer Service names exactly the workloads its selector reaches (same namespace, all labels)."""

from __future__ import annotations

from pathlib import Path

from seawall.posture import audit_paths

MANIFESTS = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: web, tier: front}
  ports: [{port: 443}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: both-labels, namespace: shop}
spec:
  template:
    metadata: {labels: {tier: front, app: web, extra: x}}
    spec: {containers: [{name: c, image: nginx:1.25}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app-only, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx:1.25}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: other-namespace, namespace: data}
spec:
  template:
    metadata: {labels: {app: web, tier: front}}
    spec: {containers: [{name: c, image: nginx:1.25}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: also-both, namespace: shop}
spec:
  schedule: "0 * * * *"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: web, tier: front}}
        spec: {containers: [{name: c, image: nginx:1.25}]}
---
apiVersion: v1
kind: Service
metadata: {name: nothing, namespace: shop}
spec:
  type: NodePort
  selector: {app: web, tier: back}
  ports: [{port: 80}]
"""


def test_service_reaches_only_matching_workloads_in_its_namespace(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(MANIFESTS)
    report = audit_paths([tmp_path])
    lb = [f for f in report.findings if f.rule == "SW-K8S-050"]
    assert len(lb) == 1
    assert lb[0].extra["workloads"] == ["Deployment/both-labels", "CronJob/also-both"]
    assert lb[0].resource.workload == "Deployment/both-labels"
    assert lb[0].location.line == 5
    node_port = [f for f in report.findings if f.rule == "SW-K8S-051"]
    assert len(node_port) == 1
    assert node_port[0].extra["workloads"] == []
    assert "no workload in this input" in (node_port[0].evidence or "")
