"""Security Lake from the service's store: `seawall export securitylake` to S3 (moto's server)
and the scheduled export of a running service to a directory, in the custom-source layout."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from seawall import analyzers
from seawall.detect import DetectOptions
from tests.conftest import REPO, run_cli
from tests.export.test_securityhub import REGION, moto_url  # noqa: F401 (the fixture)
from tests.service.conftest import Service, make_token, wait_for, write_config

pytestmark = [pytest.mark.network]

ACCOUNT = "111122223333"


def _store_with_findings(tmp_path: Path) -> tuple[Path, dict[int, int]]:
    from seawall.service.store import Counters, Store

    config = write_config(
        tmp_path, f"sqlite:///{tmp_path / 's.db'}", [{"name": "trail", "type": "k8s-audit-webhook"}]
    )
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.migrate()
    store.load_source("trail", "k8s-audit-webhook")
    options = DetectOptions(source="cloudtrail", paths=[], workers=1)
    detections = (
        analyzers.get("detect").run([str(REPO / "devtools/samples/logs/cloudtrail")], options).findings
    )
    posture = analyzers.run("audit", [str(REPO / "devtools/samples/posture/ecs")]).findings
    store.commit("trail", detections + posture, {}, None, Counters())
    store.close()
    return config, {2004: len({f.id for f in detections}), 2003: len({f.id for f in posture})}


def test_export_to_s3_in_the_custom_source_layout(tmp_path: Path, moto_url: str) -> None:  # noqa: F811
    import boto3

    config, expected = _store_with_findings(tmp_path)
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name=REGION)
    s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": REGION})
    args = [
        "export",
        "securitylake",
        "--config",
        str(config),
        "--dest",
        "s3://lake/data",
        "--region",
        REGION,
        "--account",
        ACCOUNT,
        "--endpoint-url",
        moto_url,
    ]
    out = run_cli(*args)
    assert out.returncode == 0, out.stderr
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]]
    rows: dict[int, int] = {}
    for key in keys:
        m = re.fullmatch(
            r"data/ext/seawall-(\w+)-finding/region=eu-west-1/accountId=111122223333/"
            r"eventDay=(\d{8})/[0-9a-f]{32}\.zstd\.parquet",
            key,
        )
        assert m, key
        table = pq.read_table(io.BytesIO(s3.get_object(Bucket="lake", Key=key)["Body"].read()))
        classes = set(table.column("class_uid").to_pylist())
        assert len(classes) == 1  # one class per source
        uid = classes.pop()
        assert {2003: "compliance", 2004: "detection"}[uid] == m.group(1)
        rows[uid] = rows.get(uid, 0) + table.num_rows
    assert rows == expected
    again = run_cli(*args)
    assert "securitylake: 0 sent" in again.stdout  # nothing changed since the last run
    assert len(s3.list_objects_v2(Bucket="lake")["Contents"]) == len(keys)


def test_the_service_exports_on_a_schedule(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 's.db'}",
        [{"name": "audit", "type": "k8s-audit-webhook"}],
        exports={"securitylake": {"dest": str(lake), "region": REGION, "account": ACCOUNT, "interval": 1}},
    )
    admin = make_token(config, "admin")
    svc = Service(config).start()
    try:
        from tests.service.conftest import audit_items, event_list

        items = audit_items()
        with svc.client(admin) as c:
            assert c.post("/api/v1/ingest/k8s-audit", content=event_list(items)).status_code == 200
            wait_for(
                lambda: c.get("/api/v1/sources").json()["items"][0]["events_in"] == len(items), 90, "ingest"
            )
            total = len(c.get("/api/v1/findings", params={"limit": 1000}).json()["items"])

            def exported() -> int:
                return sum(pq.read_table(p).num_rows for p in lake.glob("ext/*/*/*/*/*.parquet"))

            wait_for(lambda: exported() >= total, 60, "the scheduled export")
            page = c.get("/notifications").text
            assert "securitylake" in page
            metrics = c.get("/metrics").text
            assert re.search(r'seawall_export_findings_total\{export="securitylake"\} [1-9]', metrics)
    finally:
        svc.kill()
