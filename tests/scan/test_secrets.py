"""Every secret rule: a true positive and a near miss; redaction, pairing, lines, skipping."""

from __future__ import annotations

import io

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from seawall.core import Resource, Severity
from seawall.image.base import EntryKind, FileEntry, LayerInfo
from seawall.scan.secrets import SecretsVisitor, config_secret_findings
from seawall.secrets import SecretScanner, default_rules, redact, redact_text

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ALNUM36 = "0123456789abcdefghijABCDEFGHIJklmnop"  # 36 chars
assert len(ALNUM36) == 36


@pytest.fixture(scope="module")
def scanner() -> SecretScanner:
    return SecretScanner()


def rules_of(scanner: SecretScanner, text: str, path: str = "/app/file.txt") -> list[str]:
    return [m.rule for m in scanner.scan_bytes(text.encode(), path)]


def _pem_rsa() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def _pem_pkcs8_ec() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _openssh() -> tuple[str, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    priv = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    pub = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return priv, pub


# (rule id, true positive text, path, near-miss text)
CASES = [
    (
        "aws-access-key-id",
        f"key_id: {AKID}\n",
        "/app/x.txt",
        "user: AIDAIOSFODNN7EXAMPLE and AKIAIOSFODNN7EXAMPL and AKIAIOSFODNN7EXAMPLE99\n",
    ),
    (
        "aws-secret-access-key",
        f"aws_secret_access_key = {SECRET}\n",
        "/app/x.txt",
        f"some_key = {SECRET}\naws_secret_access_key = {SECRET[:39]}\n",
    ),
    ("github-pat", f"token=ghp_{ALNUM36}\n", "/app/x.sh", f"token=ghp_{ALNUM36[:35]}\n"),
    ("github-oauth-token", f"GH=gho_{ALNUM36}\n", "/app/x.sh", f"GH=gho_{ALNUM36}x\n"),
    ("github-app-token", f"T=ghs_{ALNUM36}\n", "/app/x.sh", f"T=ghx_{ALNUM36}\n"),
    (
        "github-fine-grained-pat",
        f"github_pat_{'A' * 22}_{'b' * 59}\n",
        "/app/x.sh",
        f"github_pat_{'A' * 21}_{'b' * 59}\n",
    ),
    ("gitlab-pat", "GITLAB=glpat-abcdefghij0123456789\n", "/app/x.sh", "GITLAB=glpat-abcdefghij012345678\n"),
    (
        "slack-token",
        "SLACK=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\n",
        "/app/x.sh",
        "the prefix xoxb- starts a bot token; xoxb-notatoken\n",
    ),
    (
        "slack-webhook",
        "url: https://hooks.slack.com/services/T0ABCDEFG/B0ABCDEFG/abcdefghijklmnopqrstuvwx\n",
        "/app/x.txt",
        "docs: https://hooks.slack.com/services/ is the webhook base\n",
    ),
    (
        "generic-password",
        "DB_PASSWORD=s3cr3t-Value\n",
        "/app/.env",
        "DB_PASSWORD=${DB_PASSWORD}\npassword: changeme\npassword_min_length=12\nsecret=\n",
    ),
]


@pytest.mark.parametrize(("rule", "positive", "path", "near_miss"), CASES, ids=[c[0] for c in CASES])
def test_rule_true_positive_and_near_miss(
    scanner: SecretScanner, rule: str, positive: str, path: str, near_miss: str
) -> None:
    assert rules_of(scanner, positive, path) == [rule]
    assert rule not in rules_of(scanner, near_miss, path)


# rules of scope `history` only: credentials in logged text (detection evidence, history lines)
TEXT_CASES = [
    ("http-bearer-token", "GET /v1 Authorization: Bearer 4f9c2e1a7b3d5e8f0a1c", "Bearer token expired"),
    ("http-authorization", '"authorization":"Token 8c1d9e2f3a4b5c6d"', '"authorization.k8s.io/reason":"x"'),
    ("jwt-token", "--token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl", "eyJhbGciOiJSUzI1NiJ9"),
    ("kubeconfig-token", "    token: k8s-aws-v1.aHR0cHM6Ly9zdHMuZXUtd2VzdC0x", "    token: short"),
    ("url-password", "postgres://app:Pgs3cretPassw0rd@db:5432/x", "https://db.example:5432/x"),
    ("url-query-secret", "/v1/items?id=7&access_token=qt_8c1d9e2f3a4b", "/v1/items?id=7&page=2"),
    ("private-key-text", "-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA7bq3", "no PRIVATE KEY"),
]


@pytest.mark.parametrize(("rule", "positive", "near_miss"), TEXT_CASES, ids=[c[0] for c in TEXT_CASES])
def test_text_rule_true_positive_and_near_miss(scanner: SecretScanner, rule: str, positive: str,
                                              near_miss: str) -> None:
    assert rule in [m.rule for m in scanner.scan_text(positive, scope="history")]
    assert rule not in [m.rule for m in scanner.scan_text(near_miss, scope="history")]
    assert rule not in rules_of(scanner, positive, "/app/config.yaml")  # (not file scope)


def test_every_rule_has_a_case() -> None:
    covered = {c[0] for c in CASES} | {"private-key", "openssh-private-key", "generic-env-secret"}
    covered |= {c[0] for c in TEXT_CASES}
    assert {r.id for r in default_rules().rules} == covered


@pytest.mark.parametrize("pem", [_pem_rsa(), _pem_pkcs8_ec()], ids=["rsa-traditional", "ec-pkcs8"])
def test_private_key_pem(scanner: SecretScanner, pem: str) -> None:
    text = "# deploy key\n" + pem
    matches = scanner.scan_bytes(text.encode(), "/root/key.pem")
    assert [m.rule for m in matches] == ["private-key"]
    body = pem.splitlines()[1]
    assert matches[0].line == 3  # the first line of the key body
    assert body not in matches[0].evidence and matches[0].evidence == body[:4] + "****"


def test_private_key_near_misses(scanner: SecretScanner) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    script = "grep -q -- '-----BEGIN PRIVATE KEY-----' \"$f\" && echo has key\n"
    assert rules_of(scanner, public + script, "/usr/local/bin/check") == []


def test_openssh_private_key(scanner: SecretScanner) -> None:
    priv, pub = _openssh()
    assert rules_of(scanner, priv, "/root/.ssh/id_ed25519") == ["openssh-private-key"]
    assert rules_of(scanner, pub + "\n", "/root/.ssh/id_ed25519.pub") == []


def test_generic_password_only_in_config_files(scanner: SecretScanner) -> None:
    line = 'password = "Tr0ub4dor&3"\n'
    for path in (
        "/app/settings.ini",
        "/app/config.yaml",
        "/etc/app/app.conf",
        "/app/.env.production",
        "/app/db.properties",
        "/app/x.toml",
    ):
        assert rules_of(scanner, line, path) == ["generic-password"], path
    for path in ("/app/main.py", "/app/README.md", "/usr/bin/tool"):
        assert rules_of(scanner, line, path) == [], path


def test_generic_password_json_and_properties(scanner: SecretScanner) -> None:
    text = '{\n  "user": "app",\n  "password": "hunter2hunter2"\n}\n'
    (m,) = scanner.scan_bytes(text.encode(), "/app/config.json")
    assert (m.rule, m.line, m.key) == ("generic-password", 3, "password")
    assert m.evidence == "password=hun****"
    (m,) = scanner.scan_bytes(b"spring.datasource.password=abc123xyz!\n", "/app/application.properties")
    assert m.key == "spring.datasource.password"


def test_aws_pair_is_one_critical_finding(scanner: SecretScanner) -> None:
    text = f"[default]\naws_access_key_id = {AKID}\naws_secret_access_key = {SECRET}\n"
    (m,) = scanner.scan_bytes(text.encode(), "/root/.aws/credentials")
    assert (m.rule, m.severity, m.line) == ("aws-access-key", Severity.CRITICAL, 2)
    assert m.evidence == "AKIA**** + wJal****"
    # an id alone is a lower severity than the pair
    (alone,) = scanner.scan_bytes(f"id = {AKID}\n".encode(), "/root/.aws/credentials")
    assert alone.rule == "aws-access-key-id" and alone.severity.rank < Severity.CRITICAL.rank


def test_aws_pair_too_far_apart_is_two_findings(scanner: SecretScanner) -> None:
    text = f"aws_access_key_id = {AKID}\n" + "\n" * 30 + f"aws_secret_access_key = {SECRET}\n"
    matches = scanner.scan_bytes(text.encode(), "/x/credentials")
    assert [(m.rule, m.line) for m in matches] == [("aws-access-key-id", 1), ("aws-secret-access-key", 32)]


def test_redact() -> None:
    assert redact(SECRET) == "wJal****"
    assert redact("abcdefgh") == "ab****"
    assert redact("abc") == "****"


def _entry(path: str, size: int, layer_index: int = 1) -> FileEntry:
    layer = LayerInfo(
        index=layer_index,
        digest="sha256:" + "ab" * 32,
        created_by=f"RUN echo aws_secret_access_key={SECRET} > /x",
    )
    return FileEntry(path=path, kind=EntryKind.FILE, size=size, mode=0o644, layer=layer)


def test_visitor_skips_binary_large_and_package_paths() -> None:
    v = SecretsVisitor()
    text = f"aws_access_key_id={AKID}\naws_secret_access_key={SECRET}\n".encode()
    assert not v.wants(_entry("/usr/share/doc/x/README", 10))
    assert not v.wants(_entry("/usr/local/lib/python3.11/dist-packages/x/conf.yaml", 10))
    assert not v.wants(_entry("/app/big.txt", 100 * 1024 * 1024))
    assert not v.wants(_entry("/app/logo.png", 10))
    assert v.wants(_entry("/app/config.ini", len(text)))
    v.visit(_entry("/app/bin", len(text) + 3), io.BytesIO(b"\x7fELF\0" + text))
    assert v.results == []
    v.visit(_entry("/app/config.ini", len(text)), io.BytesIO(text))
    (finding,) = v.findings(Resource(type="container-image", name="demo"))
    assert finding.location.path == "/app/config.ini" and finding.location.line == 1
    assert finding.location.layer == "sha256:" + "ab" * 32
    # the layer's history line is shown redacted
    assert SECRET not in (finding.location.layer_created_by or "")
    assert "wJal****" in (finding.location.layer_created_by or "")
    assert SECRET not in str(finding.to_dict()) and AKID not in str(finding.to_dict())


def test_env_and_history_secrets() -> None:
    env = [
        "PATH=/usr/local/bin:/usr/bin",
        f"AWS_ACCESS_KEY_ID={AKID}",
        f"AWS_SECRET_ACCESS_KEY={SECRET}",
        "API_TOKEN=tok_9f8e7d6c5b4a",
        "POSTGRES_PASSWORD_FILE=/run/secrets/db",
        "SECRET=changeme",
        "GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D",
        "PASSWORD=",
    ]
    history = [
        (0, "/bin/sh -c #(nop) ADD file:abc in /", None),
        (1, f"/bin/sh -c #(nop)  ENV AWS_SECRET_ACCESS_KEY={SECRET}", None),
        (2, f"RUN /bin/sh -c git clone https://x:ghp_{ALNUM36}@github.com/o/r # buildkit", None),
    ]
    findings, keys = config_secret_findings(env, history, Resource(type="container-image", name="demo"))
    got = sorted((f.rule, f.extra["source"]) for f in findings)
    assert got == [
        ("aws-access-key", "config.env"),
        ("generic-env-secret", "config.env"),
        ("github-pat", "config.history"),
    ]
    assert keys == ["API_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    dumped = str([f.to_dict() for f in findings])
    assert SECRET not in dumped and AKID not in dumped and ALNUM36 not in dumped


def test_redact_text_history_line() -> None:
    line = f"/bin/sh -c #(nop)  ENV AWS_SECRET_ACCESS_KEY={SECRET} DB_PASSWORD=topsecret1 MODE=prod"
    out = redact_text(line)
    assert SECRET not in out and "topsecret1" not in out
    assert "MODE=prod" in out and "AWS_SECRET_ACCESS_KEY=wJal****" in out


def test_generic_password_needs_a_mixed_value(scanner: SecretScanner) -> None:
    # nsswitch.conf's database names are not passwords
    assert rules_of(scanner, "passwd:         files systemd\nshadow: files\n", "/etc/nsswitch.conf") == []
    assert rules_of(scanner, "passwd: s3cret!pw\n", "/etc/app.conf") == ["generic-password"]


def test_unmodified_dpkg_conffiles_are_skipped() -> None:
    import hashlib

    sample = b"[cmp]\nsecret = pass:insta1\n"
    status = (
        b"Package: openssl\nStatus: install ok installed\nConffiles:\n /etc/ssl/openssl.cnf "
        + hashlib.md5(sample).hexdigest().encode()
        + b"\n /etc/other.conf 0123456789abcdef0123456789abcdef obsolete\n"
    )
    v = SecretsVisitor()
    status_entry = _entry("/var/lib/dpkg/status", len(status))
    assert v.wants(status_entry)
    v.visit(status_entry, io.BytesIO(status))
    assert set(v.conffiles) == {"/etc/ssl/openssl.cnf", "/etc/other.conf"}
    v.visit(_entry("/etc/ssl/openssl.cnf", len(sample)), io.BytesIO(sample))
    assert v.findings(Resource(type="container-image", name="x")) == []  # the package's own sample
    changed = sample.replace(b"insta1", b"Real-Pass-42")
    v.visit(_entry("/etc/ssl/openssl.cnf", len(changed)), io.BytesIO(changed))
    (f,) = v.findings(Resource(type="container-image", name="x"))
    assert f.rule == "generic-password" and f.location.line == 2


@pytest.mark.parametrize(
    "data",
    [
        (b"-----BEGIN RSA PRIVATE KEY-----\n" + b"A" * 60 + b"\n") * 80_000,
        (b"aws_secret_access_key=" + b"A" * 39 + b"\n") * 80_000,
        (b"password" * 10 + b"=x\n") * 60_000,
    ],
    ids=["pem-headers", "aws-near-misses", "keyword-runs"],
)
def test_hostile_files_scan_in_bounded_time(scanner: SecretScanner, data: bytes) -> None:
    import time

    data = data[: default_rules().max_file_size]
    started = time.perf_counter()
    assert scanner.scan_bytes(data, "/app/x.conf") == []
    assert time.perf_counter() - started < 10  # linear; about 1 s for 5 MiB here


def test_matches_per_rule_are_capped(scanner: SecretScanner) -> None:
    matches = scanner.scan_bytes(b"password=Abc123!xyz\n" * 5000, "/app/x.conf")
    assert len(matches) == 100 and matches[-1].line == 100


def test_build_arguments_and_env_in_history() -> None:
    history = [
        (0, "|2 NPM_TOKEN=npm_abcdef123456 MODE=prod /bin/sh -c npm ci # buildkit", None),
        (1, '/bin/sh -c #(nop)  ENV DB_PASSWORD="Sup3r-secret"', None),
        (2, "RUN /bin/sh -c echo MODE=prod > /etc/mode # buildkit", None),
    ]
    findings, _ = config_secret_findings([], history, Resource(type="container-image", name="demo"))
    assert [(f.rule, f.extra["history_index"], f.evidence) for f in findings] == [
        ("generic-env-secret", 0, "NPM_TOKEN=npm_****"),
        ("generic-env-secret", 1, "DB_PASSWORD=Sup****"),
    ]
    dumped = str([f.to_dict() for f in findings])
    assert "abcdef123456" not in dumped and "Sup3r-secret" not in dumped
