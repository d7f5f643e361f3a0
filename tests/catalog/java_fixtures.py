"""The real log4j jars of Debian's liblog4j2-java package."""

from __future__ import annotations

import subprocess
from pathlib import Path


def log4j_jars(deb: Path, workdir: Path) -> dict[str, bytes]:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(workdir)], check=True)
    java = workdir / "usr/share/java"
    return {name: (java / name).read_bytes() for name in ("log4j-core.jar", "log4j-api.jar")}
