"""Demo section: posture audit of the bundled sample set (devtools/samples/posture).

1. `seawall audit devtools/samples/posture`: Kubernetes manifests (plain, Helm-rendered, a kubectl
   List dump, RBAC, control plane), ECS task definitions and services, EKS and ECR JSON, Dockerfiles,
   daemon.json and a docker.service unit - one table of findings with file:line.
2. `seawall audit host --root DIR`: a Docker host root laid out from the same daemon.json and unit.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "devtools" / "samples" / "posture"


def _run(*args: str) -> int:
    print(f"$ seawall {' '.join(args)}", flush=True)
    return subprocess.call([sys.executable, "-m", "seawall", *args], cwd=REPO)


def _host_root(root: Path) -> None:
    """A minimal Docker host: the sample daemon.json and docker.service where dockerd reads them."""
    (root / "etc" / "docker").mkdir(parents=True)
    shutil.copy(SAMPLES / "docker" / "daemon.json", root / "etc" / "docker" / "daemon.json")
    (root / "lib" / "systemd" / "system").mkdir(parents=True)
    unit = root / "lib" / "systemd" / "system" / "docker.service"
    shutil.copy(SAMPLES / "docker" / "docker.service", unit)
    unit.chmod(0o664)  # group-writable: a CIS 3.2 finding
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "dockerd").write_text("#!/bin/true\n")
    (root / "etc" / "audit" / "rules.d").mkdir(parents=True)
    (root / "etc" / "audit" / "rules.d" / "docker.rules").write_text("-w /usr/bin/dockerd -k docker\n")


def audit_demo() -> int:
    code = _run("audit", str(SAMPLES.relative_to(REPO)))
    if code != 0:
        return code
    with tempfile.TemporaryDirectory(prefix="seawall-demo-host-") as tmp:
        root = Path(tmp)
        _host_root(root)
        print(flush=True)
        code = _run("audit", "host", "--root", str(root))
    return code


if __name__ == "__main__":
    raise SystemExit(audit_demo())
