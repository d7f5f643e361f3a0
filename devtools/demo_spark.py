"""Spark part of `make demo`: one detection over the bundled CloudTrail and Kubernetes audit logs
on Apache Spark (local mode, the same compiled rules run in executors through mapInArrow, the
stateful part grouped by rule), compared finding by finding with the single-process run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "devtools" / "samples" / "logs"


def _run(*args: str) -> tuple[int, dict, float]:
    print("$ seawall " + " ".join(args), flush=True)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "seawall", *args, "--format", "json", "-q"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        print(proc.stderr.strip()[-2000:], file=sys.stderr)
        return proc.returncode, {}, seconds
    return 0, json.loads(proc.stdout), seconds


def spark_demo() -> int:
    from seawall.spark.session import spark_available

    problem = spark_available()
    if problem:
        print(f"   skipped: {problem}")
        return 0
    for source in ("cloudtrail", "k8s-audit"):
        path = str((SAMPLES / source).relative_to(REPO))
        code, local, t_local = _run("detect", "--source", source, path, "--no-state")
        if code:
            return code
        code, spark, t_spark = _run("detect", "--source", source, path, "--engine", "spark",
                                    "--spark-master", "local[2]")
        if code:
            return code

        def key(report: dict) -> list[tuple]:
            return sorted((f["id"], f["rule"], f.get("count"), f.get("first_seen"), f.get("last_seen"))
                          for f in report["findings"])

        same = key(local) == key(spark)
        print(f"   one process: {len(local['findings'])} findings in {t_local:.1f}s; "
              f"Spark local[2]: {len(spark['findings'])} findings in {t_spark:.1f}s (JVM start included)")
        for f in spark["findings"][:6]:
            r = f["resource"]
            where = "/".join(x for x in (r.get("namespace"), r.get("name")) if x)
            print(f"     {f['severity']:>8}  {f['rule']:<34} {where[:40]:<40} x{f.get('count', 1)}")
        print(f"   same findings (ids, counts, first/last seen): {'yes' if same else 'NO'}")
        if not same:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(spark_demo())
