"""Every entry of the shipped detection context quiets the event it is meant for -- the finding
stays, at info, naming the entry -- and still lets through the near misses an attacker would try:
an add-on's name in the wrong namespace, an unknown image beside the add-on's own, someone other
than the DaemonSet controller creating the pod, a controller's service-account name in another
namespace, a share to an account outside the Organization, a SAML provider other than IAM
Identity Center. The cases are built from the entries themselves, so a new entry is tested too."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from devtools.detectgen.audit import START, audit_event
from seawall.core.errors import InputError
from seawall.detect import DetectOptions, run
from seawall.detect.context import AllowEntry, Context, load_context
from seawall.detect.loader import load_rules
from seawall.detect.model import RuleSet

ORG = """
- organization:
    id: o-a1b2c3d4e5
    accounts: ["111122223333", "444455556666"]
"""
CONTEXT = load_context([])
RULES = load_rules([], context=CONTEXT)


def concrete(ctx: Context, patterns: tuple[str, ...]) -> str:
    """A value that the entry's first pattern matches."""
    return ctx.expand(patterns)[0].replace("*", "eu-west-1").replace("?", "a")


def field(entry: AllowEntry, name: str) -> tuple[str, ...] | None:
    return dict(entry.match).get(name) or dict(entry.every).get(name)


def pod_event(entry: AllowEntry, ctx: Context) -> dict[str, Any]:
    """A privileged, host-network, kubelet-mounting pod of the entry's DaemonSet, as its controller
    creates it."""
    ns = concrete(ctx, field(entry, "objectRef.namespace") or ("kube-system",))
    owner = concrete(ctx, field(entry, "k8s.owner") or ("agent",))
    actor = concrete(
        ctx, field(entry, "actor") or ("system:serviceaccount:kube-system:daemon-set-controller",)
    )
    images = [concrete(ctx, (p,)) for p in ctx.expand(field(entry, "k8s.images") or ())][:1]
    request = {
        "kind": "Pod",
        "metadata": {
            "generateName": f"{owner}-",
            "namespace": ns,
            "ownerReferences": [{"kind": "DaemonSet", "name": owner, "controller": True}],
        },
        "spec": {
            "hostNetwork": True,
            "containers": [
                {"name": f"c{i}", "image": im, "securityContext": {"privileged": True}}
                for i, im in enumerate(images)
            ],
            "volumes": [{"name": "kubelet", "hostPath": {"path": "/var/lib/kubelet"}}],
        },
    }
    return audit_event(
        START,
        "create",
        actor,
        resource="pods",
        namespace=ns,
        level="RequestResponse",
        request_object=request,
        code=201,
    )


def pod_near_misses(event: dict[str, Any], entry: AllowEntry) -> dict[str, dict[str, Any]]:
    out = {}
    wrong_ns = copy.deepcopy(event)
    wrong_ns["objectRef"]["namespace"] = "default"
    wrong_ns["requestObject"]["metadata"]["namespace"] = "default"
    out["in another namespace"] = wrong_ns
    extra_image = copy.deepcopy(event)
    extra_image["requestObject"]["spec"]["containers"].append(
        {"name": "x", "image": "docker.io/library/alpine:3.19", "securityContext": {"privileged": True}}
    )
    out["with an unknown image beside its own"] = extra_image
    other_image = copy.deepcopy(event)
    for c in other_image["requestObject"]["spec"]["containers"]:
        c["image"] = "ghcr.io/attacker/" + c["image"].rsplit("/", 1)[-1]
    out["from an unknown registry"] = other_image
    if field(entry, "actor"):
        by_someone = copy.deepcopy(event)
        by_someone["user"]["username"] = "system:serviceaccount:kube-system:replicaset-controller-x"
        out["created by someone else"] = by_someone
    renamed = copy.deepcopy(event)
    renamed["requestObject"]["metadata"]["ownerReferences"][0]["name"] = "evil-agent"
    renamed["requestObject"]["metadata"]["generateName"] = "evil-agent-"
    out["owned by another DaemonSet"] = renamed
    return out


def secret_event(entry: AllowEntry, ctx: Context) -> dict[str, Any]:
    # (kube-system's accounts are controllers to SW-K8S-SECRETS-ENUM already: take another one)
    actors = [a for a in ctx.expand(field(entry, "actor") or ()) if ":kube-system:" not in a]
    actor = concrete(ctx, tuple(actors))
    return audit_event(START, "list", actor, resource="secrets", namespace="payments")


