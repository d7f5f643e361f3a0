"""CPE matching benchmark: NVD import with configurations, and binaries matched by CPE.

    .venv/bin/python -m benchmarks.cpe_match [--records 20000] [--packages 1000] [--rounds 5]

Data: the real NVD records seawall ships (data/advisories/nvd/nvdcve-cpe-2.0-subset.json: Node.js,
nginx, curl, Redis, Log4j ...) replicated under new CVE ids into one NVD 2.0 feed of --records
records. 5% keep their products, so each of those products gets hundreds of CVEs (as openssl or
node.js have in NVD), their versions moved up by 100 majors per copy so that a version is affected
by a few of them, as in NVD; the rest get a product name of their own (NVD's long tail). Two
sizes are imported to show that memory stays flat while the feed grows (the feed is streamed).

Every figure is printed next to a floor measured in the same run:
- import: parsing the same feed with orjson and walking every cpeMatch entry, nothing stored;
- matching: the bare cpe_match index reads for the same products (no range evaluation, no
  findings). Packages: binaries of those products with versions drawn from NVD's own bounds
  (many affected, some not), and binaries of products NVD has nothing for.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import os
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from seawall.core import Package
from seawall.vulndb import SHIPPED_DIR, import_paths, open_db
from seawall.vulndb.cpe import _QUERY as CPE_QUERY
from seawall.vulndb.cpe import products_of

SOURCE = SHIPPED_DIR / "nvd" / "nvdcve-cpe-2.0-subset.json"
TEMPLATES = {"nodejs:node.js": "node", "f5:nginx": "nginx", "haxx:curl": "curl", "redis:redis": "redis",
             "openssl:openssl": "openssl"}


def _shift(version: str, by: int) -> str:
    head, dot, rest = version.partition(".")
    return f"{int(head) + by}{dot}{rest}" if by and head.isdigit() else version


def build_feed(path: Path, records: int, hot: float = 0.05) -> None:
    base = orjson.loads(SOURCE.read_bytes())["vulnerabilities"]
    out: list[Any] = []
    stride = max(1, round(1 / hot))
    for i in range(records):
        item = copy.deepcopy(base[i % len(base)])
        item["cve"]["id"] = f"CVE-2099-{i + 10000}"
        shift = (i // (len(base) * stride)) * 100
        for conf in item["cve"].get("configurations", []):
            for node in conf["nodes"]:
                for m in node["cpeMatch"]:
                    parts = m["criteria"].split(":")
                    if i % stride:
                        parts[4] = f"{parts[4]}_{i}"
                    parts[5] = _shift(parts[5], shift)
                    m["criteria"] = ":".join(parts)
                    for k in ("versionStartIncluding", "versionStartExcluding", "versionEndIncluding",
                              "versionEndExcluding"):
                        if k in m:
                            m[k] = _shift(m[k], shift)
                    if shift and parts[5] == "*" and not any(k.startswith("versionStart") for k in m):
                        m["versionStartIncluding"] = str(shift)  # a moved "<6.2.20" stays in its band
        out.append(item)
    doc = {"resultsPerPage": records, "startIndex": 0, "totalResults": records, "format": "NVD_CVE",
           "version": "2.0", "timestamp": "2099-01-01T00:00:00.000", "vulnerabilities": out}
    path.write_bytes(orjson.dumps(doc))


def floor_import(path: Path) -> float:
    start = time.perf_counter()
    n = 0
    for item in orjson.loads(path.read_bytes())["vulnerabilities"]:
        for conf in item["cve"].get("configurations", []):
            for node in conf["nodes"]:
                n += len(node["cpeMatch"])
    assert n
    return time.perf_counter() - start


def _import_rss(path: str, db: str) -> tuple[float, int]:
    """In a fresh process: import time and peak RSS in KiB (VmHWM: ru_maxrss would carry the
    parent's peak across fork+exec)."""
    start = time.perf_counter()
    import_paths([Path(path)], Path(db))
    took = time.perf_counter() - start
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return took, int(line.split()[1])
    return took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def bench_import(tmp: Path, records: int) -> tuple[Path, Path]:
    print("import of an NVD 2.0 feed (child process each)   seconds   floor   ratio   peak RSS")
    ctx = multiprocessing.get_context("spawn")
    db = tmp / "big.sqlite"
    for n in (records // 4, records):
        feed = tmp / f"nvdcve-2.0-{n}.json"
        build_feed(feed, n)
        target = db if n == records else tmp / f"small-{n}.sqlite"
        with ctx.Pool(1) as pool:
            took, rss = pool.apply(_import_rss, (str(feed), str(target)))
        with ctx.Pool(1) as pool:
            floor = pool.apply(floor_import, (feed,))
        size = feed.stat().st_size / 1e6
        print(f"  {n:6d} records ({size:5.1f} MB)                     {took:7.3f} {floor:7.3f} "
              f"{took / floor:6.2f}x {rss / 1024:7.1f} MB")
    return db, feed


def sample_packages(feed: Path, n: int, seed: int = 11) -> list[Package]:
    """Binaries of the feed's products, versions drawn from every bound of their criteria (so
    from every band of their history)."""
    rng = random.Random(seed)
    bounds: dict[str, set[str]] = {k: set() for k in TEMPLATES}
    for item in orjson.loads(feed.read_bytes())["vulnerabilities"]:
        for conf in item["cve"].get("configurations", []):
            for node in conf["nodes"]:
                for m in node["cpeMatch"]:
                    parts = m["criteria"].split(":")
                    key = f"{parts[3]}:{parts[4]}"
                    if key in bounds:
                        bounds[key].update(v for k, v in m.items() if k.startswith("version"))
    bounds["openssl:openssl"] |= {"1.1.1w", "3.0.12", "3.0.13", "3.2.0"}
    out: list[Package] = []
    keys = sorted(TEMPLATES)
    for i in range(n):
        if i % 10 == 9:  # a product NVD holds nothing for
            vendor_product, name, version = "busybox:busybox", "busybox", f"1.{rng.randint(20, 36)}.0"
        else:
            vendor_product = keys[i % len(keys)]
            name = TEMPLATES[vendor_product]
            choices = sorted(v for v in bounds[vendor_product] if v[:1].isdigit()) or ["1.0.0"]
            version = rng.choice(choices)
        vendor, product = vendor_product.split(":")
        out.append(Package(name, version, "Binary", f"pkg:generic/{name}@{version}", cataloger="binary",
                           cpes=[f"cpe:2.3:a:{vendor}:{product}:{version}:*:*:*:*:*:*:*"]))
    return out


def bench_match(db: Path, feed: Path, n: int, rounds: int) -> None:
    packages = sample_packages(feed, n)
    # the floor reads each product once, as the matcher does within one match call
    lookups = sorted({(p.vendor, p.product) for pkg in packages for p in products_of(pkg)})
    with open_db(db) as vdb:
        vdb.match(packages, None)  # warm
        times, cpu = [], []
        for _ in range(rounds):
            start, c = time.perf_counter(), time.process_time()
            findings = vdb.match(packages, None)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - c)
        stats = vdb.stats
        floor, floor_cpu = [], []
        for _ in range(rounds):
            start, c = time.perf_counter(), time.process_time()
            for key in lookups:
                vdb.conn.execute(CPE_QUERY, key).fetchall()
            floor.append(time.perf_counter() - start)
            floor_cpu.append(time.process_time() - c)
    best, med, cbest = min(times), statistics.median(times), min(cpu)
    fbest, fcpu = min(floor), min(floor_cpu)
    print(f"\nmatching {len(packages)} binary packages by CPE ({len(lookups)} products, warm DB, best of "
          f"{rounds}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print(f"  seawall match:         wall {best * 1000:7.1f} ms (median {med * 1000:.1f}), "
          f"CPU {cbest * 1000:7.1f} ms = {len(packages) / best:,.0f} packages/s")
    print(f"  floor (index reads):   wall {fbest * 1000:7.1f} ms, CPU {fcpu * 1000:7.1f} ms; "
          f"ratio {best / fbest:.2f}x wall, {cbest / max(fcpu, 1e-9):.2f}x CPU")
    print(f"  findings: {len(findings)} for {stats.matched_packages} affected packages; "
          f"skips: {[s.message() for s in stats.skips]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="seawall-bench-cpe-") as tmp:
        db, feed = bench_import(Path(tmp), args.records)
        bench_match(db, feed, args.packages, args.rounds)


if __name__ == "__main__":
    main()
