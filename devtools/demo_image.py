"""The demo image, built without a Docker engine from real parts, cached under `.cache/demo/`.

Layers, as a Dockerfile would make them:
  1. `ADD file:... in /`   a Debian bookworm rootfs made by mmdebstrap (minbase + python3)
  2. `RUN pip install ...`  old PyPI releases (Django 3.2, requests 2.25.0, urllib3 1.26.4,
                            PyYAML 5.3.1, Jinja2 2.11.2 and their pinned dependencies, six 1.15.0)
                            into /usr/local/lib/python3.11/dist-packages (Debian's pip location)
  3. `COPY demo-server`     a Go binary built with Debian's golang (embeds its build info)
  4. `COPY app/ /app/`      the app, with a planted FAKE AWS key pair (AWS's documented example)
  5. `RUN pip uninstall -y six && rm -rf /usr/share/doc/python3.11`  whiteouts: six must vanish
No USER (runs as root), no HEALTHCHECK, EXPOSE 8000.

Outputs: an OCI layout `.cache/demo/oci` (tag `demo:1`) and a docker-archive
`.cache/demo/demo-docker.tar`. The rootfs, the wheels and the Go build are cached; the image is
rebuilt only when its inputs change (key in `.cache/demo/image.key`).
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devtools.imagebuild import EPOCH, FileSpec, Image, Layer
from devtools.rootfs import CACHE, REPO, build_rootfs

AREA = CACHE / "demo"
TAG = "demo:1"
BASE_INCLUDE = ("python3", "ca-certificates")
PYPI = ("Django==3.2.0", "requests==2.25.0", "urllib3==1.26.4", "PyYAML==5.3.1", "Jinja2==2.11.2",
        "asgiref==3.3.2", "pytz==2021.1", "sqlparse==0.4.1", "certifi==2020.12.5",
        "chardet==3.0.4", "idna==2.10", "MarkupSafe==1.1.1", "six==1.15.0")
SITE = "usr/local/lib/python3.11/dist-packages"
# AWS's documented example key pair (https://docs.aws.amazon.com/IAM/latest/UserGuide/security-creds.html)
FAKE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

GO_MAIN = """package main

import (
\t"fmt"
\t"log"
\t"net/http"
\t"os"
)

func main() {
\taddr := os.Getenv("DEMO_ADDR")
\tif addr == "" {
\t\taddr = ":8000"
\t}
\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
\t\tfmt.Fprintln(w, "seawall demo server")
\t})
\tlog.Fatal(http.ListenAndServe(addr, nil))
}
"""
GO_MOD = "module example.com/demo-server\n\ngo 1.19\n"

APP_PY = '''"""The demo app: a tiny Django settings module reading its AWS credentials from a file."""
import configparser

config = configparser.ConfigParser()
config.read("/app/config/settings.ini")
AWS_KEY = config["aws"]["aws_access_key_id"]
'''
SETTINGS_INI = f"""[app]
debug = false
allowed_hosts = *

