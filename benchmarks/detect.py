"""Benchmark of `seawall detect` on Kubernetes audit logs (issue 5).

    .venv/bin/python -m benchmarks.detect [--events N] [--baseline-events M] [--shape audit|varied|all]

1. generates N audit events of each shape (default 1,000,000) into .cache/bench/ (cached): `audit`
   (one cluster's traffic, a few percent match rules) and `varied` (a second, differently shaped
   generator: keys in varying order, request/response objects, long URIs, many users and verbs);
2. the parse-only floor: orjson decoding every line, in this process;
3. seawall detect with every built-in and every loadable bundled Sigma rule for k8s-audit, as it
   runs by default (one worker process per CPU for a large plain file) and in one process
   (`--workers 1`); CPU time includes the workers';
4. memory: peak RSS of `seawall detect` and of its largest worker on N/4 and on N events (it
   should stay flat);
5. Zircolite's approach on the same Sigma rules: pySigma's sqlite backend, events flattened and
   loaded into SQLite, then one query per rule -- and pySigma's DuckDB backend over the same
   JSON. Both run on the first M events (default 100,000) in a separate venv under .cache/bench
   (benchmark-only packages, not seawall dependencies).
Figures are events/s and ratios against the floor measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "bench"
VENV = CACHE / "sigma-venv"
SIGMA_K8S = REPO / "src" / "seawall" / "data" / "sigma" / "rules" / "application" / "kubernetes"


SHAPES = {
    "audit": "devtools/detectgen/audit.py: one cluster's traffic, keys in a fixed order, ~0.8 KB per "
    "event, ~3% matching, the attack story in the middle",
    "varied": "devtools/detectgen/varied.py: keys in varying order at every level, request and response "
    "objects, long URIs, 2,000 people and thousands of service accounts, all verbs, ~1.1 KB per event",
}


def events_file(n: int, shape: str = "audit") -> Path:
    from devtools.detectgen import audit as synth
    from devtools.detectgen import varied

    path = CACHE / f"detect-{shape}-{n}.jsonl"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        tmp = path.with_suffix(".tmp")
        if shape == "varied":
            varied.write(tmp, n)
        else:
            synth.write(tmp, n, seed=3, story_at=n // 2, noisy=0.03, step_ms=5)
        tmp.replace(path)
        print(
            f"generated {n:,} events ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.0f}s"
        )
    return path


def head_file(path: Path, n: int) -> Path:
    out = path.with_name(f"{path.stem}-head{n}.jsonl")
    if not out.exists():
        with open(path, "rb") as src, open(out, "wb") as dst:
            for i, line in enumerate(src):
                if i >= n:
                    break
                dst.write(line)
    return out


def parse_floor(path: Path) -> tuple[int, float]:
    import orjson

    loads = orjson.loads
    n = 0
    t = time.perf_counter()
    c = time.process_time()
    with open(path, "rb") as f:
        carry = b""
        while chunk := f.read(16 << 20):
            lines = (carry + chunk).split(b"\n")
            carry = lines.pop()
            for line in lines:
                if line:
                    loads(line)
                    n += 1
        if carry:
            loads(carry)
            n += 1
    global FLOOR_CPU
    FLOOR_CPU = time.process_time() - c
    return n, time.perf_counter() - t


FLOOR_CPU = 0.0
SEAWALL_CPU = 0.0


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (the detect workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def seawall_run(
    path: Path, builtin: bool = True, workers: int | None = None
) -> tuple[int, float, float, int, int, int]:
    """`workers`: None = seawall's default (one worker process per CPU for large plain files)."""
    from seawall.detect import DetectOptions, run
    from seawall.detect.engine import SourceProgram
    from seawall.detect.loader import load_rules

    t = time.perf_counter()
    ruleset = load_rules([], builtin=builtin)
    rules = len(SourceProgram("k8s-audit", ruleset.rules, []).rules)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    c = _cpu()
    result = run(
        DetectOptions(source="k8s-audit", paths=[str(path)], state_path=None, workers=workers), ruleset
    )
    global SEAWALL_CPU
    SEAWALL_CPU = _cpu() - c
    return (
        result.stats.events,
        time.perf_counter() - t,
        load_s,
        rules,
        len(result.findings),
        result.matched_events,
    )


