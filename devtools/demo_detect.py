"""Detection part of `make demo`: the bundled logs of each source (Kubernetes audit, CloudTrail,
container logs, Falco, Tetragon -- each with an attack inside) through `seawall detect`, findings
grouped by the workload they concern, plus the rule-loading report."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "devtools" / "samples" / "logs"
SOURCES = ("k8s-audit", "cloudtrail", "container-logs", "falco", "tetragon")


def _detect(source: str) -> tuple[int, dict]:
    args = ["detect", "--source", source, str(SAMPLES / source), "--format", "json", "--no-state", "-q"]
    print("$ seawall " + " ".join(a.replace(str(REPO) + "/", "") for a in args), flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", "seawall", *args], cwd=REPO, capture_output=True, text=True, check=False
    )
    if proc.returncode not in (0, 1):
        print(proc.stderr, file=sys.stderr)
        return proc.returncode, {}
    return 0, json.loads(proc.stdout)


def _show(report: dict, seconds: float) -> None:
    meta = report["target"].get("metadata", {})
    findings = report["findings"]
    print(
        f"   {meta.get('events', 0):,} events, {meta.get('rules', 0)} rules, {len(findings)} findings "
        f"in {seconds:.1f}s"
    )
    by_workload: dict[str, list[dict]] = defaultdict(list)
    for f in findings:
        r = f["resource"]
        name = f"{r['type']} {r['namespace'] + '/' if r.get('namespace') else ''}{r['name']}"
        by_workload[name].append(f)
    for workload, items in sorted(by_workload.items()):
        print(f"   {workload}")
        for f in sorted(items, key=lambda x: x.get("first_seen") or ""):
            when = (f.get("first_seen") or "")[11:19]
            print(
                f"     {when} {f['severity'].upper():8} {f['rule'][:34]:34} "
                f"{','.join(f.get('attack', []))[:16]:16} "
                f"x{f.get('count', 1):<3} {f['title'][:60]}"
            )


def detect_demo() -> int:
    failed = 0
    for source in SOURCES:
        print(f"\n== {source}")
        start = time.monotonic()
        code, report = _detect(source)
        if code:
            failed += 1
            continue
        _show(report, time.monotonic() - start)
    print("\n== rules: which load, and why the others do not")
    proc = subprocess.run(
        [sys.executable, "-m", "seawall", "detect", "--rules-report"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    print("\n".join(proc.stdout.splitlines()[:8]))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(detect_demo())
