"""Scheduled jobs against real parts: `scan` over a real registry (Debian's docker-registry, TLS +
htpasswd, the `_catalog` and tags lists) and `audit` of manifests and of an AWS account (moto in
server mode). Their findings land in the store, pinned to the workloads that run the images, so
an incident of that workload shows the image, its vulnerabilities and its posture findings."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.registry import Registry, available, push, running_registry
from seawall.service.sources.jobs import repository_of, resource_of, workloads_running
from seawall.service.workloads import workload_of
from tests.conftest import run_cli
from tests.scan.conftest import FAKE_SECRET, demo, demo_db  # noqa: F401 (session fixtures)
from tests.service.conftest import (
    all_pages,
    audit_items,
    event_list,
    make_token,
    source_row,
    wait_for,
    write_config,
)

FRONTEND = "k8s/shop/Deployment/frontend"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      containers:
        - name: web
          image: IMAGE
          securityContext: {privileged: PRIVILEGED}
"""


def test_workload_keys_and_repositories() -> None:
    for key in (
        FRONTEND,
        "k8s/shop/StatefulSet/db",
        "ecs/prod/api",
        "container/9c4d3b2a1f0e",
        "k8s/-/Node/n1",
    ):
        assert workload_of(resource_of(key)).key == key
    assert repository_of("registry:127.0.0.1:5000/shop/frontend:1") == "shop/frontend"
    assert repository_of("registry.example/team/app@sha256:ab") == "team/app"
    assert repository_of("frontend:1") == "frontend"
    known = {FRONTEND: [], "k8s/shop/Deployment/api": [{"ref": "x", "digest": "sha256:aa"}], "k8s/web": []}
    assert workloads_running("registry:h:1/shop/frontend:2", "sha256:aa", known, {}) == [
        "k8s/shop/Deployment/api",  # runs that digest
        FRONTEND,  # named like the repository
    ]
    assert workloads_running("registry:h:1/other:2", None, known, {"other": ["ecs/prod/x"]}) == ["ecs/prod/x"]


@pytest.fixture(scope="module")
def registry_with_shop(demo) -> Iterator[Registry]:  # noqa: F811
    reason = available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with running_registry() as reg:
        push(reg, f"oci:{demo.oci_dir}:{demo.tag}", "shop/frontend:1")
        push(reg, f"oci:{demo.oci_dir}:{demo.tag}", "tools/cli:0.9")
        yield reg


def _scan_cli(reg: Registry, ref: str, db: Path, home: Path) -> list[dict[str, Any]]:
    env = {
        "SEAWALL_REGISTRY_USERNAME": reg.username,
        "SEAWALL_REGISTRY_PASSWORD": reg.password,
        "HOME": str(home),
        "TMPDIR": str(home),
    }
    out = run_cli(
        "scan",
        "image",
        ref,
        "--ca-cert",
        str(reg.ca_cert),
        "--db",
        str(db),
        "--offline",
        "--format",
        "json",
        env=env,
    )
    assert out.returncode in (0, 1), out.stderr[-2000:]
    return list(json.loads(out.stdout)["findings"])