def secret_near_misses(event: dict[str, Any], entry: AllowEntry) -> dict[str, dict[str, Any]]:
    moved = copy.deepcopy(event)
    name = event["user"]["username"].rsplit(":", 1)[-1]
    moved["user"]["username"] = f"system:serviceaccount:data:{name}"  # same name, attacker's namespace
    return {"the same account name in another namespace": moved}


ENTRIES = [e for entries in CONTEXT.allowlists.values() for e in entries]
POD_ENTRIES = [e for e in ENTRIES if "k8s.images" in e.fields()]
SECRET_ENTRIES = [e for e in ENTRIES if "SW-K8S-SECRETS-ENUM" in CONTEXT.expand(e.rules)]


def findings(
    tmp_path: Path, source: str, events: list[dict[str, Any]], ctx: Context = CONTEXT, rules: RuleSet = RULES
) -> dict[str, Any]:
    log = tmp_path / "events.log"
    log.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    result = run(DetectOptions(source=source, paths=[str(log)], state_path=None), rules)
    return {f.rule: f for f in result.findings}


def test_every_entry_is_covered_by_a_case() -> None:
    covered = {e.id for e in POD_ENTRIES + SECRET_ENTRIES} | {
        "organization-shares",
        "organization-replication",
        "organization-networks",
        "aws-iam-identity-center",
    }
    other = {e.id for e in ENTRIES if "%workload_change_rules%" in e.rules and "k8s.images" not in e.fields()}
    assert {e.id for e in ENTRIES} <= covered | other
    for entry in ENTRIES:
        assert entry.reason, entry.id
        assert CONTEXT.expand(entry.rules), entry.id


@pytest.mark.parametrize("entry", POD_ENTRIES, ids=[e.id for e in POD_ENTRIES])
def test_system_workload_quiets_its_pods_and_not_the_near_misses(tmp_path: Path, entry: AllowEntry) -> None:
    event = pod_event(entry, CONTEXT)
    named = set(CONTEXT.expand(entry.rules))
    fired = {r: f for r, f in findings(tmp_path, "k8s-audit", [event]).items() if r in named}
    assert fired, f"{entry.id}: none of its rules fires on its pod"
    for rule, quiet in fired.items():
        assert quiet.severity.value == "info", (entry.id, rule)
        assert (
            quiet.extra["allowlist"]["entry"] == entry.id
            and quiet.extra["allowlist"]["reason"] == entry.reason
        )
    for what, miss in pod_near_misses(event, entry).items():
        loud = [
            f
            for r, f in findings(tmp_path, "k8s-audit", [miss]).items()
            if r in fired and f.severity.value != "info" and "allowlist" not in f.extra
        ]
        assert loud, f"{entry.id}: a pod {what} was quieted"


@pytest.mark.parametrize("entry", SECRET_ENTRIES, ids=[e.id for e in SECRET_ENTRIES])
def test_controller_quiets_its_secret_reads_and_not_an_impostor(tmp_path: Path, entry: AllowEntry) -> None:
    event = secret_event(entry, CONTEXT)
    quiet = findings(tmp_path, "k8s-audit", [event])["SW-K8S-SECRETS-ENUM"]
    assert quiet.severity.value == "info" and quiet.extra["allowlist"]["entry"] == entry.id
    for what, miss in secret_near_misses(event, entry).items():
        f = findings(tmp_path, "k8s-audit", [miss])["SW-K8S-SECRETS-ENUM"]
        assert f.severity.value == "high", f"{entry.id}: {what} was quieted"


def _trail(name: str, request: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "eventVersion": "1.10",
        "eventTime": "2026-03-03T10:00:00Z",
        "eventSource": "ecr.amazonaws.com",
        "eventName": name,
        "recipientAccountId": "111122223333",
        "requestParameters": request,
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/admin/alice"},
        **extra,
    }


def _policy(statement: dict[str, Any]) -> dict[str, Any]:
    return {"repositoryName": "app", "policyText": orjson.dumps({"Statement": [statement]}).decode()}


