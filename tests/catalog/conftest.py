"""Real test inputs for the catalogers, fetched once and cached under .cache/catalog/ (keyed by
the exact package versions), so a clean clone rebuilds them and later runs are fast."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CACHE

CAT_CACHE = CACHE / "catalog"


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: int = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def cached_dir(key: str) -> tuple[Path, bool]:
    """(dir, ready): build into dir.tmp then rename, so a killed build never looks done."""
    final = CAT_CACHE / key
    return final, final.is_dir()


def publish(tmp: Path, final: Path) -> Path:
    if final.exists():
        shutil.rmtree(tmp, ignore_errors=True)
        return final
    tmp.rename(final)
    return final


def apt_download(names: list[str]) -> dict[str, Path]:
    """apt-get download the named packages (current bookworm versions); returns name -> .deb."""
    key = "debs-" + "-".join(sorted(names))
    final, ready = cached_dir(key)
    if not ready:
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _run(["apt-get", "download", *names], cwd=tmp)
        publish(tmp, final)
    out: dict[str, Path] = {}
    for deb in final.glob("*.deb"):
        out[deb.name.split("_", 1)[0]] = deb
    missing = set(names) - set(out)
    assert not missing, missing
    return out


def pip_download(specs: list[str], no_binary: bool = False) -> Path:
    key = ("sdist-" if no_binary else "wheels-") + "-".join(sorted(specs)).replace("==", "_")
    final, ready = cached_dir(key)
    if not ready:
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(tmp), *specs]
        cmd += ["--no-binary", ":all:"] if no_binary else ["--only-binary", ":all:"]
        _run(cmd)
        publish(tmp, final)
    return final


@pytest.fixture(scope="session")
def cat_cache() -> Path:
    CAT_CACHE.mkdir(parents=True, exist_ok=True)
    return CAT_CACHE


DEP_PARSER = "usr/share/gocode/src/github.com/aquasecurity/go-dep-parser/pkg"
DEP_PARSER_FILES = ("golang/binary/testdata/test.elf", "golang/binary/testdata/replace.elf",
                    "java/jar/testdata/maven.war", "java/jar/testdata/gradle.war")


@pytest.fixture(scope="session")
def dep_parser_testdata() -> Path:
    """Real artifacts Debian ships as the test data of Trivy's go-dep-parser: Go 1.15/1.16
    binaries (pointer-format build info) and two Java web archives."""
    final, ready = cached_dir("dep-parser-testdata")
    if ready:
        return final
    deb = apt_download(["golang-github-aquasecurity-go-dep-parser-dev"])[
        "golang-github-aquasecurity-go-dep-parser-dev"]
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _run(["dpkg-deb", "-x", str(deb), str(tmp / "x")])
    for rel in DEP_PARSER_FILES:
        shutil.copy(tmp / "x" / DEP_PARSER / rel, tmp / Path(rel).name)
    shutil.rmtree(tmp / "x")
    return publish(tmp, final)
