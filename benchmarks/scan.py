"""Benchmark: `seawall scan image` end to end against the floor of just decompressing and reading
the same layers (gzip + tarfile), and against `seawall sbom` (the inventory pass alone).

    .venv/bin/python -m benchmarks.scan [--runs 3]

Images: the ~300 MB benchmark image of `benchmarks.sbom` (Debian with gcc, Go, clang, SciPy,
pandas, real wheels and jars; cached under .cache/bench/sbom) and the demo image. The advisory
DB is the shipped data (OSV PyPI + Go), imported once under .cache/bench/scan/. Each command
runs in its own process; times are medians, memory the max RSS. Also prints the secret
scanner's own throughput on the text files it scanned, against a floor of one regex pass.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.sbom import TAG, build_big
from devtools.rootfs import CACHE, REPO

AREA = CACHE / "bench" / "scan"


def _db() -> Path:
    from seawall import vulndb

    db = AREA / "vulndb.sqlite"
    if not db.is_file():
        AREA.mkdir(parents=True, exist_ok=True)
        vulndb.import_paths(vulndb.shipped_feed_paths(), db)
    return db


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({code}): {err[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def bench_image(name: str, ref: str, oci: Path, db: Path, runs: int) -> list[tuple[str, float, float, int]]:
    """Rows of (command, median wall s, median CPU s, max RSS MB); runs interleaved."""
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out.json")
        cmds = {
            "floor (gunzip + tar)": [py, "-m", "benchmarks.sbom", "--floor", str(oci)],
            "seawall sbom": [py, "-m", "seawall", "sbom", ref, "-f", "json", "-o", out],
            "scan --scanners secret,config": [py, "-m", "seawall", "scan", "image", ref, "--scanners",
                                              "secret,config", "-q", "-f", "json", "-o", out],
            "scan (vuln,secret,config)": [py, "-m", "seawall", "scan", "image", ref, "--db", str(db), "-q",
                                          "-f", "json", "-o", out],
        }
        results: dict[str, list[tuple[float, float, int]]] = {label: [] for label in cmds}
        for _ in range(runs):  # interleaved, so that load from elsewhere hits all alike
            for label, cmd in cmds.items():
                results[label].append(measure(cmd))
        stats = json.loads(Path(out).read_text())["target"]["metadata"]["stats"]
    print(f"\n{name}: {stats['packages']} packages, {stats['files_scanned_for_secrets']} files scanned "
          "for secrets")
    return [(label, statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs),
             max(r[2] for r in rs)) for label, rs in results.items()]


def secret_throughput(ref: str) -> None:
    """The scanner alone on the files it scanned in `ref`, against one plain regex pass."""
    from seawall.image import SourceOptions, open_image
    from seawall.scan.inventory import inventory
    from seawall.scan.secrets import SecretScanner, SecretsVisitor

    class Keep(SecretsVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.kept: list[tuple[str, bytes]] = []

        def visit(self, entry, content) -> None:  # type: ignore[no-untyped-def]
            data = content.read()
            if b"\0" not in data[:8192]:
                self.kept.append((entry.path, data))

    keep = Keep()
    opts = SourceOptions()
    with open_image(ref, opts) as src:
        inventory(src, opts.limits, extra_visitors=[keep])
    total = sum(len(d) for _, d in keep.kept)
    one = re.compile(rb"AKIA[A-Z2-7]{16}")
    scanner = SecretScanner()

    def best(fn: object, runs: int = 5) -> float:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            fn()  # type: ignore[operator]
            times.append(time.perf_counter() - started)
        return min(times)

    floor_s = best(lambda: [one.findall(data) for _, data in keep.kept])
    scan_s = best(lambda: [scanner.scan_bytes(data, path) for path, data in keep.kept])
    print(f"secret scanner (best of 5): {len(keep.kept)} files, {total / 1e6:.1f} MB: {scan_s:.3f}s "
          f"({total / 1e6 / scan_s:.0f} MB/s); floor (one regex pass) {floor_s:.3f}s; "
          f"ratio {scan_s / floor_s:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--images", default="demo,big", help="which images: demo, big or both")
    args = parser.parse_args()
    from devtools.demo_image import build_demo

    # keep pip from uninstalling the venv's own copies while it stages the demo's old releases
    os.environ.setdefault("PIP_IGNORE_INSTALLED", "1")
    db = _db()
    wanted = {w.strip() for w in args.images.split(",")}
    images: list[tuple[str, str, Path]] = []
    if "demo" in wanted:
        demo = build_demo()
        images.append(("demo image", demo.oci_ref, demo.oci_dir))
    if "big" in wanted:
        big, _ = build_big()
        images.append(("big image", f"oci:{big}:{TAG}", big))
    for name, ref, oci in images:
        rows = bench_image(name, ref, oci, db, args.runs)
        floor_wall, floor_cpu = rows[0][1], rows[0][2]
        print(f"{'command':<32} {'wall':>8} {'ratio':>6} {'CPU':>8} {'ratio':>6} {'RSS':>7}")
        for label, wall, cpu, rss in rows:
            print(f"{label:<32} {wall:>7.2f}s {wall / floor_wall:>6.2f} {cpu:>7.2f}s {cpu / floor_cpu:>6.2f} "
                  f"{rss:>5}MB")
        secret_throughput(ref)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
