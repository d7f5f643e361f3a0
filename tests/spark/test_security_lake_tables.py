"""Detection over Amazon Security Lake OCSF tables: the CloudTrail and EKS audit samples are
written as Security Lake stores them (OCSF 1.1 API Activity, Parquet, per the published OCSF
mappings, unmapped fields in `unmapped`), and the same rules find the same stories."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from seawall import analyzers
from seawall.detect import DetectOptions
from seawall.spark.detect import detect_table

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "devtools/samples/logs"

# The published mappings (OCSF examples' event dossiers), raw dotted path -> OCSF dotted path,
# written out here on their own so that the test does not reuse the code it checks.
CLOUDTRAIL_TO_OCSF = {
    "userIdentity.accountId": "actor.user.account.uid",
    "userIdentity.accessKeyId": "actor.user.credential_uid",
    "userIdentity.userName": "actor.user.name", "userIdentity.type": "actor.user.type",
    "userIdentity.principalId": "actor.user.uid_alt", "userIdentity.arn": "actor.user.uid",
    "userIdentity.sessionContext.sessionIssuer.arn": "actor.session.issuer",
    "userIdentity.invokedBy": "actor.invoked_by", "requestID": "api.request.uid",
    "eventSource": "api.service.name", "apiVersion": "api.version", "eventName": "api.operation",
    "awsRegion": "cloud.region", "recipientAccountId": "cloud.account.uid",
    "userAgent": "http_request.user_agent",
    "eventVersion": "metadata.product.version", "eventID": "metadata.uid", "eventType": "metadata.event_code",
    "errorCode": "api.response.error", "errorMessage": "api.response.message",
    "requestParameters": "api.request.data", "responseElements": "api.response.data",
    "sourceIPAddress": "src_endpoint.ip",
}
EKS_TO_OCSF = {
    "level": "metadata.log_level", "auditID": "api.request.uid", "stage": "message",
    "requestURI": "http_request.url.path", "verb": "api.operation", "user.username": "actor.user.name",
    "user.uid": "actor.user.uid", "userAgent": "http_request.user_agent",
    "objectRef.apiVersion": "api.version",
    "objectRef.apiGroup": "api.group.name", "responseStatus.code": "api.response.code",
    "responseStatus.message": "api.response.message", "responseStatus.reason": "api.response.error",
    "responseStatus.status": "api.response.error_message",
}


def _remove(doc: Any, path: list[str]) -> None:
    """Drop a mapped field from the copy that becomes `unmapped` (and parents left empty)."""
    if not isinstance(doc, dict) or path[0] not in doc:
        return
    if len(path) == 1:
        del doc[path[0]]
        return
    _remove(doc[path[0]], path[1:])
    if doc[path[0]] == {}:
        del doc[path[0]]


def _put(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for p in parents:
        doc = doc.setdefault(p, {})
    doc[last] = value


def _ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _ocsf(raw: dict[str, Any], mapping: dict[str, str], time_key: str) -> dict[str, Any]:
    event: dict[str, Any] = {"class_uid": 6003, "category_uid": 6, "activity_id": 99,
                             "metadata": {"version": "1.1.0"}, "unmapped": {}}
    rest = orjson.loads(orjson.dumps(raw))
    for src, dst in mapping.items():
        value = raw
        for part in src.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            if isinstance(value, (dict, list)):
                value = orjson.dumps(value).decode()  # Security Lake keeps request/response data as text
            _put(event, dst, value)
            _remove(rest, src.split("."))
    # what no mapping names stays in `unmapped` (a map of strings: JSON text for objects)
    for key, value in rest.items():
        event["unmapped"][key] = value if isinstance(value, str) else orjson.dumps(value).decode()
    event["time"] = _ms(raw[time_key])
    event["time_dt"] = raw[time_key]
    return event


def _write(events: list[dict[str, Any]], path: Path) -> None:
    for e in events:
        e["unmapped"] = list(e["unmapped"].items())  # map<string,string>
    table = pa.Table.from_struct_array(pa.array(events, type=None))
    pq.write_table(table, path)


def _compare(one: Any, lake: Any) -> None:
    def key(findings: list[Any]) -> list[tuple[Any, ...]]:
        return sorted((f.rule, f.count, f.first_seen, f.last_seen, f.resource.name, f.resource.namespace)
                      for f in findings)
    assert key(lake.findings) == key(one.findings)


def test_cloudtrail_security_lake_table(spark: Any, tmp_path: Path) -> None:
    files = sorted((SAMPLES / "cloudtrail").glob("*.json.gz"))
    records = [r for f in files for r in orjson.loads(gzip.decompress(f.read_bytes()))["Records"]]
    _write([_ocsf(r, CLOUDTRAIL_TO_OCSF, "eventTime") for r in records], tmp_path / "part-0.parquet")
    options = DetectOptions(source="cloudtrail", paths=[], workers=1)
    one = analyzers.get("detect").run([str(SAMPLES / "cloudtrail")], options)
    lake = detect_table(spark, [str(tmp_path)], DetectOptions(source="cloudtrail", paths=[]))
    assert len(one.findings) >= 10
    _compare(one, lake)
    assert all(f.location.path.endswith("part-0.parquet") for f in lake.findings)


def test_eks_audit_security_lake_table(spark: Any, tmp_path: Path) -> None:
    path = SAMPLES / "k8s-audit/kube-apiserver-audit.log.gz"
    events = [orjson.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines() if line.strip()]
    ocsf = []
    for raw in events:
        e = _ocsf(raw, EKS_TO_OCSF, "stageTimestamp")
        groups = (raw.get("user") or {}).get("groups") or []
        e["actor"]["user"]["groups"] = [{"name": g} for g in groups]
        ips = raw.get("sourceIPs") or []
        if ips:
            e["src_endpoint"] = {"ip": ips[0], "intermediate_ips": ips[1:]}
        ref = raw.get("objectRef") or {}
        if ref:
            kind = ref.get("resource", "") + ("/" + ref["subresource"] if ref.get("subresource") else "")
            e["resources"] = [{"type": kind, "name": ref.get("name"), "namespace": ref.get("namespace"),
                               "uid": ref.get("uid")}]
        e["unmapped"].pop("sourceIPs", None)
        if "user" in e["unmapped"]:
            user = orjson.loads(e["unmapped"]["user"])
            user.pop("groups", None)
            if user:
                e["unmapped"]["user"] = orjson.dumps(user).decode()
            else:
                del e["unmapped"]["user"]
        e["start_time"] = _ms(raw["requestReceivedTimestamp"])
        ocsf.append(e)
    _write(ocsf, tmp_path / "eks.parquet")
    one = analyzers.get("detect").run([str(path)], DetectOptions(source="k8s-audit", paths=[], workers=1))
    lake = detect_table(spark, [str(tmp_path / "eks.parquet")], DetectOptions(source="k8s-audit", paths=[]))
    assert len(one.findings) >= 8
    _compare(one, lake)
