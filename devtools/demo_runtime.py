"""The runtime part of `make demo`: two Podman containers of the demo image, drift written into
one, `seawall scan running` showing it; then `seawall registry watch` against a local registry and
a rescan after an advisory-DB update that downloads no layer (the registry's access log says so).

Podman needs root here (vfs storage, runc, cgroupfs): without it this part says why and skips.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from devtools.demo_image import AREA, build_demo
from devtools.demo_scan import demo_db
from devtools.podman import podman_unavailable, running_podman
from devtools.registry import available, push, running_registry

DRIFT = """
cp /bin/ls /tmp/.x && chmod 755 /tmp/.x
cp /bin/ls /usr/bin/yes
mkdir -p /etc/cron.d && echo '* * * * * root /tmp/.x' > /etc/cron.d/update
echo 'svc:x:0:0::/root:/bin/sh' >> /etc/passwd
echo 'debug = true' >> /app/config/settings.ini
"""
BLOB_GET = re.compile(r'"GET /v2/[^ ]+/blobs/sha256:[0-9a-f]{64} ')


def _seawall(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seawall", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _show(cmd: str) -> None:
    print(f"\n$ {cmd}\n", flush=True)


def running_demo(area: Path) -> int:
    reason = podman_unavailable()
    if reason is not None:
        print(f"demo: skipping running containers: {reason}")
        return 0
    image = build_demo(area)
    db = demo_db(area)
    store = area / "runtime-store.sqlite"
    store.unlink(missing_ok=True)
    with running_podman() as pm:
        print(
            "demo: loading the demo image into Podman (vfs storage, own root) ...",
            file=sys.stderr,
            flush=True,
        )
        pm.run("load", "-q", "-i", str(image.docker_archive), timeout=900)
        pm.start("localhost/demo:1", "shop-web", "sleep", "3600")
        pm.start("localhost/demo:1", "shop-worker", "sleep", "3600")
        print(
            "demo: writing drift into shop-web: a dropped binary, a trojaned /usr/bin/yes, a cron entry, an "
            "account, a config change",
            file=sys.stderr,
            flush=True,
        )
        pm.exec("shop-web", DRIFT)
        source = f"podman:unix://{pm.socket}"
        _show(f"seawall scan running --source {source} --store {store} --db {db} --no-vulns")
        proc = _seawall(
            "scan",
            "running",
            "--source",
            source,
            "--store",
            str(store),
            "--db",
            str(db),
            "--no-vulns",
            "--quiet",
        )
        print(proc.stdout, end="")
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        _show(f"seawall scan running --source {source} --store {store} --db {db} --format json  (summary)")
        proc = _seawall(
            "scan",
            "running",
            "--source",
            source,
            "--store",
            str(store),
            "--db",
            str(db),
            "--format",
            "json",
            "--quiet",
        )
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        doc = json.loads(proc.stdout)
        for c in doc["target"]["metadata"]["containers"]:
            mine = [f for f in doc["findings"] if f["resource"]["name"] == c["name"]]
            vulns = sum(1 for f in mine if f["kind"] == "vulnerability")
            drift = sorted({f["rule"] for f in mine if f["rule"].startswith("RT-DRIFT")})
            print(
                f"{c['name']}: image {c['image']} ({c['image_digest'][:19]}...), "
                f"{c.get('packages')} packages, "
                f"{vulns} vulnerabilities, drift: {', '.join(drift) or 'none'}"
            )
    return 0


def registry_demo(area: Path) -> int:
    reason = available()
    if reason is not None:
        print(f"demo: skipping the registry watch: {reason}")
        return 0
    image = build_demo(area)
    from seawall import vulndb

    with (
        tempfile.TemporaryDirectory(prefix="seawall-demo-watch-") as tmp,
        running_registry(access_log=True) as reg,
    ):
        work = Path(tmp)
        old, live = work / "old.sqlite", work / "vulndb.sqlite"
        vulndb.import_paths([f for f in vulndb.shipped_feed_paths() if f.name != "PyPI.zip"], old)
        shutil.copy(old, live)
        push(reg, f"oci:{image.oci_dir}:{image.tag}", "shop/web:1.4")
        push(reg, f"oci:{image.oci_dir}:{image.tag}", "shop/worker:1.4")
        env = {"SEAWALL_REGISTRY_USERNAME": reg.username, "SEAWALL_REGISTRY_PASSWORD": reg.password}
        store = work / "store.sqlite"
        args = ["--ca-cert", str(reg.ca_cert), "--store", str(store), "--db", str(live)]
        _show(
            f"seawall registry watch {reg.host} --store store.sqlite --db vulndb.sqlite   (DB without PyPI)"
        )
        proc = _seawall("registry", "watch", reg.host, *args, "--format", "json", env=env)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        (rnd,) = json.loads(proc.stdout)["target"]["metadata"]["rounds"]
        print(
            f"{rnd['repositories']} repositories, {rnd['tags']} tags, {rnd['digests']} image digest(s), "
            f"{len(rnd['new_digests'])} new (SBOM stored), "
            f"{len(json.loads(proc.stdout)['findings'])} findings"
        )
        before = len(BLOB_GET.findall(reg.log.read_text(errors="replace")))
        print("demo: `seawall db update` (here: the PyPI feed arrives in the advisory DB)", file=sys.stderr)
        vulndb.import_paths(vulndb.shipped_feed_paths(), live)
        _show("seawall registry rescan --store store.sqlite --db vulndb.sqlite")
        proc = _seawall(
            "registry", "rescan", "--store", str(store), "--db", str(live), "--format", "json", env=env
        )
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        lines = [line for line in proc.stderr.splitlines() if "affects" in line]
        print("\n".join(lines[:8]) + (f"\n... and {len(lines) - 8} more" if len(lines) > 8 else ""))
        after = len(BLOB_GET.findall(reg.log.read_text(errors="replace")))
        doc = json.loads(proc.stdout)
        print(
            f"rescan: {len(doc['findings'])} new findings over "
            f"{doc['target']['metadata']['rescan']['images']} "
            f"stored SBOM(s); blobs downloaded from the registry during the rescan: {after - before}"
        )
    return 0


def runtime_demo(area: Path = AREA) -> int:
    os.environ.setdefault("PIP_IGNORE_INSTALLED", "1")
    code = running_demo(area)
    if code:
        return code
    return registry_demo(area)


if __name__ == "__main__":
    raise SystemExit(runtime_demo())
