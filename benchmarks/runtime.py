"""Runtime benchmarks: rescanning stored SBOMs vs scanning images again, and the sidecar's cost.

    .venv/bin/python -m benchmarks.runtime [--sboms 1000] [--pulls 3] [--agent-seconds 30]

1. Rescan: 1,000 SBOMs in the SBOM store (the demo image's 134 real packages) re-matched after an
   advisory-DB update, in two shapes -- `shared` (each copy with a few PyPI versions moved: one
   base image, as a registry's images mostly are) and `distinct` (every image its own version of
   half its packages: nothing for the per-package reuse to share) -- against
   the floor of doing it the other way: pulling and scanning images from a local registry (TLS,
   the real distribution registry). Pulls are measured on `--pulls` images and extrapolated per
   image to 1,000; bytes are counted from the registry's access log (blob GETs) during each phase.
   Goal: at least 100x faster, 0 layer bytes.
2. Sidecar: `seawall agent` watching a synthetic workload that starts 10 processes per second
   (in a cgroup of its own, as a task container's processes are), shipping every start as an
   event (--processes) to a file. CPU time and peak RSS of the agent process from /proc.
   Goal: < 1% of one vCPU and < 64 MB at 10 events/s.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from seawall import vulndb

BLOB_GET = re.compile(r'"GET /v2/[^ ]+/blobs/sha256:[0-9a-f]{64} HTTP/[0-9.]+" 200 (\d+)')


def _blob_bytes(log: Path) -> tuple[int, int]:
    found = BLOB_GET.findall(log.read_text(errors="replace"))
    return len(found), sum(int(x) for x in found)


def bench_rescan(n: int, pulls: int, tmp: Path) -> bool:
    from devtools.demo_image import build_demo
    from devtools.registry import push, running_registry
    from seawall.image import SourceOptions
    from seawall.runtime.images import snapshot_image

    os.environ.setdefault("PIP_IGNORE_INSTALLED", "1")
    demo = build_demo()
    feeds = vulndb.shipped_feed_paths()
    old_db, new_db = tmp / "old.sqlite", tmp / "new.sqlite"
    vulndb.import_paths([f for f in feeds if f.name != "PyPI.zip"], old_db)
    vulndb.import_paths(feeds, new_db)
    with running_registry(access_log=True) as reg:
        push(reg, f"oci:{demo.oci_dir}:{demo.tag}", "bench/demo:1")
        options = SourceOptions(
            username=reg.username, password=reg.password, ca_cert=reg.ca_cert, cache_dir=tmp
        )
        # the floor: pull + catalog + match, as a scan of each image would
        _, bytes_before = _blob_bytes(reg.log)
        started = time.perf_counter()
        base = None
        for _ in range(pulls):
            base = snapshot_image(f"registry:{reg.host}/bench/demo:1", options, with_files=False)
            with vulndb.open_db(new_db) as db:
                db.match(base.packages, base.os)
        pull_seconds = (time.perf_counter() - started) / pulls
        _, bytes_after = _blob_bytes(reg.log)
        pull_bytes = (bytes_after - bytes_before) / pulls
        assert base is not None
        results = []
        for shape, label in SHAPES:
            results.append(_rescan_shape(shape, label, n, base, old_db, new_db, tmp, reg.log))
    floor_total = pull_seconds * n
    print(f"rescan of {n} stored SBOMs ({len(base.packages)} packages each) after a DB update:")
    print(
        f"  floor: pull + scan  {pull_seconds:8.2f} s and {pull_bytes / 1e6:.1f} MB per image (measured on "
        f"{pulls}) -> {floor_total:.0f} s and {pull_bytes * n / 1e9:.1f} GB for {n}"
    )
    ok = True
    for r in results:
        ratio = floor_total / r["seconds"]
        print(f"  {r['label']}:")
        print(
            f"    seawall rescan    {r['seconds']:8.2f} s wall, {r['cpu']:.2f} s CPU, "
            f"{r['blobs']} blob requests, {r['bytes']} bytes downloaded; "
            f"{r['distinct']} distinct packages"
        )
        print(
            f"    new findings      {r['findings']} (advisories newly affecting images: {r['new']}), "
            f"DB {r['fingerprint'][:12]}"
        )
        print(
            f"    CLI (`seawall registry rescan`, JSON report written): {r['cli_seconds']:.2f} s wall, "
            f"peak RSS {r['cli_peak_mb']:.0f} MB"
        )
        print(f"    ratio             {ratio:8.0f}x faster (goal >= 100x), layer bytes {r['bytes']} (goal 0)")
        ok = ok and ratio >= 100 and r["bytes"] == 0
    return ok


# (shape, label): how the stored SBOMs differ from the demo image's
SHAPES = [
    ("shared", "one base image: each copy with ~5% of its PyPI versions moved (a registry's usual overlap)"),
    ("distinct", "nothing shared: every image its own version of half its packages (worst case for reuse)"),
]


def _variant(p: Any, shape: str, i: int, rng: random.Random) -> Any:
    q = type(p)(**{s: getattr(p, s) for s in p.__slots__})
    if shape == "shared":
        if rng.random() < 0.05 and q.ecosystem == "PyPI":
            q.version = rng.choice(["1.0.0", "2.0.1", q.version])
    elif rng.random() < 0.5:
        if q.ecosystem == "PyPI":
            q.version = f"{q.version}.post{i}"
        elif q.ecosystem == "Debian":
            q.version = f"{q.version}+b{i}"
    return q


def _rescan_shape(
    shape: str, label: str, n: int, base: Any, old_db: Path, new_db: Path, tmp: Path, log: Path
) -> dict[str, Any]:
    from seawall.runtime.matching import db_fingerprint
    from seawall.runtime.rescan import rescan
    from seawall.runtime.sbomstore import StoredImage, open_store

    path = tmp / f"store-{shape}.sqlite"
    store = open_store(f"sqlite:///{path}")
    rng = random.Random(7)
    distinct: set[tuple[str, str, str]] = set()
    for i in range(n):
        packages = [_variant(p, shape, i, rng) for p in base.packages]
        distinct.update((p.ecosystem, p.name, p.version) for p in packages)
        store.put(
            StoredImage(
                digest=f"sha256:{i:064x}",
                name=f"bench/app-{i}",
                packages=packages,
                os=base.os,
                origin="registry",
            )
        )
    with vulndb.open_db(old_db) as db:
        rescan(store, db)  # the first match, against the old DB
    store.close()
    copy = tmp / f"store-{shape}-cli.sqlite"
    shutil.copy(path, copy)  # the same state, for the CLI's run
    store = open_store(f"sqlite:///{path}")
    count_before, bytes_before = _blob_bytes(log)
    with vulndb.open_db(new_db) as db:
        started = time.perf_counter()
        cpu = time.process_time()
        result = rescan(store, db)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu
        fingerprint = db_fingerprint(db)
    store.close()
    count_after, bytes_after = _blob_bytes(log)
    started = time.perf_counter()
    cli = subprocess.Popen(
        [sys.executable, "-m", "seawall", "registry", "rescan", "--store", str(copy), "--db", str(new_db),
         "--format", "json", "--output", str(tmp / f"rescan-{shape}.json"), "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, status, usage = os.wait4(cli.pid, 0)
    cli.returncode = os.waitstatus_to_exitcode(status)
    if cli.returncode not in (0, 1):
        raise SystemExit(f"registry rescan failed: {cli.stderr.read().decode()[-500:] if cli.stderr else ''}")
    if cli.stderr:
        cli.stderr.close()
    return {
        "label": label,
        "seconds": seconds,
        "cpu": cpu_seconds,
        "blobs": count_after - count_before,
        "bytes": bytes_after - bytes_before,
        "findings": len(result.findings),
        "new": len(result.new),
        "fingerprint": fingerprint,
        "distinct": len(distinct),
        "cli_seconds": time.perf_counter() - started,
        "cli_peak_mb": usage.ru_maxrss / 1024,
    }


def _cgroup_dir() -> Path | None:
    base = Path("/sys/fs/cgroup")
    for candidate in (base / "pids", base / "cpu", base):
        if (candidate / "cgroup.procs").exists() and os.access(candidate, os.W_OK):
            path = candidate / f"seawall-bench-{os.getpid()}"
            try:
                path.mkdir()
            except OSError:
                continue
            return path
    return None


def bench_agent(seconds: float, tmp: Path) -> bool:
    group = _cgroup_dir()
    if group is None:
        print("agent: skipped (cannot create a cgroup for the synthetic workload; run as root)")
        return True
    # 10 process starts per second, each living 2 s (a poll every second sees every one of them)
    spawner = (
        "import os, subprocess, time\n"
        f"open('{group}/cgroup.procs', 'w').write(str(os.getpid()))\n"
        f"end = time.time() + {seconds + 8}\n"
        "kids = []\n"
        "while time.time() < end:\n"
        "    kids.append(subprocess.Popen(['sleep', '2']))\n"
        "    kids = [k for k in kids if k.poll() is None]\n"
        "    time.sleep(0.1)\n"
    )
    workload = subprocess.Popen(
        [sys.executable, "-c", spawner], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    events = tmp / "events.jsonl"
    time.sleep(1.0)
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seawall",
            "agent",
            "--cgroup-match",
            group.name,
            "--processes",
            "--drift-interval",
            "0",
            "--output",
            str(events),
            "--duration",
            str(seconds),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3.0)  # start-up (imports) is not the steady state
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(f"/proc/{agent.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    start_cpu, start_wall = cpu(), time.monotonic()
    peak_kb = 0
    while agent.poll() is None:
        try:
            status = Path(f"/proc/{agent.pid}/status").read_text()
            peak_kb = max(peak_kb, int(re.search(r"VmHWM:\s+(\d+)", status).group(1)))  # type: ignore[union-attr]
            end_cpu, end_wall = cpu(), time.monotonic()
        except (OSError, AttributeError):
            break
        time.sleep(0.5)
    _, stderr = agent.communicate(timeout=60)
    workload.kill()
    workload.wait()
    time.sleep(0.5)
    for _ in range(20):
        try:
            group.rmdir()
            break
        except OSError:
            time.sleep(0.5)
    lines = events.read_text().splitlines() if events.exists() else []
    wall = end_wall - start_wall
    share = (end_cpu - start_cpu) / wall * 100
    rate = len(lines) / seconds
    print(
        f"agent over {seconds:.0f} s of a workload starting 10 processes/s (every start shipped as an event; "
        f"default 1 s polls of a /proc holding {sum(1 for p in os.listdir('/proc') if p.isdigit())} "
        "processes, "
        "where a task holds a handful):"
    )
    print(f"  events              {len(lines)} ({rate:.1f}/s) -- {stderr.strip()}")
    print(f"  CPU                 {share:.2f}% of one vCPU in steady state (goal < 1%)")
    print(f"  memory              {peak_kb / 1024:.1f} MB peak RSS (goal < 64 MB)")
    return share < 1.0 and peak_kb < 64 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.runtime")
    parser.add_argument("--sboms", type=int, default=1000)
    parser.add_argument("--pulls", type=int, default=3)
    parser.add_argument("--agent-seconds", type=float, default=30.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="seawall-bench-runtime-"))
    try:
        ok = bench_rescan(args.sboms, args.pulls, tmp)
        ok = bench_agent(args.agent_seconds, tmp) and ok
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