@pytest.mark.parametrize(
    ("quiet", "miss"),
    [
        (
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                "Action": "ecr:BatchGetImage",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::999988887777:root"},
                "Action": "ecr:BatchGetImage",
            },
        ),
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "ecr:BatchGetImage",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
            },
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "ecr:BatchGetImage",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-zz9988776655"}},
            },
        ),
        (
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "ecr:BatchGetImage",
                "Condition": {"StringEquals": {"aws:SourceAccount": "444455556666"}},
            },
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "ecr:BatchGetImage",
                "Condition": {"StringEquals": {"aws:SourceAccount": ["444455556666", "999988887777"]}},
            },
        ),
    ],
    ids=["account", "organization", "source-account"],
)
def test_organization_shares_are_info_and_outside_shares_high(
    tmp_path: Path, quiet: dict, miss: dict
) -> None:
    ctx = load_context([])
    import yaml

    from seawall.detect.context import merge_document

    merge_document(ctx, yaml.safe_load(ORG), "test")
    rules = load_rules([], context=ctx)
    rule = "SW-AWS-ECR-POLICY-CROSS-ACCOUNT"
    f = findings(tmp_path, "cloudtrail", [_trail("SetRepositoryPolicy", _policy(quiet))], ctx, rules)[rule]
    assert f.severity.value == "info" and f.extra["allowlist"]["entry"] == "organization-shares"
    f = findings(tmp_path, "cloudtrail", [_trail("SetRepositoryPolicy", _policy(miss))], ctx, rules)[rule]
    assert f.severity.value == "high" and "allowlist" not in f.extra
    # neither is public: each names who may pull
    found = findings(tmp_path, "cloudtrail", [_trail("SetRepositoryPolicy", _policy(miss))], ctx, rules)
    assert "SW-AWS-ECR-POLICY-PUBLIC" not in found
    # without the Organization in the context, a share with another account is high
    plain = findings(tmp_path, "cloudtrail", [_trail("SetRepositoryPolicy", _policy(quiet))])[rule]
    assert plain.severity.value == "high"
    # replication: inside the Organization info, outside high
    inside = {
        "replicationConfiguration": {
            "rules": [{"destinations": [{"region": "eu-central-1", "registryId": "444455556666"}]}]
        }
    }
    outside = copy.deepcopy(inside)
    outside["replicationConfiguration"]["rules"][0]["destinations"].append(
        {"region": "us-east-1", "registryId": "999988887777"}
    )
    rep = "SW-AWS-ECR-REPLICATION-EXTERNAL"
    f = findings(tmp_path, "cloudtrail", [_trail("PutReplicationConfiguration", inside)], ctx, rules)[rep]
    assert f.severity.value == "info" and f.extra["allowlist"]["entry"] == "organization-replication"
    f = findings(tmp_path, "cloudtrail", [_trail("PutReplicationConfiguration", outside)], ctx, rules)[rep]
    assert f.severity.value == "high"


def test_pulls_from_the_organizations_networks_are_not_new_networks(tmp_path: Path) -> None:
    import yaml

    from seawall.detect.context import merge_document

    def pull(minutes: int, ip: str) -> dict[str, Any]:
        return {
            "eventTime": f"2026-03-02T{8 + minutes // 60:02d}:{minutes % 60:02d}:00Z",
            "eventSource": "ecr.amazonaws.com",
            "eventName": "BatchGetImage",
            "recipientAccountId": "111122223333",
            "sourceIPAddress": ip,
        }

    # learning from 08:00; two hours later, pulls from new /24s: ours (IPv4 and IPv6) and not ours
    events = [pull(0, "192.0.2.10"), pull(120, "10.2.7.9"), pull(121, "2001:DB8:0:5::10"),
              pull(122, "198.51.100.23"), pull(123, "10.200.0.1")]
    rule = "SW-AWS-ECR-PULL-NEW-NETWORK"

    def new_networks(ctx: Context) -> list[str]:
        log = tmp_path / "trail.log"
        log.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
        result = run(DetectOptions(source="cloudtrail", paths=[str(log)], state_path=None),
                     load_rules([], context=ctx))
        return sorted(str(f.extra["first_seen"]["key"]) for f in result.findings if f.rule == rule)

    assert len(new_networks(CONTEXT)) == 4  # without the organisation's networks: every new one
    ctx = load_context([])
    merge_document(ctx, yaml.safe_load(ORG + "    cidrs: [10.0.0.0/12, '2001:db8::/32']\n"), "test")
    keys = new_networks(ctx)
    assert len(keys) == 2 and any("198.51.100" in k for k in keys) and any("10.200" in k for k in keys)
    # a network that does not parse is an error of the context file
    bad = tmp_path / "bad.yaml"
    bad.write_text("- allowlist: ours\n  items:\n    - id: x\n      rules: [SW-AWS-*]\n"
                   "      match: {sourceIPAddress: ['cidr:10.0.0.0/33']}\n")
    with pytest.raises(InputError, match=r"10\.0\.0\.0/33"):
        load_context([bad])


