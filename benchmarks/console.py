"""The console with a million findings stored: latency of its pages (p50, p99) through the running
`seawall serve`, as ratios against a floor measured in the same run on the same server: `GET /healthz`
(the HTTP round trip, no database) and the API's first page of findings (one indexed read).

Two data shapes: many small incidents (20 findings each) and a few huge ones (one incident with
100,000 findings, whose page must still show only one page of its timeline).

    .venv/bin/python -m benchmarks.console [--findings N] [--database URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml
from sqlalchemy import insert

SEVERITIES = [("critical", 5), ("high", 4), ("medium", 3), ("low", 2), ("info", 1)]
KINDS = ["detection", "vulnerability", "misconfiguration", "detection", "exposure"]


def fill(url: str, n: int) -> dict[str, Any]:
    """`n` findings in 1/20 as many incidents (and one incident of 100,000 findings) and 5,000 workloads."""
    from seawall.service.store import Store
    from seawall.service.tables import findings, incidents, workloads

    store = Store(url)
    store.migrate()
    huge = min(100_000, n // 10)
    per = 20
    n_inc = (n - huge) // per + 1
    t0 = time.perf_counter()
    with store.engine.begin() as conn:
        conn.execute(
            insert(workloads),
            [
                {
                    "key": f"k8s/ns{w % 50}/Deployment/app{w}",
                    "type": "k8s:Deployment",
                    "namespace": f"ns{w % 50}",
                    "name": f"app{w}",
                    "images": "[]",
                    "first_seen": "2026-03-01T00:00:00.000000Z",
                    "last_seen": "2026-03-02T00:00:00.000000Z",
                }
                for w in range(5000)
            ],
        )
        rows = []
        for i in range(n_inc):
            sev, rank = SEVERITIES[i % 5]
            ts = f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00.000000Z"
            rows.append(
                {
                    "id": i + 1,
                    "workload": f"k8s/ns{i % 50}/Deployment/app{i % 5000}",
                    "namespace": f"ns{i % 50}",
                    "title": f"incident {i}",
                    "state": ("open", "acknowledged", "resolved")[i % 3],
                    "severity": sev,
                    "severity_rank": rank,
                    "first_seen": ts,
                    "last_seen": ts,
                    "findings": huge if i == 0 else per,
                    "events": per * 3,
                    "techniques": "|T1609|T1059.004|",
                    "tactics": "|execution|",
                    "sources": "|audit|",
                    "created_at": ts,
                    "updated_at": ts,
                }
            )
        conn.execute(insert(incidents), rows)
    batch: list[dict[str, Any]] = []
    with store.engine.begin() as conn:
        for i in range(n):
            inc = 1 if i < huge else 2 + (i - huge) // per
            sev, rank = SEVERITIES[i % 5]
            kind = KINDS[i % 5]
            ts = f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{i % 60:02d}.{i % 1000000:06d}Z"
            fid = f"{i:064x}"
            doc = {
                "kind": kind,
                "rule": f"RULE-{i % 400}",
                "title": f"finding {i % 400}",
                "severity": sev,
                "resource": {
                    "type": "k8s:Pod",
                    "name": f"app{i % 5000}-7d9f8b6c5d-x2kqz",
                    "namespace": f"ns{i % 50}",
                },
                "evidence": f"event line {i} with some text",
                "attack": ["T1609"] if kind == "detection" else [],
            }
            batch.append(
                {
                    "id": fid,
                    "kind": kind,
                    "rule": doc["rule"],
                    "title": doc["title"],
                    "severity": sev,
                    "severity_rank": rank,
                    "workload": f"k8s/ns{i % 50}/Deployment/app{i % 5000}",
                    "namespace": f"ns{i % 50}",
                    "source": "audit",
                    "incident_id": inc if kind in ("detection", "exposure") else None,
                    "count": 1 + i % 7,
                    "first_seen": ts,
                    "last_seen": ts,
                    "attack": "|T1609|" if kind == "detection" else "",
                    "suppressed": False,
                    "doc": orjson.dumps(doc).decode(),
                    "created_at": ts,
                    "updated_at": ts,
                }
            )
            if len(batch) >= 20_000:
                conn.execute(insert(findings), batch)
                batch.clear()
        if batch:
            conn.execute(insert(findings), batch)
    store.close()
    return {
        "findings": n,
        "incidents": n_inc,
        "huge_incident": huge,
        "fill_seconds": round(time.perf_counter() - t0, 1),
    }


def timed(client: httpx.Client, path: str, runs: int) -> dict[str, float]:
    cold_t = time.perf_counter()
    r = client.get(path)
    cold = time.perf_counter() - cold_t
    assert r.status_code == 200, (path, r.status_code, r.text[:200])
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path)
        samples.append(time.perf_counter() - t)
        assert r.status_code == 200
    samples.sort()
    return {
        "cold_ms": cold * 1000,
        "p50_ms": statistics.median(samples) * 1000,
        "p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000,
        "bytes": len(r.content),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--findings", type=int, default=int(os.environ.get("SEAWALL_BENCH_FINDINGS", 1_000_000)))
    ap.add_argument("--database", default="")
    ap.add_argument("--runs", type=int, default=40)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="seawall-bench-console-") as tmp:
        work = Path(tmp)
        url = args.database or f"sqlite:///{work / 'store.db'}"
        info = fill(url, args.findings)
        print(
            f"stored {info['findings']:,} findings, {info['incidents']:,} incidents (one of "
            f"{info['huge_incident']:,} findings) in {info['fill_seconds']} s",
            flush=True,
        )
        config = work / "seawall.yaml"
        config.write_text(
            yaml.safe_dump({"listen": "127.0.0.1:0", "data_dir": str(work / "data"), "database": url})
        )
        seawall = [sys.executable, "-m", "seawall"]
        token = subprocess.run(
            [*seawall, "tokens", "create", "--config", str(config), "--role", "viewer"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[-1]
        proc = subprocess.Popen(
            [*seawall, "serve", "--config", str(config)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            base = line.split("serving on ", 1)[1].split()[0]
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as c:
                floor = timed(c, "/healthz", args.runs)
                api = timed(c, "/api/v1/findings?limit=50", args.runs)
                cursor = c.get("/api/v1/findings", params={"limit": 1000}).json()["next"]
                pages = {
                    "overview /": "/",
                    "incidents": "/incidents",
                    "incidents open, high+": "/incidents?state=open&min_severity=high",
                    "incidents by technique": "/incidents?technique=T1609&namespace=ns7",
                    "incident (20 findings)": "/incidents/2",
                    "incident (100k findings)": "/incidents/1",
                    "findings": "/findings",
                    "findings critical": "/findings?min_severity=critical",
                    "findings page 21": f"/findings?cursor={cursor}",
                    "findings of a workload": "/findings?workload=k8s/ns7/Deployment/app7",
                    "workloads": "/workloads",
                    "workload": "/workload?key=k8s/ns7/Deployment/app7",
                    "scans": "/scans",
                }
                print(
                    f"floor: GET /healthz p50 {floor['p50_ms']:.2f} ms; API first page of findings p50 "
                    f"{api['p50_ms']:.2f} ms p99 {api['p99_ms']:.2f} ms"
                )
                print(
                    f"{'page':<26} {'cold ms':>9} {'p50 ms':>8} {'p99 ms':>8} {'KiB':>6} "
                    f"{'p50/healthz':>12} {'p50/API':>8}"
                )
                worst = 0.0
                for name, path in pages.items():
                    t = timed(c, path, args.runs)
                    worst = max(worst, t["p99_ms"])
                    print(
                        f"{name:<26} {t['cold_ms']:>9.1f} {t['p50_ms']:>8.1f} {t['p99_ms']:>8.1f} "
                        f"{t['bytes'] / 1024:>6.0f} {t['p50_ms'] / floor['p50_ms']:>12.1f} "
                        f"{t['p50_ms'] / api['p50_ms']:>8.1f}",
                        flush=True,
                    )
                status = Path(f"/proc/{proc.pid}/status").read_text()
                rss = int(status.split("VmRSS:")[1].split()[0]) // 1024
                print(
                    f"server RSS after the run: {rss} MiB; worst page p99 {worst:.0f} ms "
                    f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
                )
        finally:
            proc.terminate()
            proc.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