[aws]
region = eu-west-1
aws_access_key_id = {FAKE_KEY_ID}
aws_secret_access_key = {FAKE_SECRET}
"""


@dataclass(frozen=True)
class DemoImage:
    oci_dir: Path
    tag: str
    docker_archive: Path
    digest: str
    pip_layer: str  # digest of the pip layer blob (as a manifest names it)
    pip_diff_id: str
    go_layer: str
    go_diff_id: str
    removed: tuple[str, ...]  # packages installed then removed by the whiteout layer

    @property
    def oci_ref(self) -> str:
        return f"oci:{self.oci_dir}:{self.tag}"

    @property
    def docker_ref(self) -> str:
        return f"docker-archive:{self.docker_archive}"


def _run(cmd: list[str], **kw: object) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed: {proc.stderr[-3000:]}")


def build_wheels(specs: tuple[str, ...] = PYPI, area: Path = AREA) -> Path:
    """`pip wheel` each pinned release once (PyYAML/MarkupSafe build from source)."""
    key = hashlib.sha256(json.dumps([sys.version_info[:2], specs, "g0"]).encode()).hexdigest()[:12]
    out = area / f"wheels-{key}"
    if (out / ".done").is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    print(f"demo: fetching {len(specs)} PyPI releases ...", file=sys.stderr)
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check",
          "-w", str(out), *specs],
         # no debug info: compiled extensions then do not embed pip's random build paths
         env={**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH), "CFLAGS": "-g0"})
    (out / ".done").touch()
    return out


def pip_install_tree(wheels: Path, dest: Path) -> None:
    """Install the wheels as `pip install` on Debian does: /usr/local/{lib/.../dist-packages,bin}."""
    stage = dest / "stage"
    # --ignore-installed: never look at (or uninstall from) the environment running this build
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-compile",
          "--ignore-installed", "--disable-pip-version-check", "--root", str(stage), "--prefix", "/usr/local",
          *sorted(str(w) for w in wheels.glob("*.whl"))])
    site = next(stage.glob("usr/local/lib/python3*/site-packages"))
    site.rename(site.with_name("dist-packages"))
    # installs from PyPI carry no direct_url.json; ours would name this machine's wheel paths
    for direct in sorted((stage / SITE).glob("*.dist-info/direct_url.json")):
        direct.unlink()
        record = direct.with_name("RECORD")
        lines = record.read_text().splitlines()
        record.write_text("\n".join(ln for ln in lines if not ln.split(",")[0].endswith("/direct_url.json"))
                          + "\n")
    # scripts carry this build's interpreter in their shebang: point them at the image's python
    for script in sorted((stage / "usr/local/bin").glob("*")):
        data = script.read_bytes()
        if data.startswith(b"#!"):
            fixed = b"#!/usr/bin/python3" + data[data.index(b"\n"):]
            script.write_bytes(fixed)
            _fix_record(stage / SITE, script.name, fixed)


def _fix_record(site: Path, script: str, data: bytes) -> None:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    for record in site.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines()
        new = [f"{ln.split(',')[0]},sha256={digest},{len(data)}"
               if ln.split(",")[0].endswith(f"bin/{script}") else ln for ln in lines]
        if new != lines:
            record.write_text("\n".join(new) + "\n")


def build_go(area: Path = AREA) -> Path:
    """Build the demo server with Debian's golang (no module proxy: no external modules)."""
    key = hashlib.sha256((GO_MAIN + GO_MOD).encode()).hexdigest()[:12]
    src = area / f"go-{key}"
    binary = src / "demo-server"
    if binary.is_file():
        return binary
    src.mkdir(parents=True, exist_ok=True)
    (src / "main.go").write_text(GO_MAIN)
    (src / "go.mod").write_text(GO_MOD)
    env = {**os.environ, "CGO_ENABLED": "0", "GOPROXY": "off", "GOFLAGS": "-buildvcs=false",
           "GOCACHE": str(area / "gocache"), "GOPATH": str(area / "gopath"), "GO111MODULE": "on"}
    _run(["go", "build", "-trimpath", "-ldflags=-s -w", "-o", "demo-server.part", "."],
         cwd=src, env=env)
    (src / "demo-server.part").replace(binary)
    return binary


def _no_apt_lists(ti: tarfile.TarInfo) -> bool:
    name = ti.name.removeprefix("./")
    return not (name.startswith("var/lib/apt/lists/") and name != "var/lib/apt/lists/")