def test_identity_center_sign_in_is_info_and_another_saml_provider_is_not(tmp_path: Path) -> None:
    rule = "sigma:f43f5d2f-3f2a-4cc8-b1af-81fde7dbaf0e"
    sso = {
        "roleArn": "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_D_1",
        "principalArn": "arn:aws:iam::111122223333:saml-provider/AWSSSO_8f1e6b2c4d3a5e70_DO_NOT_DELETE",
    }
    event = {**_trail("AssumeRoleWithSAML", sso), "eventSource": "sts.amazonaws.com"}
    f = findings(tmp_path, "cloudtrail", [event])[rule]
    assert f.severity.value == "info" and f.extra["allowlist"]["entry"] == "aws-iam-identity-center"
    other = copy.deepcopy(event)
    other["requestParameters"]["principalArn"] = "arn:aws:iam::111122223333:saml-provider/legacy-adfs"
    assert findings(tmp_path, "cloudtrail", [other])[rule].severity.value != "info"


def test_operators_extend_lists_with_append_and_replace_without(tmp_path: Path) -> None:
    import yaml

    from seawall.detect.context import merge_document

    ctx = load_context([])
    shipped = len(ctx.lists["k8s_allowed_users"])
    merge_document(ctx, yaml.safe_load("- list: k8s_allowed_users\n  append: true\n  items: [alice]\n"), "t")
    assert len(ctx.lists["k8s_allowed_users"]) == shipped + 1
    merge_document(ctx, yaml.safe_load("- list: k8s_allowed_users\n  items: [bob]\n"), "t")
    assert ctx.lists["k8s_allowed_users"] == ["bob"]
    own = tmp_path / "context.yaml"
    own.write_text(
        "- allowlist: system_workloads\n  append: true\n  items:\n    - id: my-cni\n"
        "      reason: our CNI\n      rules: ['%pod_risk_rules%']\n"
        "      match: {objectRef.namespace: [kube-system], k8s.owner: [my-cni]}\n"
        "      every: {k8s.images: ['registry.example.com/cni:*']}\n"
    )
    ctx = load_context([own])
    assert [e.id for e in ctx.allowlists["system_workloads"]][-1] == "my-cni"
    assert len(ctx.allowlists["system_workloads"]) > 5


@pytest.mark.parametrize(
    "text",
    [
        "- list: x\n  items: {a: 1}\n",
        "- allowlist: y\n  items: [{id: a, rules: [r]}]\n",
        "- something: else\n",
        "- allowlist: y\n  items: [{id: a, rules: [r], match: {f: [x]}, action: hide}]\n",
        "not: [a list\n",
    ],
)
def test_a_broken_context_file_is_an_error(tmp_path: Path, text: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    with pytest.raises(InputError):
        load_context([bad])


def test_one_context_file_for_logs_and_flows(tmp_path: Path) -> None:
    """The mapping form a context file shares with the network analyzer: the organisation for
    both, the network keys for flows, this analyzer's items under `detect:`."""
    shared = tmp_path / "context.yaml"
    shared.write_text(
        "organization: {id: o-a1b2c3d4e5, accounts: ['111122223333', '444455556666'],"
        " known_cidrs: [10.20.0.0/16]}\n"
        "known_cidrs: [192.168.0.0/16]\n"
        "detect:\n  - list: k8s_allowed_users\n    append: true\n    items: [alice]\n"
    )
    ctx = load_context([shared])
    assert ctx.organization.id == "o-a1b2c3d4e5" and "444455556666" in ctx.organization.accounts
    assert ctx.organization.cidrs == ["10.20.0.0/16"] and ctx.lists["k8s_allowed_users"][-1] == "alice"
    bad = tmp_path / "bad.yaml"
    bad.write_text("organisation: {id: o-x}\n")  # (misspelt: an error, not ignored)
    with pytest.raises(InputError):
        load_context([bad])
