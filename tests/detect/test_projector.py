"""The projecting decoder: every path (the projector, and the orjson fallback for bad lines)
gives the rules the same values."""

from __future__ import annotations

import polars as pl

from seawall.telemetry import get_reader
from seawall.telemetry.base import JsonSchema, ReadStats, parse_path
from seawall.telemetry.projector import Projector, leaf_text

FIELDS = [
    "user.username",
    "responseStatus.code",
    "sourceIPs[]",
    "requestObject.spec.containers[].securityContext.privileged",
    "requestObject.spec.containers[].image",
    "requestObject.data",
]


def _schema() -> JsonSchema:
    schema = JsonSchema()
    for f in FIELDS:
        schema.add(parse_path(f))
    return schema


def _values(frame: pl.DataFrame) -> list[dict[str, object]]:
    return frame.to_dicts()


def test_scalars_read_as_text_the_same_on_every_path() -> None:
    # a batch of good lines, decoded by the projector...
    lines = [
        b'{"user": {"username": "alice"}, "responseStatus": {"code": 403}}',
        b'{"user": {"username": "bob"}, "responseStatus": {"code": 4.03e2}}',
        b'{"user": {"username": true}, "responseStatus": {"code": 1.50}}',
        b'{"user": {"username": null}, "responseStatus": {"code": -0}}',
        b'{"user": {"username": 1234567890123456789}}',
    ]
    frame, failed = Projector(_schema()).decode(lines)
    assert failed == []
    got = [(r["user"]["username"], (r["responseStatus"] or {}).get("code")) for r in _values(frame)]
    assert got == [
        ("alice", "403"),
        ("bob", "403"),
        ("true", "1.5"),
        (None, "0"),
        ("1234567890123456789", None),
    ]
    # ...and the same values when a malformed line in the batch sends them through orjson
    reader = get_reader("k8s-audit")
    plan = reader.plan(["user.username", "responseStatus.code"])
    fast = reader.frame(list(lines), 1, "t", plan, ReadStats())
    stats = ReadStats()
    slow = reader.frame([b"{not json", *lines, b'{"user": {"username": "\xff"}}'], 1, "t", plan, stats)
    cols = ["user.username", "responseStatus.code"]
    assert slow.select(cols).head(len(lines)).rows() == fast.select(cols).rows()
    assert slow["_row"].to_list() == [1, 2, 3, 4, 5, 6]  # line order kept, bad line left out
    assert slow["user.username"][-1] == "\ufffd"  # invalid UTF-8 repaired, not dropped
    assert stats.malformed == 1 and stats.repaired_utf8 == 1
    assert leaf_text(4.03e2) == "403" and leaf_text(1e300) == "1e+300"


def test_wrong_shapes_read_as_null_and_objects_as_json_text() -> None:
    lines = [
        b'{"user": "alice", "sourceIPs": "10.0.0.1", "requestObject": {"spec": {"containers": {"a": 1}}}}',
        b'{"user": {"username": ["x"]}, "sourceIPs": ["10.0.0.1", 7, null], '
        b'"requestObject": {"data": {"k": [1, "v"]}, "spec": {"containers": [{"image": "nginx", '
        b'"securityContext": {"privileged": true}}, "junk", {"image": "busybox"}]}}}',
        b'{"responseStatus": {"code": 200}}',
    ]
    frame, failed = Projector(_schema()).decode(lines)
    assert failed == []
    rows = _values(frame)
    assert rows[0]["user"] is None and rows[0]["sourceIPs"] is None
    assert rows[0]["requestObject"]["spec"]["containers"] is None
    assert rows[1]["user"]["username"] == '["x"]'
    assert rows[1]["sourceIPs"] == ["10.0.0.1", "7", None]
    assert rows[1]["requestObject"]["data"] == '{"k":[1,"v"]}'
    containers = rows[1]["requestObject"]["spec"]["containers"]
    assert [c and c["image"] for c in containers] == ["nginx", None, "busybox"]
    assert containers[0]["securityContext"]["privileged"] == "true"
    assert rows[2]["requestObject"] is None and rows[2]["responseStatus"]["code"] == "200"
    assert frame.schema == pl.Schema(_schema().polars_schema())


def test_duplicate_keys_last_wins_and_bad_lines_are_returned() -> None:
    lines = [
        b'{"user": {"username": "system:admin"}, "user": {"username": "mallory"}}',
        b'{"user": {"username": "a", "username": "b"}}',
        b'{"user": {"username": "a"}} trailing',
        b'{"user": {"username": "\xff"}}',
        b"[" * 100_000,
    ]
    frame, failed = Projector(_schema()).decode(lines)
    assert [r["user"]["username"] for r in _values(frame)] == ["mallory", "b"]
    assert failed == [2, 3, 4]
