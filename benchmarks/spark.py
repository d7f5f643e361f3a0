"""Spark scale-out: events/s of `seawall detect --engine spark` on local[1] and local[2] against the
single-process seawall on the same data in the same run (the floor), for Kubernetes audit events
and high-cardinality VPC flow records.

    .venv/bin/python -m benchmarks.spark            # 5,000,000 audit events, 20,000,000 flow records
    SEAWALL_BENCH_SPARK_EVENTS=1000000 SEAWALL_BENCH_SPARK_FLOWS=4000000 .venv/bin/python -m benchmarks.spark

Figures printed:
- single process, one core (`--workers 1`): events/s and CPU seconds — the per-core floor;
- Spark local[1] and local[2]: events/s of the detection job (session start-up shown apart);
- scaling efficiency from 1 to 2 cores = rate(local[2]) / (2 x rate(local[1]))   (goal >= 0.8);
- Spark per core against the single process = rate(local[1]) / rate(single, one core) (goal >= 0.5);
- the findings of every run are compared (same rules and counts), so a fast wrong run cannot pass;
- sizing: executors (cores) a day of 10 TB of logs needs at the measured bytes per core-second.
"""

from __future__ import annotations

import gzip
import math
import os
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "bench" / "spark"
EVENTS = int(os.environ.get("SEAWALL_BENCH_SPARK_EVENTS", "5000000"))
FLOWS = int(os.environ.get("SEAWALL_BENCH_SPARK_FLOWS", "20000000"))
PART_EVENTS = 100_000  # events per file (CloudTrail and EKS exports arrive as many files)
PART_FLOWS = 500_000


