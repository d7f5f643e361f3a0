"""`seawall audit host --root DIR` on temp roots laid out with real-format Docker host files."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from tests.conftest import run_cli

DOCKER_SERVICE = """[Unit]
Description=Docker Application Container Engine
Documentation=https://docs.docker.com
After=network-online.target docker.socket firewalld.service containerd.service time-set.target
Wants=network-online.target containerd.service
Requires=docker.socket

[Service]
Type=notify
ExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutStartSec=0
RestartSec=2
Restart=always

[Install]
WantedBy=multi-user.target
"""
DOCKER_SOCKET = """[Unit]
Description=Docker Socket for the API

[Socket]
ListenStream=/run/docker.sock
SocketMode=0660
SocketUser=root
SocketGroup=docker

[Install]
WantedBy=sockets.target
"""
HARDENED_DAEMON = {"icc": False, "userns-remap": "default", "no-new-privileges": True, "live-restore": True,
                   "log-driver": "journald", "userland-proxy": False}


def _write(root: Path, rel: str, text: str, mode: int) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def _layout(root: Path, daemon: dict, service_mode: int = 0o644, extra_rules: str = "") -> None:
    _write(root, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\nubuntu:x:1000:1000::/home/ubuntu:/bin/sh\n",
           0o644)
    _write(root, "etc/group", "root:x:0:\ndocker:x:998:ubuntu\n", 0o644)
    (root / "etc/docker").mkdir(parents=True, exist_ok=True)
    (root / "etc/docker").chmod(0o755)
    _write(root, "etc/docker/daemon.json", json.dumps(daemon, indent=2) + "\n", 0o644)
    _write(root, "lib/systemd/system/docker.service", DOCKER_SERVICE, service_mode)
    _write(root, "lib/systemd/system/docker.socket", DOCKER_SOCKET, 0o644)
    _write(root, "usr/bin/dockerd", "#!/bin/true\n", 0o755)
    _write(root, "usr/bin/runc", "#!/bin/true\n", 0o755)
    rules = "\n".join(f"-w {p} -k docker" for p in (
        "/usr/bin/dockerd", "/etc/docker", "/lib/systemd/system/docker.service",
        "/lib/systemd/system/docker.socket", "/etc/docker/daemon.json")) + "\n" + extra_rules
    _write(root, "etc/audit/rules.d/docker.rules", rules, 0o640)


def _findings(root: Path, *extra: str) -> tuple[int, dict]:
    proc = run_cli("audit", "host", "--root", str(root), "--format", "json", *extra)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_hardened_host_has_only_the_missing_runc_audit_rule(tmp_path: Path) -> None:
    _layout(tmp_path, HARDENED_DAEMON)
    _, report = _findings(tmp_path)
    got = {(f["rule"], f["resource"]["name"]) for f in report["findings"]}
    assert got == {("SW-DH-012", "/usr/bin/runc")}
    assert report["target"]["kind"] == "host"
    _layout(tmp_path, HARDENED_DAEMON, extra_rules="-w /usr/bin/runc -k docker\n")
    _, report = _findings(tmp_path)
    assert report["findings"] == []


def test_exposed_daemon_open_files_and_missing_rules(tmp_path: Path) -> None:
    daemon = {"hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2375"],
              "insecure-registries": ["registry.internal:5000"], "log-driver": "json-file"}
    _layout(tmp_path, daemon, service_mode=0o666)
    # a registry certificate readable and writable by its owner: CIS wants 444
    _write(tmp_path, "etc/docker/certs.d/registry.internal:5000/ca.crt",
           "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 0o644)
    # the daemon's socket, a real unix socket, world-writable
    sock_path = tmp_path / "var/run/docker.sock"
    sock_path.parent.mkdir(parents=True)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        sock_path.chmod(0o666)
        if os.getuid() == 0:
            os.chown(tmp_path / "lib/systemd/system/docker.socket", 1000, 1000)
        code, report = _findings(tmp_path, "--fail-on", "critical")
    finally:
        sock.close()
    got = {(f["rule"], f["location"]["path"], f["location"].get("line")) for f in report["findings"]}
    expected = {
        ("SW-DH-001", "/etc/docker/daemon.json", 2),
        ("SW-DH-002", "/etc/docker/daemon.json", None),
        ("SW-DH-003", "/etc/docker/daemon.json", 6),
        ("SW-DH-004", "/etc/docker/daemon.json", None),
        ("SW-DH-005", "/etc/docker/daemon.json", None),
        ("SW-DH-006", "/etc/docker/daemon.json", None),
        ("SW-DH-007", "/etc/docker/daemon.json", 9),
        ("SW-DH-008", "/etc/docker/daemon.json", None),
        ("SW-DH-011", "/lib/systemd/system/docker.service", None),
        ("SW-DH-011", "/etc/docker/certs.d/registry.internal:5000/ca.crt", None),
        ("SW-DH-011", "/var/run/docker.sock", None),
        ("SW-DH-012", "/etc/audit/rules.d", None),
    }
    if os.getuid() == 0:
        expected.add(("SW-DH-010", "/lib/systemd/system/docker.socket", None))
    assert got == expected
    assert code == 1
    exposure = next(f for f in report["findings"] if f["rule"] == "SW-DH-001")
    assert exposure["kind"] == "exposure" and exposure["severity"] == "critical"
    assert "tcp://0.0.0.0:2375" in exposure["evidence"]
    assert "cis-docker:2.7" in exposure["references"]
    modes = {f["resource"]["name"]: f["evidence"] for f in report["findings"] if f["rule"] == "SW-DH-011"}
    assert "mode 666" in modes["/lib/systemd/system/docker.service"]
    assert "CIS 3.16" in modes["/var/run/docker.sock"]
    missing_rules = {f["resource"]["name"] for f in report["findings"] if f["rule"] == "SW-DH-012"}
    assert missing_rules == {"/usr/bin/runc"}


def test_tcp_host_from_the_unit_file_is_merged_with_daemon_json(tmp_path: Path) -> None:
    _layout(tmp_path, HARDENED_DAEMON, extra_rules="-w /usr/bin/runc -k docker\n")
    _write(tmp_path, "etc/systemd/system/docker.service.d/override.conf",
           "[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H fd:// -H tcp://0.0.0.0:2375\n", 0o644)
    _, report = _findings(tmp_path)
    got = [(f["rule"], f["location"]["path"], f["location"]["line"]) for f in report["findings"]]
    assert got == [("SW-DH-001", "/etc/systemd/system/docker.service.d/override.conf", 3)]


def test_host_without_docker_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    proc = run_cli("audit", "host", "--root", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.startswith("seawall: error: no Docker installation found")
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to chown")
def test_wrong_owner_of_daemon_json(tmp_path: Path) -> None:
    _layout(tmp_path, HARDENED_DAEMON, extra_rules="-w /usr/bin/runc -k docker\n")
    os.chown(tmp_path / "etc/docker/daemon.json", 1000, 998)
    _, report = _findings(tmp_path)
    got = [(f["rule"], f["resource"]["name"], f["evidence"]) for f in report["findings"]]
    assert got == [("SW-DH-010", "/etc/docker/daemon.json",
                    "/etc/docker/daemon.json owned by ubuntu:docker, expected root:root (CIS 3.17)")]


def test_symlinks_are_judged_by_what_they_lead_to_inside_the_root(tmp_path: Path) -> None:
    """A link's own mode is always 777: the file it leads to is judged (it was reported as mode
    777). Links are followed as the audited host would follow them, inside --root only: an
    absolute target starts again at the root (/var/run -> /run), `..` stops there."""
    _layout(tmp_path, HARDENED_DAEMON, extra_rules="-w /usr/bin/runc -k docker\n")
    # daemon.json kept elsewhere and linked, the way configuration management often does it
    real = _write(tmp_path, "srv/config/docker/daemon.json", json.dumps(HARDENED_DAEMON) + "\n", 0o644)
    (tmp_path / "etc/docker/daemon.json").unlink()
    (tmp_path / "etc/docker/daemon.json").symlink_to("../../srv/config/docker/daemon.json")
    # /var/run -> /run (absolute, as on every systemd host), the socket 0660 under /run
    (tmp_path / "run").mkdir()
    (tmp_path / "var").mkdir()
    (tmp_path / "var/run").symlink_to("/run")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "run/docker.sock"))
        os.chmod(tmp_path / "run/docker.sock", 0o660)
        _, report = _findings(tmp_path)
        assert report["findings"] == [], report["findings"]
        # the file behind the link is world-writable: reported, with the link named
        real.chmod(0o666)
        _, report = _findings(tmp_path)
        got = [(f["rule"], f["resource"]["name"], f["evidence"]) for f in report["findings"]]
        assert got == [("SW-DH-011", "/etc/docker/daemon.json",
                        "/etc/docker/daemon.json (through a symbolic link to /srv/config/docker/daemon.json) "
                        "mode 666, expected 644 or stricter (CIS 3.18)")]
    finally:
        sock.close()
    # a link that climbs out of the root stays inside it; one that leads nowhere is a skip
    (tmp_path / "etc/docker/daemon.json").unlink()
    (tmp_path / "etc/docker/daemon.json").symlink_to("../../../../../../../../srv/config/docker/daemon.json")
    real.chmod(0o644)
    _, report = _findings(tmp_path)
    assert report["findings"] == []
    (tmp_path / "etc/docker/daemon.json").unlink()
    (tmp_path / "etc/docker/daemon.json").symlink_to("/nowhere/daemon.json")
    _, report = _findings(tmp_path)
    assert [s["subject"] for s in report["skipped"]] == ["/etc/docker/daemon.json"]
    assert "leads nowhere" in report["skipped"][0]["reason"]
