"""`seawall scan running` against real Podman containers of the demo image: drift written into
one container (a new binary, a changed binary, a cron entry, an account, a changed config, a
`.deb` installed with apt-get, a wheel unpacked into dist-packages, hostile symlinks), the other
left alone; the Podman API socket serves both the libpod and the Docker-compatible API."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.podman import Podman
from tests.conftest import run_cli
from tests.runtime.conftest import DEMO_TAG

pytestmark = [pytest.mark.slow, pytest.mark.toolchain]

DRIFT = """
set -e
cp /bin/ls /tmp/evil
cp /bin/ls /usr/bin/yes
mkdir -p /etc/cron.d && echo '* * * * * root /tmp/evil' > /etc/cron.d/evil
echo 'hacker:x:0:0::/root:/bin/sh' >> /etc/passwd
echo 'debug = true' >> /app/config/settings.ini
python3 -m zipfile -e /tmp/PyJWT-1.5.0-py2.py3-none-any.whl /usr/local/lib/python3.11/dist-packages/
apt-get install -y /tmp/hello.deb >/dev/null 2>&1
ln -s / /tmp/escape
ln -s /etc/shadow /tmp/shadow-link
ln -s /proc/1/root /tmp/host-root
"""


# the containers of this module carry this label, and every scan selects by it: other tests'
# containers in the same Podman (the agent's) are never seen here, whatever the order
LABEL = f"seawall.test=running-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def scanned(
    podman: Podman, runtime_inputs: dict[str, Path], vulndb: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    with podman.started(DEMO_TAG, ("rt-drift", "rt-clean"), "sleep", "3600", label=LABEL):
        yield _scan_with_drift(podman, runtime_inputs, vulndb, tmp_path_factory)


def _scan_with_drift(
    podman: Podman, runtime_inputs: dict[str, Path], vulndb: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    podman.run("cp", str(runtime_inputs["wheel"]), "rt-drift:/tmp/")
    podman.run("cp", str(runtime_inputs["deb"]), "rt-drift:/tmp/hello.deb")
    podman.exec("rt-drift", DRIFT)
    area = tmp_path_factory.mktemp("scan-running")
    store = area / "store.sqlite"
    proc = run_cli(
        "scan",
        "running",
        "--source",
        f"podman:unix://{podman.socket}",
        "--label",
        LABEL,
        "--store",
        str(store),
        "--db",
        str(vulndb),
        "--format",
        "json",
        env={"HOME": str(area), "TMPDIR": str(area)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"doc": json.loads(proc.stdout), "store": store, "area": area, "stderr": proc.stderr}


def _drift(doc: dict[str, Any], container: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (f["rule"], f.get("location", {}).get("path", "")): f
        for f in doc["findings"]
        if f["resource"]["name"] == container and f["rule"].startswith("RT-DRIFT")
    }


def test_both_containers_inventoried_and_the_image_read_once(scanned: dict[str, Any]) -> None:
    meta = scanned["doc"]["target"]["metadata"]
    by_name = {c["name"]: c for c in meta["containers"]}
    assert set(by_name) == {"rt-drift", "rt-clean"}
    assert meta["images"] == 1  # one digest, read once
    for c in by_name.values():
        assert c["image"] == DEMO_TAG and c["image_digest"].startswith("sha256:") and c["pid"] > 0
        assert c["image_scanned"] and c["packages"] > 100
        assert c["workload"] == {"kind": "container", "name": c["name"]}
    with sqlite3.connect(scanned["store"]) as conn:
        assert conn.execute("SELECT count(*) FROM runtime_images").fetchone()[0] == 1
        running = conn.execute("SELECT name, workload FROM runtime_running ORDER BY name").fetchall()
    assert running == [("rt-clean", "container/rt-clean"), ("rt-drift", "container/rt-drift")]


def test_drift_findings_with_path_size_hash_and_exec_bit(scanned: dict[str, Any], podman: Podman) -> None:
    drift = _drift(scanned["doc"], "rt-drift")
    new_bin = drift[("RT-DRIFT-EXEC-NEW", "/tmp/evil")]
    assert new_bin["severity"] == "high" and new_bin["extra"]["executable"] is True
    assert new_bin["extra"]["change"] == "added" and new_bin["extra"]["size"] > 10_000
    assert new_bin["extra"]["sha256"].startswith("sha256:")
    changed = drift[("RT-DRIFT-EXEC-CHANGED", "/usr/bin/yes")]
    assert changed["severity"] == "critical" and changed["extra"]["change"] == "changed"
    assert changed["extra"]["sha256"] == new_bin["extra"]["sha256"]  # the same bytes (a copy of ls)
    assert changed["extra"]["image_sha256"] != changed["extra"]["sha256"]
    assert changed.get("location", {})["layer"].startswith(
        "sha256:"
    )  # the image layer that held the original
    assert ("RT-DRIFT-CRON", "/etc/cron.d/evil") in drift
    accounts = drift[("RT-DRIFT-ACCOUNTS", "/etc/passwd")]
    assert "T1136.001" in accounts["attack"] and accounts["extra"]["executable"] is False
    assert ("RT-DRIFT-CONFIG", "/app/config/settings.ini") in drift
    packages = {
        f["package"]["name"]: f
        for (rule, _), f in drift.items()
        if rule == "RT-DRIFT-PACKAGES" and f.get("package")
    }
    assert packages["hello"]["package"]["ecosystem"] == "Debian"
    assert packages["hello"].get("location", {})["path"] == "/var/lib/dpkg/status"
    assert packages["pyjwt"]["package"]["version"] == "1.5.0"
    assert all(f["resource"]["workload"] == "container/rt-drift" for f in drift.values())


def test_hostile_symlinks_are_reported_never_followed(scanned: dict[str, Any]) -> None:
    doc = scanned["doc"]
    summary = next(
        f for f in doc["findings"] if f["rule"] == "RT-DRIFT-FILES" and f["resource"]["name"] == "rt-drift"
    )
    text = json.dumps(summary)
    assert "/tmp/escape" in text or summary["extra"]["files"] >= 3
    paths = [f.get("location", {}).get("path", "") for f in doc["findings"]]
    assert not any(p.startswith(("/tmp/escape/", "/tmp/host-root/")) for p in paths)
    assert not any(
        "/tmp/escape/" in e for f in doc["findings"] for e in f.get("extra", {}).get("examples", [])
    )


def test_the_clean_container_has_no_drift(scanned: dict[str, Any]) -> None:
    assert _drift(scanned["doc"], "rt-clean") == {}


def test_vulnerabilities_of_what_actually_runs(scanned: dict[str, Any]) -> None:
    vulns = [f for f in scanned["doc"]["findings"] if f["kind"] == "vulnerability"]
    by_container: dict[str, set[tuple[str, str]]] = {}
    for f in vulns:
        by_container.setdefault(f["resource"]["name"], set()).add((f["package"]["name"], f["rule"]))
    # the image's Django 3.2.0 affects both; PyJWT 1.5.0 only runs in the drifted container
    assert any(name == "django" for name, _ in by_container["rt-clean"])
    assert ("pyjwt", "CVE-2017-11424") in by_container["rt-drift"]
    assert not any(name == "pyjwt" for name, _ in by_container["rt-clean"])
    jwt = next(f for f in vulns if f["package"]["name"] == "pyjwt")
    assert (
        jwt["extra"]["installed_at_runtime"] is True and jwt["resource"]["workload"] == "container/rt-drift"
    )
    django = next(f for f in vulns if f["package"]["name"] == "django")
    assert django["extra"]["installed_at_runtime"] is False


def test_second_run_uses_the_stored_sbom_and_the_docker_api(
    scanned: dict[str, Any], podman: Podman, vulndb: Path
) -> None:
    """The Docker-compatible API of the same socket: same containers, SBOM from the store."""
    area = scanned["area"]
    proc = run_cli(
        "scan",
        "running",
        "--source",
        f"docker:unix://{podman.socket}",
        "--store",
        str(scanned["store"]),
        "--db",
        str(vulndb),
        "--format",
        "json",
        "--container",
        "rt-drift",
        env={"HOME": str(area), "TMPDIR": str(area)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    (container,) = doc["target"]["metadata"]["containers"]
    assert container["name"] == "rt-drift" and container["runtime"] == "docker"
    assert container["image_digest"].startswith("sha256:") and container["image_id"].startswith("sha256:")
    assert ("RT-DRIFT-EXEC-NEW", "/tmp/evil") in _drift(doc, "rt-drift")
    with sqlite3.connect(scanned["store"]) as conn:
        assert conn.execute("SELECT count(*) FROM runtime_images").fetchone()[0] == 1


def test_fail_on_and_table(scanned: dict[str, Any], podman: Podman, vulndb: Path) -> None:
    area = scanned["area"]
    proc = run_cli(
        "scan",
        "running",
        "--source",
        f"podman:unix://{podman.socket}",
        "--store",
        str(scanned["store"]),
        "--db",
        str(vulndb),
        "--container",
        "rt-drift",
        "--no-vulns",
        "--fail-on",
        "critical",
        env={"HOME": str(area), "TMPDIR": str(area)},
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "RT-DRIFT-EXEC-CHANGED" in proc.stdout and "/usr/bin/yes" in proc.stdout


def test_label_selects_and_a_filtered_scan_keeps_the_others_running(
    scanned: dict[str, Any], podman: Podman, vulndb: Path
) -> None:
    """A container without the label is listed by a plain inventory and left out by `--label`;
    `--inventory` reads no image; a scan of one container does not forget the other one runs."""
    area = scanned["area"]
    fresh = area / "inventory-only.sqlite"
    with podman.started(DEMO_TAG, ("rt-other",), "sleep", "3600", label="seawall.test=other"):
        listed = {}
        for selector in ((), ("--label", LABEL), ("--label", "seawall.test")):
            proc = run_cli(
                "scan", "running", "--source", f"podman:unix://{podman.socket}", *selector,
                "--inventory", "--store", str(fresh), "--format", "json",
                env={"HOME": str(area), "TMPDIR": str(area)},
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr[-2000:]
            names = {c["name"] for c in json.loads(proc.stdout)["target"]["metadata"]["containers"]}
            listed[selector] = names
    assert {"rt-drift", "rt-clean", "rt-other"} <= listed[()]
    assert listed[("--label", LABEL)] == {"rt-drift", "rt-clean"}
    assert {"rt-drift", "rt-clean", "rt-other"} <= listed[("--label", "seawall.test")]
    with sqlite3.connect(fresh) as conn:  # the inventory read no image and recorded nothing
        assert conn.execute("SELECT count(*) FROM runtime_images").fetchone()[0] == 0
    proc = run_cli(
        "scan", "running", "--source", f"podman:unix://{podman.socket}", "--container", "rt-clean",
        "--store", str(scanned["store"]), "--db", str(vulndb), "--format", "json",
        env={"HOME": str(area), "TMPDIR": str(area)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    with sqlite3.connect(scanned["store"]) as conn:
        running = {r[0] for r in conn.execute("SELECT name FROM runtime_running")}
    assert running == {"rt-clean", "rt-drift"}
