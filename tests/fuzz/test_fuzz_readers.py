"""Fuzzing the readers of configuration and telemetry through their analyzers: YAML manifests
(`audit`), JSON lines (Kubernetes audit logs, `detect`), CloudTrail documents (`detect`), VPC
Flow Logs and pcap captures (`network`). Structured input first (the shape each reader expects,
with any values), then damaged: cut short, bytes overwritten or inserted, gzip-wrapped."""

from __future__ import annotations

import gzip
import json
import socket
import struct
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from seawall import analyzers
from tests.fuzz.harness import FUZZ, JSON, TEXT, check_reader, mutated

TIMES = st.one_of(st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.123456789Z", "", "yesterday",
                                   "9999-99-99T99:99:99Z", "1970-01-01T00:00:00+05:00"]), TEXT)

pytestmark = pytest.mark.slow


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> tuple[bytes, str]:
    """`data` mutated, maybe gzip-compressed (then maybe cut short): (bytes, file suffix)."""
    data = draw(mutated(data))
    if draw(st.booleans()):
        return data, ""
    return draw(mutated(gzip.compress(data, mtime=0))), ".gz"


def _run_file(data: bytes, suffix: str, call: Any, target: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data)
        check_reader(lambda: call(str(path)), target)


# -- YAML (audit) ----------------------------------------------------------------------------------

CONTAINER = {"name": "web", "image": "nginx:1.25", "securityContext": {"privileged": False, "runAsUser": 0},
             "env": [{"name": "PASSWORD", "value": "x"}], "ports": [{"containerPort": 80}]}
POD_SPEC = {"hostNetwork": False, "containers": [CONTAINER]}
K8S_SKELETON = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": "prod"},
                "spec": {"replicas": 2,
                         "template": {"metadata": {"labels": {"app": "web"}}, "spec": POD_SPEC}}}
RAW_YAML = ["a: &x [*x]", "a: !!python/object:os.system x", "? [a, b]\n: c", "%YAML 1.3\n---\na: 1",
            "a: &a [1,2]\nb: &b [*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b]\nd: [*c,*c,*c,*c]", "---\n...\n---\n",
            "\t- x", "kind: Pod\nspec: {containers: [{name: x, image: y, "
            "securityContext: {capabilities: {add: [ALL]}}}]}"]


@st.composite
def yaml_files(draw: st.DrawFn) -> bytes:
    docs = []
    for _ in range(draw(st.integers(1, 3))):
        doc = json.loads(json.dumps(K8S_SKELETON))
        node: Any = doc
        for key in draw(st.lists(st.sampled_from(["spec", "template", "metadata", "containers", "kind",
                                                  "securityContext", "env", "ports", "name"]), max_size=4)):
            if isinstance(node, dict) and isinstance(node.get(key), (dict, list)):
                node = node[key]
                node = node[0] if isinstance(node, list) and node and isinstance(node[0], dict) else node
            elif isinstance(node, dict):
                node[key] = draw(JSON)
        docs.append(yaml.safe_dump(doc) if draw(st.booleans()) else draw(st.sampled_from(RAW_YAML)))
    return "\n---\n".join(docs).encode("utf-8", "surrogateescape")


@FUZZ
@given(yaml_files(), st.data())
def test_fuzz_yaml_audit(text: bytes, data: st.DataObject) -> None:
    audit = analyzers.get("audit")
    _run_file(data.draw(mutated(text)), ".yaml", lambda path: audit.run([path], audit.options(workers=0)),
              "yaml")


# -- JSON lines: Kubernetes audit (detect) ---------------------------------------------------------

@lru_cache(maxsize=4)
def _ruleset(source: str) -> Any:
    from seawall.detect import DetectOptions
    from seawall.detect.analyzer import load_ruleset

    return load_ruleset(DetectOptions(source=source, paths=[]))  # built-in and bundled Sigma rules