@pytest.mark.slow
def test_registry_scan_and_manifest_audit_show_in_the_incident(
    tmp_path,
    database,
    service_factory,
    registry_with_shop,
    demo_db,  # noqa: F811
) -> None:
    reg = registry_with_shop
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    deployment = manifests / "frontend.yaml"
    image = f"{reg.host}/shop/frontend:1"
    deployment.write_text(DEPLOYMENT.replace("IMAGE", image).replace("PRIVILEGED", "true"))
    config = write_config(
        tmp_path,
        database,
        sources=[
            {"name": "audit", "type": "k8s-audit-webhook"},
            {
                "name": "nightly",
                "type": "scan",
                "registry": reg.host,
                "ca_cert": str(reg.ca_cert),
                "username": reg.username,
                "password_env": "TEST_REGISTRY_PASSWORD",
                "db": str(demo_db),
                "offline": True,
                "interval": "1d",
                # the first run may come before any event names the Deployment: mapped explicitly
                # (the matching by digest and by name is tested above)
                "workloads": {"shop/frontend": [FRONTEND]},
            },
            {"name": "manifests", "type": "audit", "paths": [str(manifests)], "interval": 3},
        ],
    )
    token = make_token(config, "admin")
    home = tmp_path / "home"
    home.mkdir()
    svc = service_factory(
        config, env={"TEST_REGISTRY_PASSWORD": reg.password, "HOME": str(home), "TMPDIR": str(home)}
    ).start()
    # an exec into a pod of the frontend Deployment, through the webhook
    ev = dict(audit_items()[0])
    ev.update(
        verb="create",
        stage="ResponseStarted",
        objectRef={
            "resource": "pods",
            "subresource": "exec",
            "namespace": "shop",
            "name": "frontend-6f7d9c8b4-x2kqz",
            "apiVersion": "v1",
        },
        requestURI="/api/v1/namespaces/shop/pods/frontend-6f7d9c8b4-x2kqz/exec?command=sh",
    )
    with svc.client(token) as c:
        assert c.post("/api/v1/ingest/k8s-audit/audit", content=event_list([ev])).status_code == 200
        wait_for(lambda: source_row(c, "nightly").get("runs", 0) >= 1, timeout=600, what="the registry scan")
        wait_for(lambda: source_row(c, "manifests").get("runs", 0) >= 1, timeout=120, what="the audit")
        nightly = source_row(c, "nightly")
        assert nightly["state"] == "scheduled" and nightly["interval"] == 86400 and not nightly["job_error"]
        assert any("database is" in w for w in nightly["job_warnings"])  # the scan's own warnings
        scanned = all_pages(c, "/api/v1/findings", source="nightly")
        # both repositories of the _catalog, every tag: the same findings as `seawall scan image`
        for ref, workload in (
            (f"registry:{reg.host}/shop/frontend:1", FRONTEND),
            (f"registry:{reg.host}/tools/cli:0.9", None),
        ):
            cli = _scan_cli(reg, ref, demo_db, home)
            mine = [f for f in scanned if f["extra"]["image"] == ref]
            assert sorted((f["rule"], (f.get("package") or {}).get("name", "")) for f in mine) == sorted(
                (f["rule"], (f.get("package") or {}).get("name", "")) for f in cli
            )
            digests = {f["extra"]["image_digest"] for f in mine}
            assert len(digests) == 1 and next(iter(digests)).startswith("sha256:")
            if workload:  # mapped to the Deployment: pinned to it
                assert {f["workload"] for f in mine} == {workload}
            else:  # no workload runs tools/cli: kept under the image
                assert {f["resource"]["type"] for f in mine} == {"container-image"}
        assert FAKE_SECRET not in json.dumps(scanned)
        posture = all_pages(c, "/api/v1/findings", source="manifests", workload=FRONTEND)
        assert any(f["kind"] == "misconfiguration" and "privileged" in f["title"].lower() for f in posture)

        wait_for(lambda: source_row(c, "audit")["events_in"] == 1, what="the exec event committed")
        listed = all_pages(c, "/api/v1/incidents")
        mine_inc = [i for i in listed if i["workload"] == FRONTEND]
        assert mine_inc, (listed, all_pages(c, "/api/v1/findings", source="audit"))
        incident = mine_inc[0]
        detail = c.get(f"/api/v1/incidents/{incident['id']}").json()
        assert "SW-K8S-EXEC" in [t["rule"] for t in detail["timeline"]]
        known = detail["known"]
        assert any(k["kind"] == "vulnerability" and k["package"]["name"].lower() == "django" for k in known)
        assert any(k["kind"] == "misconfiguration" and k["source"] == "manifests" for k in known)
        assert [i["digest"] for i in detail["images"]] == [next(iter(digests))]
        assert "known vulnerabilities" in detail["summary"] or "with " in detail["summary"]
        workloads = {w["key"]: w for w in c.get("/api/v1/workloads").json()["items"]}
        assert workloads[FRONTEND]["findings"].get("vulnerability", 0) > 0

        # the manifest fixed: the next audit run removes the privileged finding, keeps the rest
        privileged = {f["id"] for f in posture if "privileged" in f["title"].lower()}
        deployment.write_text(DEPLOYMENT.replace("IMAGE", image).replace("PRIVILEGED", "false"))
        runs = source_row(c, "manifests")["runs"]
        wait_for(lambda: source_row(c, "manifests")["runs"] >= runs + 2, timeout=120, what="two more runs")
        after = {f["id"] for f in all_pages(c, "/api/v1/findings", source="manifests")}
        assert after and not (privileged & after)


# -- AWS --------------------------------------------------------------------------------------------


CREDS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
}


@pytest.mark.slow
def test_aws_account_audit_lands_in_the_store(tmp_path, database, service_factory, moto_url) -> None:
    ecs = boto3.client(
        "ecs",
        endpoint_url=moto_url,
        region_name="eu-west-1",
        **{"aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
    )
    ecs.create_cluster(clusterName="prod")
    ecs.register_task_definition(
        family="api",
        containerDefinitions=[
            {
                "name": "api",
                "image": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/api:1",
                "privileged": True,
                "memory": 512,
                "environment": [{"name": "DB_PASSWORD", "value": "s3cr3t-prod-pw"}],
            }
        ],
    )
    ecr = boto3.client(
        "ecr",
        endpoint_url=moto_url,
        region_name="eu-west-1",
        **{"aws_access_key_id": "testing", "aws_secret_access_key": "testing"},
    )
    ecr.create_repository(repositoryName="api")
    config = write_config(
        tmp_path,
        database,
        sources=[
            {
                "name": "prod-aws",
                "type": "audit",
                "target": "aws",
                "regions": ["eu-west-1"],
                "endpoint_url": moto_url,
                "interval": "1h",
            },
        ],
    )
    token = make_token(config, "viewer")
    svc = service_factory(config, env=CREDS).start()
    cli = run_cli(
        "audit", "aws", "--region", "eu-west-1", "--endpoint-url", moto_url, "--format", "json", env=CREDS
    )
    assert cli.returncode in (0, 1), cli.stderr[-2000:]
    expected = sorted((f["rule"], f["resource"]["name"]) for f in json.loads(cli.stdout)["findings"])
    assert expected, "moto's account must give findings"
    with svc.client(token) as c:
        wait_for(lambda: source_row(c, "prod-aws").get("runs", 0) >= 1, timeout=300, what="the AWS audit")
        assert not source_row(c, "prod-aws")["job_error"]
        stored = all_pages(c, "/api/v1/findings", source="prod-aws")
        assert sorted((f["rule"], f["resource"]["name"]) for f in stored) == expected
        assert "s3cr3t-prod-pw" not in json.dumps(stored)
        assert source_row(c, "prod-aws")["findings_out"] == len(stored)