def peak_rss(path: Path, workers: int | None = None) -> tuple[float, float]:
    """Peak RSS (MiB) of `seawall detect` itself and of its largest worker process."""
    more = f", '--workers', '{workers}'" if workers else ""
    code = (
        "import resource, runpy, sys; sys.argv = ['seawall', 'detect', '-s', 'k8s-audit', sys.argv[1], "
        f"'--no-state', '-q', '-f', 'json', '-o', '/dev/null'{more}]\n"
        "try:\n    runpy.run_module('seawall', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        # (VmHWM: ru_maxrss would carry a parent's peak across fork and exec)
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print(hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    own, kids = proc.stdout.strip().splitlines()[-1].split()
    return int(own) / 1024, int(kids) / 1024


SQL_SCRIPT = textwrap.dedent(r"""
    import json, sqlite3, sys, time
    import orjson, duckdb
    from sigma.collection import SigmaCollection
    from sigma.backends.sqlite import sqliteBackend
    from sigma_backend_duckdb import DuckDBBackend

    rules_dir, path = sys.argv[1], sys.argv[2]
    rules = list(SigmaCollection.load_ruleset([rules_dir]))
    out = {"rules": len(rules)}

    # --- Zircolite's way: flatten every event, load into SQLite, one SQL query per rule
    queries = []
    for r in rules:
        try:
            queries += sqliteBackend().convert_rule(r)
        except Exception:
            pass
    def flatten(obj, prefix="", out=None):
        out = {} if out is None else out
        for k, v in obj.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                flatten(v, key + ".", out)
            elif isinstance(v, list):
                out[key] = orjson.dumps(v).decode()
            else:
                out[key] = v
        return out
    cpu0 = time.process_time()
    t = time.perf_counter()
    rows, cols = [], {}
    with open(path, "rb") as f:
        for line in f:
            row = flatten(orjson.loads(line))
            rows.append(row)
            for k in row:
                cols.setdefault(k, None)
    db = sqlite3.connect(":memory:")
    names = list(cols)
    db.execute("CREATE TABLE logs (row_id INTEGER PRIMARY KEY, " + ", ".join(
        f'"{c}" TEXT COLLATE NOCASE' for c in names) + ")")
    db.executemany("INSERT INTO logs (" + ", ".join(f'"{c}"' for c in names) + ") VALUES (" +
                   ", ".join("?" * len(names)) + ")", ([row.get(c) for c in names] for row in rows))
    db.commit()
    load = time.perf_counter() - t
    t = time.perf_counter()
    hits = 0
    for q in queries:
        try:
            hits += len(db.execute(q).fetchall())
        except sqlite3.OperationalError:
            pass  # a field no event has: Zircolite skips such a rule too
    out["sqlite"] = {"events": len(rows), "load_s": load, "query_s": time.perf_counter() - t,
                     "cpu_s": time.process_time() - cpu0,
                     "queries": len(queries), "hits": hits}
    del rows, db

    # --- pySigma's DuckDB backend over the same JSON (fields projected with json_extract_string)
    dq = []
    for r in rules:
        try:
            dq += DuckDBBackend().convert_rule(r)
        except Exception:
            pass
    def rule_fields(item, out):
        for sub in getattr(item, "detection_items", []) or []:
            rule_fields(sub, out)
        if getattr(item, "field", None):
            out.add(item.field)
        return out
    fields = set()
    for r in rules:
        for det in r.detection.detections.values():
            rule_fields(det, fields)
    fields = sorted(fields)
    con = duckdb.connect()
    cpu0 = time.process_time()
    t = time.perf_counter()
    proj = ", ".join(f"json_extract_string(json, '$.{f}') AS \"{f}\"" for f in fields)
    con.execute(f"CREATE TABLE logs AS SELECT {proj} FROM read_ndjson_objects('{path}')")
    load = time.perf_counter() - t
    t = time.perf_counter()
    hits = 0
    for q in dq:
        try:
            hits += len(con.execute(q).fetchall())
        except duckdb.Error:
            pass
    out["duckdb"] = {"events": con.execute("SELECT count(*) FROM logs").fetchone()[0], "load_s": load,
                     "cpu_s": time.process_time() - cpu0,
                     "query_s": time.perf_counter() - t, "queries": len(dq), "hits": hits}
    print(json.dumps(out))
""")


def ensure_venv() -> Path | None:
    py = VENV / "bin" / "python"
    if py.exists():
        return py
    print(f"setting up the benchmark-only venv {VENV} (pysigma-backend-sqlite, pysigma-backend-duckdb)")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [
                str(py),
                "-m",
                "pip",
                "install",
                "-q",
                "pysigma-backend-sqlite",
                "pysigma-backend-duckdb",
                "duckdb",
                "orjson",
            ],
            check=True,
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"could not set up the venv: {exc}")
        return None
    return py


def sql_approaches(path: Path) -> dict | None:
    py = ensure_venv()
    if py is None:
        return None
    script = CACHE / "sigma_sql_bench.py"
    script.write_text(SQL_SCRIPT)
    proc = subprocess.run(
        [str(py), str(script), str(SIGMA_K8S), str(path)], capture_output=True, text=True, check=False
    )
    if proc.returncode:
        print(proc.stderr[-2000:])
        return None
    result: dict = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(prog="benchmarks.detect")
    ap.add_argument("--events", type=int, default=int(os.environ.get("SEAWALL_BENCH_EVENTS", 1_000_000)))
    ap.add_argument("--baseline-events", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the floor and seawall (medians)")
    ap.add_argument("--shape", choices=[*SHAPES, "all"], default="all", help="which generator's events")
    args = ap.parse_args()
    for shape in SHAPES if args.shape == "all" else [args.shape]:
        print(f"== {shape}: {SHAPES[shape]}")
        bench(shape, args)
    return 0


def bench(shape: str, args: argparse.Namespace) -> None:
    n = args.events
    path = events_file(n, shape)
    reps = max(1, args.repeat)
    floors, runs, singles = [], [], []
    for _ in range(reps):
        n_floor, s_floor = parse_floor(path)
        floors.append((s_floor, FLOOR_CPU))
        events, secs, load_s, rules, findings, matched = seawall_run(path)
        runs.append((secs, SEAWALL_CPU))
        one = seawall_run(path, workers=1)
        singles.append((one[1], SEAWALL_CPU))
    s_floor, floor_cpu = statistics.median(f[0] for f in floors), statistics.median(f[1] for f in floors)
    secs, seawall_cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    one_s, one_cpu = statistics.median(r[0] for r in singles), statistics.median(r[1] for r in singles)
    floor = n_floor / s_floor
    med = f"median of {reps} runs" if reps > 1 else "1 run"
    cpus = len(os.sched_getaffinity(0))
    print(
        f"parse-only floor (orjson, every line, one process): {n_floor:,} events in {s_floor:.2f}s = "
        f"{floor:,.0f} events/s ({med}; {n_floor / floor_cpu:,.0f} events per CPU-second)"
    )
    eps = events / secs
    print(
        f"seawall detect, {rules} rules (built-in + loadable Sigma for k8s-audit), default ({cpus} worker "
        f"processes on {cpus} CPUs): {events:,} events in {secs:.2f}s = {eps:,.0f} events/s = "
        f"{eps / floor:.2f}x the parse floor ({matched:,} matching events -> {findings} findings; rule "
        f"loading {load_s:.1f}s once; {med})"
    )
    one_eps = events / one_s
    print(
        f"seawall detect --workers 1 (one process): {one_s:.2f}s = {one_eps:,.0f} events/s = "
        f"{one_eps / floor:.2f}x the parse floor"
    )
    print(
        f"CPU time (all threads and worker processes): floor {floor_cpu:.2f}s, seawall {seawall_cpu:.2f}s "
        f"(--workers 1: {one_cpu:.2f}s) -> {n_floor / floor_cpu:,.0f} vs {events / seawall_cpu:,.0f} "
        f"({events / one_cpu:,.0f}) events per CPU-second = {floor_cpu / seawall_cpu:.2f}x "
        f"({floor_cpu / one_cpu:.2f}x); load average {os.getloadavg()[0]:.1f} on {cpus} cores"
    )
    quarter, half = head_file(path, n // 4), head_file(path, n // 2)
    (one_q, _), (one_f, _) = peak_rss(quarter, workers=1), peak_rss(path, workers=1)
    print(
        f"memory, one process: peak RSS {one_q:.0f} MiB for {n // 4:,} events, {one_f:.0f} MiB for "
        f"{n:,} events ({one_f / one_q:.2f}x for 4x the input)"
    )
    (main_h, kid_h), (main_f, kid_f) = peak_rss(half), peak_rss(path)
    print(
        f"memory, with workers ({half.stat().st_size >> 20} MiB and {path.stat().st_size >> 20} MiB files): "
        f"main process {main_h:.0f} -> {main_f:.0f} MiB, largest worker {kid_h:.0f} -> {kid_f:.0f} MiB "
        f"for {n // 2:,} -> {n:,} events"
    )
    sub = head_file(path, args.baseline_events)
    sql = sql_approaches(sub)
    # the same rules on the same events: only the bundled Sigma rules for k8s-audit
    same = [seawall_run(sub, builtin=False) for _ in range(reps)]
    same_s = statistics.median(r[1] for r in same)
    same_events, same_rules = same[0][0], same[0][3]
    same_eps = same_events / same_s
    print(
        f"seawall detect with only the {same_rules} Sigma rules, on the first {same_events:,} events: "
        f"{same_s:.2f}s = {same_eps:,.0f} events/s ({same[0][5]:,} matching events; {med})"
    )
    if sql:
        print(f"Sigma rules converted: {sql['rules']} rules in {SIGMA_K8S.relative_to(REPO)}")
        for name, label in (
            ("sqlite", "Zircolite approach (pySigma sqlite backend, events loaded into SQLite)"),
            ("duckdb", "pySigma DuckDB backend over the same JSON"),
        ):
            r = sql[name]
            total = r["load_s"] + r["query_s"]
            e = r["events"] / total
            print(
                f"{label}: {r['queries']} Sigma queries over {r['events']:,} events: "
                f"load {r['load_s']:.2f}s + "
                f"queries {r['query_s']:.2f}s = {e:,.0f} events/s; seawall (same rules, same events) is "
                f"{same_eps / e:.1f}x faster, seawall (all {rules} rules, {events:,} events) {eps / e:.1f}x "
                f"({r['hits']} hits; {r['events'] / r['cpu_s']:,.0f} events per CPU-second)"
            )
    per_cpu = floor_cpu / min(seawall_cpu, one_cpu)
    goal = (
        f"goals: >= 0.5x parse floor: {'met' if eps / floor >= 0.5 else 'NOT met'} ({eps / floor:.2f}x "
        f"with {cpus} workers; {one_eps / floor:.2f}x in one process); >= 0.5x per CPU-second: "
        f"{'met' if per_cpu >= 0.5 else 'NOT met'} ({per_cpu:.2f}x)"
    )
    if sql:
        lite, duck = sql["sqlite"], sql["duckdb"]
        lite_eps = lite["events"] / (lite["load_s"] + lite["query_s"])
        duck_eps = duck["events"] / (duck["load_s"] + duck["query_s"])
        met = "met" if same_eps / lite_eps >= 20 else "NOT met"
        goal += (
            f"; >= 20x the SQLite approach: {met} ({same_eps / lite_eps:.1f}x with the same rules on the "
            f"same events; the parse floor itself is {floor / lite_eps:.1f}x); >= 2x DuckDB: "
            f"{'met' if same_eps / duck_eps >= 2 else 'NOT met'} ({same_eps / duck_eps:.1f}x)"
        )
    print(goal)


if __name__ == "__main__":
    raise SystemExit(main())