def _detect(source: str) -> Any:
    detect = analyzers.get("detect")

    def run(path: str) -> Any:
        return detect.run([path], detect.options(source=source, paths=[path], ruleset=_ruleset(source),
                                                 workers=0))
    return run


AUDIT_EVENT = st.fixed_dictionaries({
    "kind": st.sampled_from(["Event", "EventList", ""]),
    "apiVersion": st.sampled_from(["audit.k8s.io/v1", "x"]),
    "stage": st.sampled_from(["ResponseComplete", "RequestReceived", "Panic"]),
    "verb": st.one_of(st.sampled_from(["get", "create", "delete", "patch", "list"]), TEXT),
    "requestURI": TEXT, "requestReceivedTimestamp": TIMES, "stageTimestamp": TIMES,
    "user": st.one_of(st.fixed_dictionaries({"username": TEXT, "groups": st.lists(TEXT, max_size=3)}), JSON),
    "objectRef": st.one_of(st.fixed_dictionaries({
        "resource": st.sampled_from(["pods", "secrets", "pods/exec"]), "namespace": TEXT, "name": TEXT,
        "subresource": TEXT}), JSON),
    "sourceIPs": st.one_of(st.lists(st.sampled_from(["10.0.0.1", "::1", "999.1.1.1", ""]), max_size=2), JSON),
    "responseStatus": st.one_of(st.fixed_dictionaries({"code": st.integers(-1, 999)}), JSON),
    "requestObject": JSON, "annotations": JSON,
})


@FUZZ
@given(st.lists(st.one_of(AUDIT_EVENT.map(lambda e: json.dumps(e).encode("utf-8", "surrogatepass")),
                          st.binary(max_size=80)), max_size=20), st.data())
def test_fuzz_k8s_audit_json_lines(lines: list[bytes], data: st.DataObject) -> None:
    raw, suffix = data.draw(damaged(b"\n".join(lines) + b"\n"))
    _run_file(raw, ".log" + suffix, _detect("k8s-audit"), "k8s-audit")


# -- CloudTrail (detect) ---------------------------------------------------------------------------

TRAIL_EVENT = st.fixed_dictionaries({
    "eventVersion": st.just("1.08"), "eventTime": TIMES,
    "eventSource": st.sampled_from(["ecs.amazonaws.com", "ecr.amazonaws.com", "iam.amazonaws.com", ""]),
    "eventName": st.one_of(st.sampled_from(["ExecuteCommand", "RegisterTaskDefinition", "SetRepositoryPolicy",
                                            "DeleteRepository", "ConsoleLogin"]), TEXT),
    "awsRegion": TEXT, "sourceIPAddress": TEXT,
    "userIdentity": st.one_of(st.fixed_dictionaries({"type": TEXT, "arn": TEXT, "accountId": TEXT}), JSON),
    "requestParameters": JSON, "responseElements": JSON, "errorCode": st.one_of(st.none(), TEXT),
    "recipientAccountId": TEXT,
})


@st.composite
def trails(draw: st.DrawFn) -> bytes:
    events = draw(st.lists(TRAIL_EVENT, max_size=10))
    shape = draw(st.sampled_from(["records", "records", "list-of-records", "records-not-list", "lines",
                                  "any"]))
    doc: Any
    if shape == "records":
        doc = {"Records": events}
    elif shape == "list-of-records":
        doc = [{"Records": events}]
    elif shape == "records-not-list":
        doc = {"Records": draw(JSON)}
    elif shape == "lines":
        return b"\n".join(json.dumps(e).encode("utf-8", "surrogatepass") for e in events)
    else:
        doc = draw(JSON)
    return json.dumps(doc).encode("utf-8", "surrogatepass")


@FUZZ
@given(trails(), st.data())
def test_fuzz_cloudtrail(doc: bytes, data: st.DataObject) -> None:
    raw, suffix = data.draw(damaged(doc))
    _run_file(raw, ".json" + suffix, _detect("cloudtrail"), "cloudtrail")


