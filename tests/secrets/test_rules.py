"""seawall.secrets is the one secret detector with one rules file: image scans and configuration
audits read the same rules.yaml, its metadata goes through the one check spec loader, and a
setting named after a secret (TOKEN_EXPIRY=3600) is not reported as one."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
import yaml

from seawall import analyzers
from seawall.core.errors import InputError
from seawall.secrets import SecretScanner, config_rules, default_rules, parse_rules

SRC = Path(__file__).resolve().parents[2] / "src" / "seawall"

# a name that holds TOKEN/SECRET/PASSWORD but names a setting of the secret, with its value
SETTINGS = ["TOKEN_EXPIRY=3600", "TOKEN_EXPIRES_IN=86400", "ACCESS_TOKEN_EXPIRY_SECONDS=7200",
            "SESSION_TOKEN_TTL=3600s", "JWT_TOKEN_LIFETIME=24h", "PASSWORD_MAX_AGE=90d",
            "SECRET_ROTATION_INTERVAL=P30D", "AUTH_TOKEN_TIMEOUT=1h30m", "tokenExpiry=3600",
            "API_TOKEN=30m"]
# real-looking secrets under the same kinds of names: still reported
SECRETS = ["API_TOKEN=tk_8f3kLm2Pq9RzW", "DB_PASSWORD=hunter2Hunter", "REFRESH_TOKEN=Zq8fK3lmP0x7",
           "EXPIRED_TOKEN=Zq8fK3lmP0x7", "PASSWORD=123456789"]


@pytest.mark.parametrize("assignment", SETTINGS)
def test_a_setting_named_after_a_token_is_not_a_secret_in_an_image_env(assignment: str) -> None:
    assert SecretScanner().scan_env([assignment]) == []
    assert SecretScanner(config_rules()).scan_env([assignment]) == []


@pytest.mark.parametrize("assignment", SECRETS)
def test_a_secret_under_such_a_name_is_still_reported(assignment: str) -> None:
    found = SecretScanner().scan_env([assignment])
    assert [m.rule for m in found] == ["generic-env-secret"]
    key, _, value = assignment.partition("=")
    assert found[0].key == key and found[0].secret == value
    assert value not in found[0].evidence  # redacted


def test_audit_of_a_deployment_reports_the_token_not_its_expiry(tmp_path: Path) -> None:
    """What a user runs: `seawall audit` on a manifest whose env holds a token and its settings."""
    manifest = tmp_path / "app.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - name: api\n          image: shop/api@sha256:"
        + "a" * 64 + "\n          env:\n"
        "            - {name: TOKEN_EXPIRY, value: \"3600\"}\n"
        "            - {name: jwtTokenLifetime, value: \"24h\"}\n"
        "            - {name: SESSION_TOKEN_TTL, value: \"15m\"}\n"
        "            - {name: SIGNING_TOKEN, value: \"sk_live_9fQ2mZ7xL4pR8tY1\"}\n", "utf-8")
    analyzer = analyzers.get("audit")
    report = analyzer.run([str(manifest)], analyzer.options())
    secrets = [f for f in report.findings if f.rule == "SW-K8S-027"]
    assert len(secrets) == 1, [f.evidence for f in secrets]
    shown = json.dumps([f.evidence for f in secrets])
    assert "SIGNING_TOKEN" in shown and "sk_live_9fQ2mZ7xL4pR8tY1" not in shown
    assert secrets[0].location is not None and secrets[0].location.line == 14


def test_one_rules_file_for_scans_and_audits() -> None:
    """The configuration rules are the scan rules plus the ones marked config_only, all in
    seawall/secrets/rules.yaml; posture holds no secret rules of its own."""
    scan_ids = [r.id for r in default_rules().rules]
    config_ids = [r.id for r in config_rules().rules]
    assert config_ids[:len(scan_ids)] == scan_ids
    assert set(config_ids) - set(scan_ids) == {"generic-env-secret-name", "jwt", "google-api-key",
                                               "bearer-token", "url-credentials"}
    stray = [p for p in SRC.rglob("*.yaml") if p.parent.name != "secrets"
             and "regex:" in p.read_text("utf-8") and "secret" in p.name]
    assert stray == []
    raw = yaml.safe_load(resources.files("seawall.secrets").joinpath("rules.yaml").read_text("utf-8"))
    assert sum(1 for r in raw["rules"] if r.get("config_only")) == 5


def test_config_only_rules_do_not_run_in_image_scans() -> None:
    jwt = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
           "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
    assert [m.rule for m in SecretScanner(config_rules()).scan_bytes(f"X={jwt}".encode(), scope="env")] \
        == ["jwt"]
    assert SecretScanner().scan_bytes(f"X={jwt}".encode(), scope="env") == []


def _rule(**extra: object) -> dict[str, object]:
    return {"id": "my-rule", "title": "My token", "regex": "(?P<secret>tok_[a-z0-9]{16})", **extra}


def test_rule_metadata_goes_through_the_check_spec_validation() -> None:
    """A retired Security Hub control, a bad severity or a missing title in a secret rule (or a
    pair) is a load-time error naming the rule, as for every other check."""
    with pytest.raises(InputError, match=r"my-rule: reference 'aws-securityhub:ECS.1': AWS retired"):
        parse_rules({"rules": [_rule(references=["aws-securityhub:ECS.1"])]})
    with pytest.raises(InputError, match="my-rule: unknown severity"):
        parse_rules({"rules": [_rule(severity="severe")]})
    with pytest.raises(InputError, match="my-rule: no title"):
        parse_rules({"rules": [_rule(title="")]})
    with pytest.raises(InputError, match="pair-1: reference"):
        parse_rules({"rules": [_rule()], "pairs": [{"id": "pair-1", "title": "t", "severity": "high",
                                                     "first": "a", "second": "b",
                                                     "references": ["kubescape:C-9999"]}]})
    with pytest.raises(InputError, match="config-rule: reference"):  # validated even when not used
        parse_rules({"rules": [_rule(id="config-rule", config_only=True, references=["nist:AC-2"])]})
    rules = parse_rules({"rules": [_rule(severity="critical", references=["cis-docker:4.10"],
                                         remediation="Rotate\n  it.")]})
    rule = rules.rules[0]
    assert (rule.severity.value, rule.references, rule.remediation) == ("critical", ("cis-docker:4.10",),
                                                                       "Rotate it.")
    assert parse_rules({"rules": [_rule()]}).rules[0].severity.value == "medium"  # the default
