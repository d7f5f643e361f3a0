"""Every image check and the config/history secrets on a real image built with everything wrong.

The image is written as an OCI layout by devtools.imagebuild (real tar+gzip layers, real config
and history), then read by seawall like any other image: nothing here hands the checks
ready-made facts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devtools.imagebuild import FileSpec, Image, Layer
from tests.conftest import run_cli

TOKEN = "tok_9f8e7d6c5b4a3921"
NPM_TOKEN = "npm_xyzzy1234567890"
DPKG_STATUS = b"""Package: openssh-server
Status: install ok installed
Priority: optional
Section: net
Installed-Size: 1780
Maintainer: Debian OpenSSH Maintainers <debian-ssh@lists.debian.org>
Architecture: amd64
Source: openssh
Version: 1:9.2p1-2+deb12u3
Description: secure shell (SSH) server, for secure access from remote machines

"""


@pytest.fixture(scope="module")
def bad_image(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("badimage")
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    img = Image(work=root / "work")
    layers = {
        "base": img.add(
            Layer.files(
                "/bin/sh -c #(nop) ADD file:0123abcd in / ",
                {
                    "etc/os-release": b'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n',
                    "var/lib/dpkg/status": DPKG_STATUS,
                    "usr/sbin/sshd": FileSpec(b"\x7fELF\x02\x01\x01\0fake sshd", 0o755),
                    "usr/bin/su": FileSpec(b"\x7fELF\x02\x01\x01\0fake su", 0o4755),
                },
            )
        ),
        "add": img.add(
            Layer.files(
                "ADD https://example.com/tool.tar.gz /opt/ # buildkit",
                {"opt/tool.tar.gz": b"not really a tarball"},
            )
        ),
        "curl": img.add(
            Layer.files(
                "RUN /bin/sh -c curl -fsSL https://get.example.sh | sh # buildkit",
                {"usr/local/bin/helper": FileSpec(b"#!/bin/sh\necho hi\n", 0o4755)},
            )
        ),
        "npm": img.add(
            Layer.files(
                f"|1 NPM_TOKEN={NPM_TOKEN} /bin/sh -c npm ci # buildkit",
                {"app/package.json": b'{"name": "app"}\n'},
            )
        ),
        "key": img.add(
            Layer.files(
                "COPY id_rsa /root/.ssh/id_rsa # buildkit",
                {"root/.ssh/id_rsa": FileSpec(b"# deploy key\n" + pem, 0o600)},
            )
        ),
    }
    img.env.append(f"API_TOKEN={TOKEN}")
    img.step(f"ENV API_TOKEN={TOKEN}")
    img.user = "root"
    img.step("USER root")
    img.exposed_ports = ["22/tcp"]
    img.step("EXPOSE map[22/tcp:{}]")
    img.healthcheck = {"Test": ["NONE"]}
    img.step("HEALTHCHECK NONE")
    oci = root / "oci"
    img.write_oci(oci, "1")
    return {"oci": oci, "key_line": pem.decode().splitlines()[1], **{k: v.diff_id for k, v in layers.items()}}


def _scan(ref: str) -> dict[str, Any]:
    proc = run_cli("scan", "image", ref, "--scanners", "secret,config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert TOKEN not in proc.stdout + proc.stderr and NPM_TOKEN not in proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def _loc(f: dict[str, Any], key: str) -> Any:
    return f.get("location", {}).get(key)


def test_every_check_fires_with_its_layer(bad_image: dict[str, Any]) -> None:
    doc = _scan(f"oci:{bad_image['oci']}:1")
    got = {
        (f["rule"], _loc(f, "path"), _loc(f, "layer"), f["severity"])
        for f in doc["findings"]
        if f["kind"] == "misconfiguration"
    }
    base, add, curl = bad_image["base"], bad_image["add"], bad_image["curl"]
    assert got == {
        ("SW-IMG-001", None, None, "high"),
        ("SW-IMG-002", None, None, "high"),
        ("SW-IMG-003", None, add, "medium"),
        ("SW-IMG-004", None, curl, "high"),
        ("SW-IMG-005", "/var/lib/dpkg/status", base, "high"),  # the openssh-server package
        ("SW-IMG-005", None, None, "high"),  # EXPOSE 22/tcp
        ("SW-IMG-006", "/usr/bin/su", base, "low"),  # the base layer's own setuid file
        ("SW-IMG-006", "/usr/local/bin/helper", curl, "medium"),  # added by the image
        ("SW-IMG-007", None, None, "low"),
    }
    by_rule = {f["rule"]: f for f in doc["findings"]}
    assert by_rule["SW-IMG-002"]["evidence"] == "ENV API_TOKEN (values redacted)"
    assert by_rule["SW-IMG-003"]["evidence"] == "https://example.com/tool.tar.gz"
    # an OCI layout's tag is the user's own name for it, not a registry tag: no latest check
    assert "SW-IMG-008" not in by_rule


def test_secrets_in_files_env_and_build_args(bad_image: dict[str, Any]) -> None:
    doc = _scan(f"oci:{bad_image['oci']}:1")
    assert bad_image["key_line"] not in json.dumps(doc)
    secrets = sorted(
        (f["rule"], f["extra"]["source"], _loc(f, "path"), _loc(f, "line"), _loc(f, "layer"), f["evidence"])
        for f in doc["findings"]
        if f["kind"] == "secret"
    )
    assert secrets == [
        ("generic-env-secret", "config.env", None, None, None, "ENV API_TOKEN: API_TOKEN=tok_****"),
        ("generic-env-secret", "config.history", None, None, bad_image["npm"], "NPM_TOKEN=npm_****"),
        ("private-key", "file", "/root/.ssh/id_rsa", 3, bad_image["key"], bad_image["key_line"][:4] + "****"),
    ]