# -- VPC Flow Logs (network) -----------------------------------------------------------------------

FLOW_FIELDS = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start "
               "end action log-status")
ADDR = st.one_of(st.sampled_from(["10.0.0.1", "10.0.0.2", "8.8.8.8", "-", "::1", "2001:db8::1", "300.1.2.3"]),
                 st.ip_addresses().map(str), TEXT)
NUMBER = st.one_of(st.integers(-(2**40), 2**64).map(str), st.sampled_from(["-", "", "NaN", "1e9"]))


@st.composite
def flow_logs(draw: st.DrawFn) -> bytes:
    header = draw(st.sampled_from([FLOW_FIELDS, FLOW_FIELDS, "version srcaddr dstaddr", "", "garbage"]))
    rows = []
    for _ in range(draw(st.integers(0, 15))):
        row = ["2", "123456789012", "eni-1", draw(ADDR), draw(ADDR), draw(NUMBER), draw(NUMBER),
               draw(st.sampled_from(["6", "17", "1", "-", "999"])), draw(NUMBER), draw(NUMBER), draw(NUMBER),
               draw(NUMBER), draw(st.sampled_from(["ACCEPT", "REJECT", "-", "x"])),
               draw(st.sampled_from(["OK", "NODATA", "SKIPDATA"]))]
        if draw(st.booleans()):
            del row[draw(st.integers(0, len(row) - 1))]
        rows.append(" ".join(row))
    text = "\n".join([header, *rows]) + "\n"
    return text.encode("utf-8", "surrogateescape")


@FUZZ
@given(flow_logs(), st.data())
def test_fuzz_vpc_flow_logs(text: bytes, data: st.DataObject) -> None:
    network = analyzers.get("network")
    raw, suffix = data.draw(damaged(text))
    _run_file(raw, ".log" + suffix, lambda path: network.run([path], network.options(source="vpc-flow")),
              "vpc-flow")


# -- pcap (network) --------------------------------------------------------------------------------

def _frame(src: str, dst: str, proto: int, sport: int, dport: int, payload: bytes, flags: int) -> bytes:
    if proto == 6:
        l4 = struct.pack("!HHIIBBHHH", sport, dport, 1000, 1, 5 << 4, flags, 65535, 0, 0) + payload
    elif proto == 17:
        l4 = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    else:
        l4 = payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), 1, 0, 64, proto, 0, socket.inet_aton(src),
                     socket.inet_aton(dst)) + l4
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip


PCAP_FRAME = st.builds(_frame, st.sampled_from(["10.0.0.1", "10.0.0.2", "8.8.8.8", "192.168.1.9"]),
                       st.sampled_from(["10.0.0.1", "10.0.0.2", "1.1.1.1"]), st.sampled_from([6, 17, 1, 47]),
                       st.integers(0, 65535), st.sampled_from([53, 80, 443, 22, 0, 65535]),
                       st.one_of(st.binary(max_size=200), st.just(b"\x16\x03\x01\x00\xff\x01\x00")),
                       st.integers(0, 255))


@st.composite
def captures(draw: st.DrawFn) -> bytes:
    frames = draw(st.lists(PCAP_FRAME, max_size=12))
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    ts = 1_793_620_800
    for frame in frames:
        ts += draw(st.integers(-5, 100))
        length = draw(st.one_of(st.just(len(frame)), st.integers(0, 70000)))
        out.append(struct.pack("<IIII", ts & 0xFFFFFFFF, 0, len(frame), length) + frame)
    return b"".join(out)


@FUZZ
@given(captures(), st.data())
def test_fuzz_pcap(capture: bytes, data: st.DataObject) -> None:
    network = analyzers.get("network")
    raw = data.draw(mutated(capture))
    _run_file(raw, ".pcap", lambda path: network.run([path], network.options(source="pcap")), "pcap")
