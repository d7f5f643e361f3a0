"""`seawall sbom` by reference from a real registry (Debian's docker-registry, TLS with a
self-signed CA, htpasswd Basic auth), with the demo image pushed by skopeo."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.demo_image import DemoImage
from devtools.registry import Registry, available, push, running_registry
from tests.conftest import run_cli
from tests.sbom.conftest import layers_of, packages_by_key, sbom_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def registry(demo: DemoImage) -> Iterator[Registry]:
    reason = available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with running_registry() as reg:
        push(reg, demo.oci_ref, "team/demo:1")
        yield reg


def test_sbom_by_reference(registry: Registry, demo: DemoImage, demo_oci_sbom: dict[str, Any],
                           tmp_path: Path) -> None:
    env = {"SEAWALL_REGISTRY_USERNAME": registry.username, "SEAWALL_REGISTRY_PASSWORD": registry.password,
           "HOME": str(tmp_path)}
    proc = run_cli("sbom", f"registry:{registry.host}/team/demo:1", "--ca-cert", str(registry.ca_cert),
                   "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    # skopeo keeps the compressed blobs: the same manifest digest as the OCI layout; packages
    # name their layer by diff_id, as from every other input
    assert doc["target"]["digest"] == demo.digest
    pkgs = packages_by_key(doc)
    assert layers_of(pkgs[("PyPI", "django")]) == {demo.pip_diff_id}
    assert pkgs[("Debian", "libssl3")]["source_name"] == "openssl"
    assert ("PyPI", "six") not in pkgs
    assert {p["purl"] for p in doc["packages"]} == {p["purl"] for p in demo_oci_sbom["packages"]}


def test_registry_errors_are_one_line(registry: Registry, tmp_path: Path) -> None:
    ref = f"registry:{registry.host}/team/demo:1"
    home = {"HOME": str(tmp_path)}
    cases = [
        # wrong password
        (("--username", registry.username, "--password", "wrong", "--ca-cert", str(registry.ca_cert)), home),
        # the self-signed certificate is not trusted without --ca-cert
        (("--username", registry.username, "--password", registry.password), home),
        # no such tag
        (("--username", registry.username, "--password", registry.password, "--ca-cert",
          str(registry.ca_cert)), home),
    ]
    for i, (args, env) in enumerate(cases):
        target = ref if i < 2 else ref.replace(":1", ":nope")
        proc = run_cli("sbom", target, *args, env=env)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("seawall: error:"), proc.stderr
        assert registry.password not in proc.stderr


def test_insecure_registry_flag(registry: Registry, tmp_path: Path) -> None:
    doc = sbom_json(f"registry:{registry.host}/team/demo:1", "--insecure-registry",
                    "--username", registry.username, "--password", registry.password)
    assert any(p["name"] == "django" for p in doc["packages"])
