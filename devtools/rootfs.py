"""A cached Debian root filesystem built with mmdebstrap (no Docker engine).

The mirror comes from apt's own sources on this machine (deb822 files under
/etc/apt/sources.list.d/ or /etc/apt/sources.list) — never a hard-coded host. With
SOURCE_DATE_EPOCH set, mmdebstrap builds are byte-identical, so the tarball is cached under
`.cache/<area>/rootfs-<key>.tar`, keyed by everything that goes into it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache"
# 2023-06-10, bookworm's release day: a fixed clock for reproducible builds
DEFAULT_EPOCH = 1686355200
APT_DIR = Path("/etc/apt")


def _deb822_stanzas(text: str) -> list[dict[str, str]]:
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for raw in text.splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, key = {}, ""
            continue
        if raw[0] in " \t" and key:
            current[key] += " " + raw.strip()
            continue
        if ":" in raw:
            key, _, value = raw.partition(":")
            key = key.strip().lower()
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def apt_sources(suite: str, apt_dir: Path = APT_DIR) -> list[str]:
    """One-line `deb URI SUITE COMPONENTS` entries for `suite` (and its -updates/-security)."""
    lines: list[str] = []
    files = [apt_dir / "sources.list"] if (apt_dir / "sources.list").is_file() else []
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".sources":
            for st in _deb822_stanzas(text):
                if st.get("enabled", "yes").lower() == "no" or "deb" not in st.get("types", "").split():
                    continue
                for uri in st.get("uris", "").split():
                    for s in st.get("suites", "").split():
                        if s == suite or s.startswith(suite + "-"):
                            lines.append(f"deb {uri} {s} {st.get('components', 'main')}")
        else:
            for raw in text.splitlines():
                fields = raw.split("#", 1)[0].split()
                if len(fields) >= 3 and fields[0] == "deb":
                    if fields[1].startswith("["):  # options: deb [arch=amd64] URI SUITE ...
                        while fields and not fields[0].endswith("]"):
                            fields.pop(0)
                        fields = ["deb", *fields[1:]]
                    if len(fields) >= 3 and (fields[2] == suite or fields[2].startswith(suite + "-")):
                        lines.append(" ".join(fields))
    if not lines:
        raise RuntimeError(f"no apt source for {suite!r} in {apt_dir}/sources.list(.d); "
                           "mmdebstrap needs a Debian mirror")
    return lines


def _mmdebstrap_version() -> str:
    out = subprocess.run(["mmdebstrap", "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip()


def build_rootfs(suite: str = "bookworm", variant: str = "minbase", include: Sequence[str] = (),
                 area: str | Path = "demo", epoch: int = DEFAULT_EPOCH, quiet: bool = True) -> Path:
    """Build (once) and return the path of a rootfs tarball made by mmdebstrap.

    `area`: a directory, or a name under `.cache/` (where the tarball is cached).
    """
    mirrors = apt_sources(suite)
    key_src = json.dumps({"suite": suite, "variant": variant, "include": sorted(include),
                          "mirrors": mirrors, "epoch": epoch, "tool": _mmdebstrap_version()},
                         sort_keys=True)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:16]
    out_dir = area if isinstance(area, Path) else CACHE / area
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"rootfs-{suite}-{variant}-{key}.tar"
    if target.is_file():
        return target
    tmp = target.with_suffix(".tar.part")
    cmd = ["mmdebstrap", f"--variant={variant}", "--mode=auto", "--format=tar",
           "--dpkgopt=path-exclude=/usr/share/man/*", "--aptopt=Acquire::Retries=3"]
    if include:
        cmd.append("--include=" + ",".join(include))
    if quiet:
        cmd.append("--quiet")
    cmd += [suite, str(tmp), *mirrors]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "TMPDIR": str(out_dir)}
    started = time.monotonic()
    print(f"rootfs: mmdebstrap {variant} {suite} (+{len(include)} packages) ...", file=sys.stderr)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"mmdebstrap failed ({proc.returncode}): {proc.stderr[-2000:]}")
    tmp.replace(target)
    print(f"rootfs: built {target.name} in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return target


if __name__ == "__main__":
    print(build_rootfs(include=sys.argv[1:]))
