"""Done when: `seawall scan image registry:127.0.0.1:PORT/demo:1 --fail-on high` exits 1 against a real
registry (Debian's docker-registry, TLS with a self-signed CA, htpasswd auth)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.demo_image import DemoImage
from devtools.registry import Registry, available, push, running_registry
from tests.conftest import run_cli
from tests.scan.conftest import FAKE_KEY_ID, FAKE_SECRET

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def registry_with_demo(demo: DemoImage) -> Iterator[Registry]:
    reason = available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with running_registry() as reg:
        push(reg, f"oci:{demo.oci_dir}:{demo.tag}", "demo:1")
        yield reg


def test_scan_registry_image_fails_on_high(
    registry_with_demo: Registry, demo_db: Path, tmp_path: Path
) -> None:
    reg = registry_with_demo
    env = {
        "SEAWALL_REGISTRY_USERNAME": reg.username,
        "SEAWALL_REGISTRY_PASSWORD": reg.password,
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
    }
    ref = f"registry:{reg.host}/demo:1"
    proc = run_cli(
        "scan",
        "image",
        ref,
        "--ca-cert",
        str(reg.ca_cert),
        "--db",
        str(demo_db),
        "--offline",
        "--fail-on",
        "high",
        "--format",
        "json",
        env=env,
    )
    assert proc.returncode == 1, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert doc["target"]["name"].endswith("/demo:1") and doc["target"]["digest"].startswith("sha256:")
    rules = {f["rule"] for f in doc["findings"]}
    assert {"aws-access-key", "SW-IMG-001"} <= rules
    assert "SW-IMG-008" not in rules  # tagged 1, not latest
    assert any(
        f["kind"] == "vulnerability" and f["package"]["name"].lower() == "django" for f in doc["findings"]
    )
    assert FAKE_SECRET not in proc.stdout + proc.stderr and FAKE_KEY_ID not in proc.stdout + proc.stderr
    assert reg.password not in proc.stdout + proc.stderr


def test_scan_registry_without_credentials_is_a_clear_error(
    registry_with_demo: Registry, demo_db: Path, tmp_path: Path
) -> None:
    reg = registry_with_demo
    proc = run_cli(
        "scan",
        "image",
        f"registry:{reg.host}/demo:1",
        "--ca-cert",
        str(reg.ca_cert),
        "--db",
        str(demo_db),
        env={
            "HOME": str(tmp_path),
            "TMPDIR": str(tmp_path),
            "SEAWALL_REGISTRY_USERNAME": "",
            "SEAWALL_REGISTRY_PASSWORD": "",
        },
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("seawall: error: ") and proc.stderr.count("\n") == 1


@pytest.mark.parametrize("ref_suffix", ["demo:latest", "demo"])
def test_latest_tag_check(
    registry_with_demo: Registry, demo: DemoImage, tmp_path: Path, ref_suffix: str
) -> None:
    reg = registry_with_demo
    push(reg, f"oci:{demo.oci_dir}:{demo.tag}", "demo:latest")
    env = {
        "SEAWALL_REGISTRY_USERNAME": reg.username,
        "SEAWALL_REGISTRY_PASSWORD": reg.password,
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
    }
    proc = run_cli(
        "scan",
        "image",
        f"registry:{reg.host}/{ref_suffix}",
        "--ca-cert",
        str(reg.ca_cert),
        "--scanners",
        "config",
        "--format",
        "json",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rules = {f["rule"] for f in json.loads(proc.stdout)["findings"]}
    assert {"SW-IMG-008", "SW-IMG-001"} <= rules
