"""Exec, attach and port-forward are found whatever the audit policy keeps and whatever the client:
at any stage the policy logs (each request once, by auditID) and with either verb (`create` from
SPDY clients, `get` from kubectl 1.30+ over WebSockets) -- built-in rules, the privileged-pod-then-
exec sequence and SigmaHQ's exec rule (through seawall's pySigma pipeline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from devtools.detectgen.audit import START, audit_event, privileged_pod
from seawall.detect import DetectOptions, run
from seawall.detect.loader import load_rules

RULES = load_rules([])
SIGMA_EXEC = "sigma:a1b0ca4e-7835-413e-8471-3ff2b8a66be6"
STAGE_SETS = {
    "RequestReceived only": ["RequestReceived"],
    "ResponseStarted only": ["ResponseStarted"],
    "ResponseComplete only": ["ResponseComplete"],
    "all three stages": ["RequestReceived", "ResponseStarted", "ResponseComplete"],
    "policy omitting ResponseStarted": ["RequestReceived", "ResponseComplete"],
}


def _request(
    sub: str, verb: str, stages: list[str], actor: str = "mallory", code: int = 101
) -> list[dict[str, Any]]:
    """One exec/attach/port-forward request as the API server logs it at each kept stage."""
    out = []
    for i, stage in enumerate(stages):
        ev = audit_event(
            START.replace(minute=20, second=i),
            verb,
            actor,
            resource="pods",
            namespace="data",
            name="etl-debug",
            subresource=sub,
            stage=stage,
            code=code,
            user_agent="kubectl/v1.31.0 (linux/amd64) kubernetes/9b1e2d4",
        )
        ev["auditID"] = "5a3c1e2f-0000-4000-8000-00000000e1ec"
        if stage == "RequestReceived":
            del ev["responseStatus"]
        out.append(ev)
    return out


def _run(tmp_path: Path, events: list[dict[str, Any]]) -> dict[str, Any]:
    log = tmp_path / "audit.log"
    log.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    result = run(DetectOptions(source="k8s-audit", paths=[str(log)], state_path=None), RULES)
    return {f.rule: f for f in result.findings}


@pytest.mark.parametrize("stages", list(STAGE_SETS.values()), ids=list(STAGE_SETS))
@pytest.mark.parametrize("verb", ["create", "get"])
@pytest.mark.parametrize("sub", ["exec", "attach", "portforward"])
def test_found_once_at_any_stage_with_either_verb(
    tmp_path: Path, sub: str, verb: str, stages: list[str]
) -> None:
    pod_created = audit_event(
        START.replace(minute=10),
        "create",
        "mallory",
        resource="pods",
        namespace="data",
        level="RequestResponse",
        request_object=privileged_pod("etl-debug", "data"),
    )
    found = _run(tmp_path, [pod_created, *_request(sub, verb, stages)])
    rule = "SW-K8S-PORT-FORWARD" if sub == "portforward" else "SW-K8S-EXEC"
    assert rule in found, f"{sub} with verb {verb} at {stages} not found"
    assert found[rule].count == 1  # one request, however many stages logged it
    assert found[rule].resource.name == "etl-debug"
    if sub == "exec":
        assert SIGMA_EXEC in found and found[SIGMA_EXEC].count == 1
    if sub in ("exec", "attach"):
        seq = found["SW-K8S-PRIV-POD-THEN-EXEC"]
        assert seq.severity.value == "critical" and seq.count == 2
    else:
        assert "SW-K8S-PRIV-POD-THEN-EXEC" not in found


@pytest.mark.parametrize("verb", ["create", "get"])
def test_refused_exec_is_not_a_session(tmp_path: Path, verb: str) -> None:
    found = _run(tmp_path, _request("exec", verb, ["ResponseComplete"], code=403))
    assert "SW-K8S-EXEC" not in found


def test_two_requests_count_twice(tmp_path: Path) -> None:
    first = _request("exec", "get", ["ResponseStarted", "ResponseComplete"])
    second = _request("exec", "get", ["ResponseStarted", "ResponseComplete"])
    for ev in second:
        ev["auditID"] = "5a3c1e2f-0000-4000-8000-00000000e1ed"
    found = _run(tmp_path, first + second)
    assert found["SW-K8S-EXEC"].count == 2
    assert found[SIGMA_EXEC].count == 2