def _cpu() -> float:
    """CPU seconds of this process, its finished children, and every live descendant (the Spark
    JVM and its Python workers): on a busy machine CPU time is the steadier figure."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for pid in _descendants(os.getpid()):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def audit_parts(n: int) -> Path:
    """`n` audit events from the detect benchmark's generator, in gzip parts of PART_EVENTS."""
    from devtools.detectgen import audit as synth

    out = CACHE / f"audit-{n}"
    if out.is_dir():
        return out
    tmp = out.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t = time.perf_counter()
    part: list[bytes] = []
    index = 0
    for line in synth.generate(n, seed=3, story_at=n // 2, noisy=0.03, step_ms=5):
        part.append(line)
        if len(part) >= PART_EVENTS:
            (tmp / f"audit-{index:05d}.log.gz").write_bytes(gzip.compress(b"\n".join(part) + b"\n", 3))
            part, index = [], index + 1
    if part:
        (tmp / f"audit-{index:05d}.log.gz").write_bytes(gzip.compress(b"\n".join(part) + b"\n", 3))
    tmp.replace(out)
    print(f"generated {n:,} audit events in {index + 1} files in {time.perf_counter() - t:.0f}s", flush=True)
    return out


def flow_parts(n: int) -> tuple[Path, Path]:
    """`n` VPC flow records (the network benchmark's generator) in gzip parts, and its inventory."""
    from benchmarks.network import generate

    out = CACHE / f"flows-{n}"
    whole = CACHE / f"flows-{n}.log"
    inventory = whole.with_suffix(".inventory.json")
    if out.is_dir() and inventory.exists():
        return out, inventory
    t = time.perf_counter()
    generate(whole, n)
    tmp = out.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with whole.open("rb") as src:
        header = src.readline()
        index = 0
        while True:
            lines = [src.readline() for _ in range(PART_FLOWS)]
            lines = [x for x in lines if x]
            if not lines:
                break
            (tmp / f"flows-{index:05d}.log.gz").write_bytes(gzip.compress(header + b"".join(lines), 3))
            index += 1
    whole.unlink()
    tmp.replace(out)
    print(f"generated {n:,} flow records in {index} files in {time.perf_counter() - t:.0f}s", flush=True)
    return out, inventory


def _bytes(path: Path) -> int:
    total = 0
    for f in sorted(path.iterdir()):
        with gzip.open(f, "rb") as fh:
            while chunk := fh.read(1 << 20):
                total += len(chunk)
    return total


def _summary(findings: list[Any]) -> list[tuple[str, int | None]]:
    return sorted((f.rule, f.count) for f in findings)


def run_detect(path: Path) -> dict[str, Any]:
    from seawall import analyzers
    from seawall.detect import DetectOptions
    from seawall.spark.detect import detect_files

    files = [str(f) for f in sorted(path.iterdir())]
    out: dict[str, Any] = {}
    cpu, t = _cpu(), time.perf_counter()
    one = analyzers.get("detect").run(files, DetectOptions(source="k8s-audit", paths=[], workers=1))
    out["single"] = (time.perf_counter() - t, _cpu() - cpu, _summary(one.findings))
    for cores in (1, 2):
        spark, started = _session(cores)
        cpu, t = _cpu(), time.perf_counter()
        result = detect_files(spark, files, DetectOptions(source="k8s-audit", paths=[]))
        out[f"local[{cores}]"] = (time.perf_counter() - t, _cpu() - cpu, _summary(result.findings), started)
        spark.stop()
    return out


def run_network(path: Path, inventory: Path) -> dict[str, Any]:
    from seawall import analyzers
    from seawall.network.options import NetworkOptions
    from seawall.spark.network import analyze_files

    files = [str(f) for f in sorted(path.iterdir())]
    options = NetworkOptions(source="vpc-flow", inventory=[inventory])
    out: dict[str, Any] = {}
    cpu, t = _cpu(), time.perf_counter()
    one = analyzers.get("network").run(files, options)
    out["single"] = (time.perf_counter() - t, _cpu() - cpu, _summary(one.findings))
    for cores in (1, 2):
        spark, started = _session(cores)
        cpu, t = _cpu(), time.perf_counter()
        result = analyze_files(spark, files, NetworkOptions(source="vpc-flow", inventory=[inventory]))
        seconds, used = time.perf_counter() - t, _cpu() - cpu
        out[f"local[{cores}]"] = (seconds, used, _summary(result.report.findings), started)
        spark.stop()
    return out


def _session(cores: int) -> tuple[Any, float]:
    from seawall.spark import local_session

    t = time.perf_counter()
    spark = local_session(f"local[{cores}]", app=f"seawall-bench-{cores}",
                          conf={"spark.sql.shuffle.partitions": str(4 * cores)})
    spark.range(1).collect()  # the JVM and a Python worker up
    return spark, time.perf_counter() - t


def report(name: str, unit: str, n: int, data_bytes: int, runs: dict[str, Any]) -> dict[str, float]:
    """Wall-clock rates, and CPU-second rates (every process of the run: the steadier figure when
    other work shares the machine)."""
    single_s, single_cpu, single_findings = runs["single"]
    print(f"\n{name}: {n:,} {unit}, {data_bytes / 1e9:.2f} GB uncompressed")
    print(f"  single process, one core : {single_s:7.1f} s  {n / single_s:11,.0f} {unit}/s; "
          f"CPU {single_cpu:6.1f} s = {n / single_cpu:9,.0f} {unit} per CPU-second")
    rates, cpu_rates = {}, {}
    for key in ("local[1]", "local[2]"):
        seconds, cpu, findings, started = runs[key]
        rates[key], cpu_rates[key] = n / seconds, n / cpu
        same = "same findings" if findings == single_findings else "FINDINGS DIFFER"
        print(f"  spark {key:<9}          : {seconds:7.1f} s  {rates[key]:11,.0f} {unit}/s; "
              f"CPU {cpu:6.1f} s = {cpu_rates[key]:9,.0f} {unit} per CPU-second "
              f"(session start {started:.1f} s; {same})")
    efficiency = rates["local[2]"] / (2 * rates["local[1]"])
    per_core = rates["local[1]"] / (n / single_s)
    per_cpu = cpu_rates["local[1]"] / (n / single_cpu)
    print(f"  scaling 1 -> 2 cores     : {efficiency:.2f} wall   (goal >= 0.8; needs an idle machine)")
    print(f"  spark per core / single  : {per_core:.2f} wall, {per_cpu:.2f} per CPU-second   (goal >= 0.5)")
    core_bytes = data_bytes / (n / cpu_rates["local[1]"])
    cores_10tb = 10e12 / (core_bytes * 86400)
    print(f"  per CPU-second: {core_bytes / 1e6:.1f} MB -> a day of 10 TB needs {math.ceil(cores_10tb):,} "
          f"executor cores running all day ({math.ceil(cores_10tb / 4):,} 4-core executors)")
    return {"efficiency": efficiency, "per_core": per_core, "per_cpu": per_cpu, "core_mb_s": core_bytes / 1e6}


def main() -> int:
    from seawall.spark.session import spark_available

    problem = spark_available()
    if problem:
        print(f"benchmarks.spark: skipped: {problem}")
        return 0
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}", flush=True)
    audit = audit_parts(EVENTS)
    audit_runs = run_detect(audit)
    report("Kubernetes audit events", "events", EVENTS, _bytes(audit), audit_runs)
    flows, inventory = flow_parts(FLOWS)
    flow_runs = run_network(flows, inventory)
    report("VPC flow records", "records", FLOWS, _bytes(flows), flow_runs)
    differ = [k for runs in (audit_runs, flow_runs) for k in ("local[1]", "local[2]")
              if runs[k][2] != runs["single"][2]]
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
