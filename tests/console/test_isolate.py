"""The console's isolate action on a real (moto server) ECS environment: an ECS Exec session into a
task, read from a CloudTrail file, opens an incident; the analyst sees the `seawall respond` plan
(dry run), the admin applies it and releases it, checked through the AWS APIs; `seawall respond`'s
records land in the service's audit trail (set_trail) and the incident's history."""

from __future__ import annotations

import glob
import gzip
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from devtools.samples.respond import ecs_env
from tests.conftest import REPO
from tests.service.conftest import Service, make_token, wait_for, write_config

pytestmark = [pytest.mark.network, pytest.mark.slow]


@pytest.fixture()
def moto_ecs() -> Iterator[tuple[str, dict[str, Any]]]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    ecs_env.install()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    import httpx

    httpx.post(url + "/moto-api/reset")
    saved = {
        k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="eu-west-1"
    )
    try:
        yield url, ecs_env.build(url)
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def exec_record(task_arn: str) -> dict[str, Any]:
    path = glob.glob(str(REPO / "devtools/samples/logs/cloudtrail/*.json.gz"))[0]
    records = orjson.loads(gzip.decompress(Path(path).read_bytes()))["Records"]
    rec = next(r for r in records if r["eventName"] == "ExecuteCommand")
    rec["requestParameters"]["task"] = task_arn
    return rec


def test_isolate_an_ecs_task_from_its_incident(tmp_path: Path, moto_ecs: tuple[str, dict[str, Any]]) -> None:
    url, ids = moto_ecs
    suspect = ids["tasks"][0]
    trail = tmp_path / "trail"
    trail.mkdir()
    (trail / "exec.json").write_bytes(orjson.dumps({"Records": [exec_record(suspect["arn"])]}))
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 's.db'}",
        [{"name": "trail", "type": "file", "format": "cloudtrail", "paths": [str(trail)]}],
        respond={"region": "eu-west-1", "endpoint_url": url, "evidence_dir": str(tmp_path / "evidence")},
    )
    analyst, admin = make_token(config, "analyst"), make_token(config, "admin")
    env = {
        "SEAWALL_AWS_ENDPOINT_URL": url,
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    }
    svc = Service(config, env).start()
    ec2, elb = ecs_env.client(url, "ec2"), ecs_env.client(url, "elbv2")

    def deny_entries() -> int:
        return sum(
            1
            for acl in ec2.describe_network_acls()["NetworkAcls"]
            for e in acl["Entries"]
            if e.get("CidrBlock") == f"{suspect['ip']}/32"
        )

    def targets() -> set[str]:
        return {
            d["Target"]["Id"]
            for d in elb.describe_target_health(TargetGroupArn=ids["target_group"])[
                "TargetHealthDescriptions"
            ]
        }

    try:
        with svc.client(admin) as c:
            inc = wait_for(
                lambda: next(
                    (i for i in c.get("/api/v1/incidents").json()["items"] if suspect["id"] in i["workload"]),
                    None,
                ),
                60,
                "the ECS Exec incident",
            )
        ref = f"ecs:prod/task/{suspect['id']}"
        with svc.client(analyst) as a:
            page = a.get(f"/incidents/{inc['id']}/isolate")
            assert page.status_code == 200, page.text[:500]
            assert ref in page.text and 'id="plan"' in page.text and "What stays reachable" in page.text
            assert 'id="apply"' not in page.text  # applying needs an admin
            assert a.post(f"/incidents/{inc['id']}/isolate", data={"reason": "x"}).status_code == 403
        assert deny_entries() == 0 and suspect["ip"] in targets()
        with svc.client(admin) as c:
            assert 'id="apply"' in c.get(f"/incidents/{inc['id']}/isolate").text
            r = c.post(
                f"/incidents/{inc['id']}/isolate", data={"action": "isolate", "reason": "IR-7: ECS Exec"}
            )
            assert r.status_code == 303
            assert deny_entries() > 0 and suspect["ip"] not in targets()
            page = c.get(f"/incidents/{inc['id']}/isolate").text
            assert "This workload is isolated since" in page and 'id="release"' in page
            trail_rows = c.get("/api/v1/audit", params={"limit": 1000}).json()["items"]
            done = next(t for t in trail_rows if t["action"] == "respond.isolate")
            assert done["target"] == f"respond:{ref}" and done["detail"]["applied"] is True
            assert done["detail"]["reason"] == "IR-7: ECS Exec" and "test admin" in done["actor"]
            assert done["detail"]["changes"]  # each change with its undo, for release
            hist = c.get(f"/incidents/{inc['id']}").text
            assert "incident.isolate" in hist and "IR-7: ECS Exec" in hist
            r = c.post(f"/incidents/{inc['id']}/isolate", data={"action": "release", "reason": "rebuilt"})
            assert r.status_code == 303
            assert deny_entries() == 0 and suspect["ip"] in targets()
            actions = [t["action"] for t in c.get("/api/v1/audit", params={"limit": 1000}).json()["items"]]
            assert "respond.release" in actions and "incident.release" in actions
    finally:
        svc.kill()
