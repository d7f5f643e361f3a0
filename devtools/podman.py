"""Real containers for the runtime tests and demo: Podman with its own storage root (parallel runs do not
collide), `podman system service` as the Docker-compatible and libpod API, containers removed at
the end. Podman needs root here (vfs storage, runc, cgroupfs)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def podman_unavailable() -> str | None:
    if shutil.which("podman") is None or shutil.which("runc") is None:
        return "podman/runc are not installed (devtools/system-deps.sh)"
    if os.geteuid() != 0:
        return "podman with vfs storage and cgroupfs needs root here"
    return None


@dataclass
class Podman:
    root: Path
    socket: Path
    service: subprocess.Popen[bytes] | None = None
    containers: list[str] = field(default_factory=list)

    @property
    def base(self) -> list[str]:
        return [
            "podman",
            "--root",
            str(self.root / "storage"),
            "--runroot",
            str(self.root / "run"),
            "--runtime",
            "runc",
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--tmpdir",
            str(self.root / "tmp"),
        ]

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"podman {' '.join(args[:3])} failed: {proc.stderr.strip()[-1500:]}")
        return proc

    def start(self, image: str, name: str, *cmd: str, extra: tuple[str, ...] = ()) -> str:
        cid = self.run("run", "-d", "--name", name, *ULIMITS, *extra, image, *cmd).stdout.strip()
        self.containers.append(name)
        return cid

    def remove(self, *names: str) -> None:
        """Remove these containers now (force, no grace period); missing ones are fine."""
        for name in names:
            self.run("rm", "-f", "-t", "0", name, check=False, timeout=120)
            if name in self.containers:
                self.containers.remove(name)

    @contextmanager
    def started(
        self, image: str, names: tuple[str, ...], *cmd: str, label: str, extra: tuple[str, ...] = ()
    ) -> Iterator[dict[str, str]]:
        """Containers that exist only inside the `with` block, labelled `label` (KEY=VALUE) so that a
        test or demo can select its own (`seawall scan running --label`); removed at the end even
        when the block fails. Yields name -> container id."""
        ids: dict[str, str] = {}
        try:
            for name in names:
                self.remove(name)  # a leftover of an interrupted run
                ids[name] = self.start(image, name, *cmd, extra=("--label", label, *extra))
            yield ids
        finally:
            self.remove(*names)

    def exec(self, name: str, script: str) -> str:
        return self.run("exec", name, "sh", "-c", script).stdout

    def pid(self, name: str) -> int:
        return int(self.run("inspect", name, "--format", "{{.State.Pid}}").stdout.strip())

    def start_service(self) -> None:
        self.service = subprocess.Popen(
            [*self.base, "system", "service", "--time=0", f"unix://{self.socket}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            if time.monotonic() > deadline or self.service.poll() is not None:
                raise RuntimeError("podman system service did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        self.remove(*list(self.containers))
        if self.service is not None and self.service.poll() is None:
            os.killpg(self.service.pid, signal.SIGTERM)
            try:
                self.service.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.service.pid, signal.SIGKILL)
                self.service.wait(timeout=20)


@contextmanager
def running_podman(base_dir: Path | None = None) -> Iterator[Podman]:
    root = Path(tempfile.mkdtemp(prefix="seawall-podman-", dir=base_dir))
    (root / "tmp").mkdir()
    pm = Podman(root=root, socket=root / "api.sock")
    try:
        pm.start_service()
        yield pm
    finally:
        pm.stop()
        pm.run("system", "reset", "--force", check=False, timeout=300)
        shutil.rmtree(root, ignore_errors=True)
