"""Security Hub export against moto's server: ASFF through BatchImportFindings, limits kept,
payloads valid against the ASFF schema (botocore's model of the API), state carried so that an
update or a resolution updates the same finding, and running the export twice adds nothing.

moto implements BatchImportFindings (upsert by Id) and GetFindings (without filters); it has no
BatchUpdateFindings and checks none of ASFF's fields, so every payload is validated here against
the schema generated from botocore's service model (`seawall.export.securityhub.asff_schema`).
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from seawall import analyzers
from seawall.core import Finding
from seawall.export import securityhub as sh
from tests.conftest import REPO, run_cli
from tests.service.conftest import Service, audit_items, event_list, make_token, wait_for, write_config

pytestmark = [pytest.mark.network]

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account (STS GetCallerIdentity answers it)


@pytest.fixture()
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    old = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION)
    url = f"http://127.0.0.1:{port}"
    import httpx

    httpx.post(url + "/moto-api/reset")  # moto's backends live in this process, across servers
    try:
        yield url
    finally:
        server.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def hub(url: str) -> Any:
    return boto3.client("securityhub", endpoint_url=url, region_name=REGION)


def all_hub_findings(client: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = None
    while True:
        kw: dict[str, Any] = {"MaxResults": 100}
        if token:
            kw["NextToken"] = token
        page = client.get_findings(**kw)
        out.extend(page["Findings"])
        token = page.get("NextToken")
        if not token:
            return out


def recording(client: Any) -> list[list[dict[str, Any]]]:
    """Every BatchImportFindings request the (real) client sends, as sent."""
    calls: list[list[dict[str, Any]]] = []

    def before(params: dict[str, Any], **_: Any) -> None:
        calls.append(params["Findings"])

    client.meta.events.register("provide-client-params.securityhub.BatchImportFindings", before)
    return calls


def test_asff_of_real_findings_is_valid_and_typed_as_security_hub_expects() -> None:
    posture = analyzers.run(
        "audit",
        [
            str(REPO / "devtools/samples/posture/ecs"),
            str(REPO / "devtools/samples/posture/eks"),
            str(REPO / "devtools/samples/posture/ecr"),
        ],
    )
    ctx = sh.Context(REGION, ACCOUNT, eks_cluster="prod")
    types: set[str] = set()
    for f in posture.findings:
        asff = sh.to_asff(f.to_dict(), ctx, None, "2026-03-02T10:00:00.000000Z")
        assert sh.validate(asff) == [], (f.rule, sh.validate(asff))
        types |= {r["Type"] for r in asff["Resources"]}
        expected = {
            "misconfiguration": "Software and Configuration Checks/Industry and Regulatory Standards",
            "exposure": "Effects/Data Exposure",
            "secret": "Sensitive Data Identifications/Passwords",
        }
        assert asff["Types"] == [expected[f.kind.value]]
    assert {"AwsEcsTaskDefinition", "AwsEksCluster", "AwsEcrRepository"} <= types
    # an ECR image: its registry, repository and digest; another registry's image: a Container
    vuln = {
        "id": "f" * 64,
        "kind": "vulnerability",
        "rule": "CVE-2021-44228",
        "title": "log4j-core 2.14.1: Log4Shell",
        "severity": "critical",
        "resource": {
            "type": "container-image",
            "name": "111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/api:1.4",
        },
        "location": {"digest": "sha256:" + "a" * 64},
        "vulnerability": {
            "id": "GHSA-jfh8-c2jp-5v3q",
            "aliases": ["CVE-2021-44228"],
            "cvss": {"vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "score": 10.0},
            "fixed_versions": ["2.15.0"],
        },
        "package": {"name": "org.apache.logging.log4j:log4j-core", "version": "2.14.1", "ecosystem": "Maven"},
        "references": ["https://nvd.nist.gov/vuln/detail/CVE-2021-44228"],
        "evidence": "",
        "count": 1,
    }
    asff = sh.to_asff(vuln, ctx, None, "2026-03-02T10:00:00Z")
    assert sh.validate(asff) == []
    res = asff["Resources"][0]
    assert res["Type"] == "AwsEcrContainerImage" and res["Region"] == "eu-west-1"
    assert res["Id"] == f"arn:aws:ecr:eu-west-1:111122223333:repository/shop/api/sha256:{'a' * 64}"
    assert res["Details"]["AwsEcrContainerImage"] == {
        "RegistryId": "111122223333",
        "RepositoryName": "shop/api",
        "ImageDigest": "sha256:" + "a" * 64,
        "ImageTags": ["1.4"],
    }
    assert (
        asff["Vulnerabilities"][0]["Id"] == "CVE-2021-44228"
        and asff["Vulnerabilities"][0]["FixAvailable"] == "YES"
    )
    assert asff["Types"] == ["Software and Configuration Checks/Vulnerabilities/CVE"]
    other = sh.to_asff(
        {**vuln, "resource": {"type": "container-image", "name": "docker.io/library/nginx:1.25"}},
        ctx,
        None,
        "2026-03-02T10:00:00Z",
    )
    assert other["Resources"][0]["Type"] == "Container"
    task = sh.to_asff(
        {
            **vuln,
            "kind": "detection",
            "attack": ["T1609"],
            "resource": {"type": "ecs:task", "name": "7e0c1f0a5b6d4c3e", "namespace": "prod"},
        },
        ctx,
        "resolved",
        "2026-03-02T10:00:00Z",
    )
    assert task["Resources"][0] == {
        "Type": "AwsEcsTask",
        "Id": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/prod/7e0c1f0a5b6d4c3e",
        "Partition": "aws",
        "Region": REGION,
        "Details": {"AwsEcsTask": {"ClusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod"}},
    }
    assert task["Types"] == ["TTPs/Execution"] and task["RecordState"] == "ARCHIVED"
    assert task["Workflow"] == {"Status": "RESOLVED"}


def test_limits_per_finding_and_per_request() -> None:
    base = sh.to_asff(
        {
            "id": "0",
            "kind": "detection",
            "rule": "r",
            "title": "t",
            "severity": "high",
            "resource": {"type": "k8s:Pod", "name": "p", "namespace": "n"},
            "evidence": "x",
        },
        sh.Context(REGION, ACCOUNT),
        None,
        "2026-03-02T10:00:00Z",
    )
    items = [{**base, "Id": f"seawall/{i}"} for i in range(250)]
    sizes = [len(b) for b in sh.batches(items)]
    assert sizes == [100, 100, 50]
    big = {**base, "ProductFields": {f"k{i}": "v" * 1000 for i in range(300)}}  # ~300 KB
    assert sh.size_of(big) > sh.MAX_FINDING_BYTES
    cut = sh.fit(big)
    assert cut is not None and sh.size_of(cut) <= sh.MAX_FINDING_BYTES and "ProductFields" not in cut
    fat = [
        {
            **base,
            "Id": f"seawall/f{i}",
            "Note": {"Text": "n" * 500, "UpdatedBy": "x", "UpdatedAt": "2026"},
            "UserDefinedFields": {f"u{j}": "v" * 1000 for j in range(200)},
        }
        for i in range(60)
    ]  # ~200 KB each
    for batch in sh.batches(fat):
        assert len(orjson.dumps({"Findings": batch})) <= sh.MAX_REQUEST_BYTES
    limiter = sh.RateLimiter(rate=10.0, burst=3)
    import time

    t0 = time.monotonic()
    for _ in range(8):
        limiter.acquire()
    assert time.monotonic() - t0 >= 0.45  # 3 at once, then 10 per second


def test_export_is_idempotent_and_tracks_state(tmp_path: Path, moto_url: str) -> None:
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 's.db'}",
        [{"name": "audit", "type": "k8s-audit-webhook"}],
        exports={
            "securityhub": {"region": REGION, "eks_cluster": "prod", "console_url": "https://seawall.example"}
        },
    )
    admin = make_token(config, "admin")
    svc = Service(config).start()
    try:
        items = audit_items()
        with svc.client(admin) as c:
            assert c.post("/api/v1/ingest/k8s-audit", content=event_list(items)).status_code == 200
            wait_for(
                lambda: c.get("/api/v1/sources").json()["items"][0]["events_in"] == len(items), 90, "ingest"
            )
            stored = c.get("/api/v1/findings", params={"limit": 1000}).json()["items"]
            incident = next(
                i for i in c.get("/api/v1/incidents").json()["items"] if "etl-debug" in i["workload"]
            )
    finally:
        svc.stop()
    args = ["export", "securityhub", "--config", str(config), "--region", REGION, "--endpoint-url", moto_url]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert f"securityhub: {len(stored)} sent, 0 unchanged" in first.stdout
    client = hub(moto_url)
    found = all_hub_findings(client)
    assert len(found) == len(stored)
    assert {f["Id"] for f in found} == {f"seawall/{f['id']}" for f in stored}
    for f in found:
        assert f["ProductArn"] == f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default"
        assert f["RecordState"] == "ACTIVE" and f["Workflow"]["Status"] == "NEW"
        assert sh.validate(f) == [], sh.validate(f)
    second = run_cli(*args)
    assert (
        second.returncode == 0 and f"0 sent, {len(stored)} unchanged" not in second.stdout
    )  # watermark: none read
    assert "securityhub: 0 sent" in second.stdout
    assert len(all_hub_findings(client)) == len(stored)
    full = run_cli(*args, "--full")
    assert f"securityhub: 0 sent, {len(stored)} unchanged" in full.stdout  # fingerprints: nothing to send
    # resolve the incident through the API: its findings are updated in place, archived
    svc = Service(config).start()
    try:
        with svc.client(admin) as c:
            assert (
                c.post(f"/api/v1/incidents/{incident['id']}/state", json={"state": "resolved"}).status_code
                == 200
            )
    finally:
        svc.stop()
    third = run_cli(*args)
    assert f"securityhub: {incident['finding_count']} sent" in third.stdout, third.stdout
    after = {f["Id"]: f for f in all_hub_findings(client)}
    assert len(after) == len(stored)
    for fid in incident["finding_ids"]:
        f = after[f"seawall/{fid}"]
        assert f["RecordState"] == "ARCHIVED" and f["Workflow"]["Status"] == "RESOLVED"
        assert f["SourceUrl"] == f"https://seawall.example/incidents/{incident['id']}"
    others = [f for i, f in after.items() if i[len("seawall/") :] not in incident["finding_ids"]]
    assert others and all(f["RecordState"] == "ACTIVE" for f in others)


def test_a_thousand_findings_in_batches_within_the_limits(tmp_path: Path, moto_url: str) -> None:
    from seawall.service.exports import run_securityhub
    from seawall.service.store import Counters, Store

    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.migrate()
    store.load_source("audit", "k8s-audit-webhook")
    template = next(f for f in analyzers.run("audit", [str(REPO / "devtools/samples/posture/ecs")]).findings)
    made = []
    for i in range(1234):
        d = template.to_dict()
        d.pop("id", None)
        d["rule"] = f"{template.rule}-{i}"
        d["evidence"] = f"line {i}: AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        made.append(Finding.from_dict(d))
    store.commit("audit", made, {}, None, Counters())
    client = hub(moto_url)
    calls = recording(client)
    result = run_securityhub(store, {"region": REGION, "account": ACCOUNT}, client=client)
    assert result.sent == 1234 and result.failed == 0
    assert len(calls) == 13 and max(len(c) for c in calls) == 100
    for batch in calls:
        assert len(orjson.dumps({"Findings": batch})) <= sh.MAX_REQUEST_BYTES
        for f in batch:
            assert sh.size_of(f) <= sh.MAX_FINDING_BYTES
            assert "wJalrXUtnFEMI" not in f["Description"]  # evidence redacted
    for f in calls[0][:20]:
        assert sh.validate(f) == []
    ids = [f["Id"] for f in all_hub_findings(client)]
    assert set(ids) >= {f"seawall/{f.id}" for f in made}
    assert len(set(ids)) == len(ids), len(ids) - len(set(ids))
    again = run_securityhub(store, {"region": REGION, "account": ACCOUNT}, client=client, full=True)
    assert again.sent == 0 and again.unchanged == 1234 and len(calls) == 13
    store.close()


def test_the_service_exports_to_security_hub_on_a_schedule(tmp_path: Path, moto_url: str) -> None:
    """`exports.securityhub.interval`: the running service imports its findings into moto's
    Security Hub by itself, and a resolution through the API reaches the same findings (archived,
    RESOLVED) on a later run, without adding one; the runs show on the console and in /metrics."""
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 's.db'}",
        [{"name": "audit", "type": "k8s-audit-webhook"}],
        exports={
            "securityhub": {"region": REGION, "endpoint_url": moto_url, "interval": 1, "eks_cluster": "prod"}
        },
    )
    admin = make_token(config, "admin")
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}
    svc = Service(config, env).start()
    client = hub(moto_url)
    try:
        items = audit_items()
        with svc.client(admin) as c:
            assert c.post("/api/v1/ingest/k8s-audit", content=event_list(items)).status_code == 200
            wait_for(
                lambda: c.get("/api/v1/sources").json()["items"][0]["events_in"] == len(items), 90, "ingest"
            )
            stored = c.get("/api/v1/findings", params={"limit": 1000}).json()["items"]
            wait_for(lambda: len(all_hub_findings(client)) >= len(stored), 60, "the scheduled import")
            assert {f["Id"] for f in all_hub_findings(client)} == {f"seawall/{f['id']}" for f in stored}
            incident = next(
                i for i in c.get("/api/v1/incidents").json()["items"] if "etl-debug" in i["workload"]
            )
            r = c.post(f"/api/v1/incidents/{incident['id']}/state", json={"state": "resolved"})
            assert r.status_code == 200

            def archived() -> bool:
                now = {f["Id"]: f for f in all_hub_findings(client)}
                return all(
                    now[f"seawall/{fid}"]["RecordState"] == "ARCHIVED" for fid in incident["finding_ids"]
                )

            wait_for(archived, 60, "the resolution exported")
            after = all_hub_findings(client)
            assert len(after) == len(stored)  # updated in place, nothing added
            assert all(
                f["Workflow"]["Status"] == "RESOLVED"
                for f in after
                if f["Id"][len("seawall/") :] in incident["finding_ids"]
            )
            page = c.get("/notifications").text
            assert "securityhub" in page
            metrics = c.get("/metrics").text
            m = re.search(r'seawall_export_findings_total\{export="securityhub"\} (\d+)', metrics)
            assert m and int(m.group(1)) >= len(stored) + len(incident["finding_ids"])
    finally:
        svc.kill()