def build_demo(area: Path = AREA, force: bool = False) -> DemoImage:
    """Build the demo image (or reuse the cached one); safe to call from parallel processes."""
    area.mkdir(parents=True, exist_ok=True)
    with open(area / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_demo(area, force)


def _build_demo(area: Path, force: bool) -> DemoImage:
    rootfs = build_rootfs(include=BASE_INCLUDE, area=area)
    wheels = build_wheels(area=area)
    go_bin = build_go(area=area)
    here = Path(__file__)
    builder_src = b"".join(f.read_bytes() for f in (here, here.with_name("imagebuild.py")))
    key = hashlib.sha256(b"|".join([rootfs.name.encode(), wheels.name.encode(), go_bin.read_bytes(),
                                     builder_src])).hexdigest()
    key_file, meta_file = area / "image.key", area / "image.json"
    oci_dir, archive = area / "oci", area / "demo-docker.tar"
    if (not force and key_file.is_file() and key_file.read_text() == key and meta_file.is_file()
            and (oci_dir / "index.json").is_file() and archive.is_file()):
        meta = json.loads(meta_file.read_text())
        return DemoImage(oci_dir, TAG, archive, meta["digest"], meta["pip_layer"], meta["pip_diff_id"],
                         meta["go_layer"], meta["go_diff_id"], tuple(meta["removed"]))
    print("demo: assembling the image ...", file=sys.stderr)
    img = Image(work=area / "work")
    rootfs_id = hashlib.sha256(rootfs.name.encode()).hexdigest()
    img.add(Layer.tarball(f"/bin/sh -c #(nop) ADD file:{rootfs_id} in / ", rootfs, keep=_no_apt_lists))
    img.step('/bin/sh -c #(nop)  CMD ["bash"]')
    with tempfile.TemporaryDirectory(dir=area) as tmp:
        pip_install_tree(wheels, Path(tmp))
        pip_cmd = " ".join(s for s in PYPI)
        pip = img.add(Layer.directory(f"RUN /bin/sh -c pip install --no-cache-dir {pip_cmd} # buildkit",
                                      Path(tmp) / "stage"))
    go = img.add(Layer.files("COPY demo-server /usr/local/bin/demo-server # buildkit",
                             {"usr/local/bin/demo-server": FileSpec(go_bin.read_bytes(), 0o755)}))
    img.add(Layer.files("COPY app/ /app/ # buildkit",
                        {"app/app.py": APP_PY.encode(), "app/config/settings.ini": SETTINGS_INI.encode()}))
    six_files = (f"{SITE}/six.py", f"{SITE}/six-1.15.0.dist-info")
    img.add(Layer.files("RUN /bin/sh -c pip uninstall -y six && rm -rf /usr/share/doc/python3.11 # buildkit",
                        {}, whiteouts=(*six_files, "usr/share/doc/python3.11")))
    img.env.append("PYTHONUNBUFFERED=1")
    img.step("ENV PYTHONUNBUFFERED=1")
    img.workdir = "/app"
    img.step("WORKDIR /app")
    img.exposed_ports = ["8000/tcp"]
    img.step("EXPOSE map[8000/tcp:{}]")
    img.cmd = ["/usr/local/bin/demo-server"]
    img.step('CMD ["/usr/local/bin/demo-server"]')
    digest = img.write_oci(oci_dir, TAG)
    img.write_docker_archive(archive, TAG)
    img.prune()
    meta = {"digest": digest, "pip_layer": pip.digest, "pip_diff_id": pip.diff_id, "go_layer": go.digest,
            "go_diff_id": go.diff_id, "removed": ["six"]}
    meta_file.write_text(json.dumps(meta))
    key_file.write_text(key)
    return DemoImage(oci_dir, TAG, archive, digest, pip.digest, pip.diff_id, go.digest, go.diff_id,
                     ("six",))


def main() -> int:
    parser = argparse.ArgumentParser(description="Build the seawall demo image (cached).")
    parser.add_argument("--force", action="store_true", help="rebuild the image even if cached")
    args = parser.parse_args()
    demo = build_demo(force=args.force)
    print(f"{demo.oci_ref}\n{demo.docker_ref}\n{demo.digest}")
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    shutil.which("mmdebstrap") or sys.exit("demo: mmdebstrap is missing (make system-deps)")
    raise SystemExit(main())
