"""Vulnerability database benchmark: import time per feed and matching speed.

    .venv/bin/python -m benchmarks.match [--packages 1000] [--rounds 5]

Every figure is printed next to a floor measured in the same run:
- import: the feed's bare read (zip members inflated + JSON parsed, nothing stored);
- matching: the bare SQLite index lookups for the same packages (no range evaluation,
  no merging, no findings). Goal: 1,000 packages matched in under 0.2 s with a warm DB.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import zipfile
from pathlib import Path

import orjson

from seawall.core import Package
from seawall.vulndb import SHIPPED_DIR, import_paths, open_db
from seawall.vulndb.base import FeedLimits
from seawall.vulndb.importers.common import load_json_document

OSV = SHIPPED_DIR / "osv"
SECDB = sorted((SHIPPED_DIR / "alpine").glob("v*/*.json"))


def _floor_zip(path: Path) -> float:
    start = time.perf_counter()
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            orjson.loads(zf.read(info))
    return time.perf_counter() - start


def _floor_secdb() -> float:
    start = time.perf_counter()
    for path in SECDB:
        load_json_document(path, FeedLimits())
    return time.perf_counter() - start


def bench_imports(tmp: Path) -> None:
    print("import (fresh database each)          seconds   floor   ratio   advisories")
    for label, paths, floor in (
        ("osv:PyPI (PyPI.zip, 2.6 MB)", [OSV / "PyPI.zip"], _floor_zip(OSV / "PyPI.zip")),
        ("osv:Go (Go.zip, 3.2 MB)", [OSV / "Go.zip"], _floor_zip(OSV / "Go.zip")),
        (f"alpine-secdb ({len(SECDB)} files)", SECDB, _floor_secdb()),
    ):
        db = tmp / f"import-{time.monotonic_ns()}.sqlite"
        start = time.perf_counter()
        stats = import_paths(paths, db)
        took = time.perf_counter() - start
        count = sum(s.advisories for s in stats)
        print(f"  {label:<35} {took:7.3f} {floor:7.3f} {took / floor:7.2f}x {count:8d}")


def sample_packages(n: int, seed: int = 7) -> list[Package]:
    """n real (name, version) pairs read from the OSV zips: names that have advisories, versions
    taken from the data (listed or range-boundary versions: many really affected, some not)."""
    rng = random.Random(seed)
    pairs: dict[tuple[str, str], list[str]] = {}
    for path in (OSV / "PyPI.zip", OSV / "Go.zip"):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                for aff in orjson.loads(zf.read(info)).get("affected", []):
                    key = (aff["package"]["ecosystem"], aff["package"]["name"])
                    versions = pairs.setdefault(key, [])
                    versions += aff.get("versions", [])
                    for r in aff.get("ranges", []):
                        if r["type"] != "GIT":
                            versions += [v for e in r["events"] for v in e.values() if v != "0"]
    keys = sorted(k for k, v in pairs.items() if v)
    rng.shuffle(keys)
    out: list[Package] = []
    for eco, name in keys[:n]:
        version = rng.choice(sorted(pairs[(eco, name)]))
        if eco == "Go" and name != "stdlib":
            version = "v" + version
        ptype = "pypi" if eco == "PyPI" else "golang"
        out.append(Package(name, version, eco, f"pkg:{ptype}/{name}@{version}"))
    return out


def bench_match(tmp: Path, n: int, rounds: int) -> None:
    db_path = tmp / "pypi-go.sqlite"
    import_paths([OSV / "PyPI.zip", OSV / "Go.zip"], db_path)
    packages = sample_packages(n)
    with open_db(db_path) as db:
        db.match(packages, None)  # warm: page cache, statement cache, parsed versions
        times = []
        cpu_times = []
        for _ in range(rounds):
            start, cpu = time.perf_counter(), time.process_time()
            findings = db.match(packages, None)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu)
        stats = db.stats
        conn = db.conn
        floor_times = []
        floor_cpu = []
        from seawall.vulndb.match import _QUERY as query
        keys = [(p.ecosystem, p.name.lower() if p.ecosystem == "PyPI" else p.name) for p in packages]
        for _ in range(rounds):
            start, cpu = time.perf_counter(), time.process_time()
            for key in keys:
                conn.execute(query, key).fetchall()
            floor_times.append(time.perf_counter() - start)
            floor_cpu.append(time.process_time() - cpu)
    best, med, cpu_best = min(times), statistics.median(times), min(cpu_times)
    floor, floor_c = min(floor_times), min(floor_cpu)
    load = os.getloadavg()[0]
    print(f"\nmatching {len(packages)} packages (PyPI + Go, warm DB, best of {rounds}; "
          f"load average {load:.1f} on {os.cpu_count()} CPUs)")
    print(f"  seawall match:         wall {best * 1000:7.1f} ms (median {med * 1000:.1f}), "
          f"CPU {cpu_best * 1000:7.1f} ms = {len(packages) / best:,.0f} packages/s")
    print(f"  floor (index lookups): wall {floor * 1000:7.1f} ms, CPU {floor_c * 1000:7.1f} ms; "
          f"ratio {best / floor:.2f}x wall, {cpu_best / max(floor_c, 1e-9):.2f}x CPU")
    print(f"  findings: {len(findings)} for {stats.matched_packages} affected packages; "
          f"invalid versions: {stats.invalid_versions}")
    scaled, scaled_cpu = best * 1000 / len(packages), cpu_best * 1000 / len(packages)
    verdict = {True: "met", False: "NOT met"}
    print(f"  goal: 1,000 packages < 0.200 s -> wall {scaled:.3f} s ({verdict[scaled < 0.2]}), "
          f"CPU {scaled_cpu:.3f} s ({verdict[scaled_cpu < 0.2]}); wall time grows with the machine's load")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="seawall-bench-") as tmp:
        bench_imports(Path(tmp))
        bench_match(Path(tmp), args.packages, args.rounds)


if __name__ == "__main__":
    main()
