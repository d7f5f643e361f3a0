"""Benchmark of `seawall serve` (issue 11): the audit webhook into the store with detection on.

    .venv/bin/python -m benchmarks.service [--events N] [--db sqlite,postgresql] [--api-findings M]
                                           [--load-seconds S] [--minutes T]

Every figure is set against a floor measured in the same run: the same events through
`seawall detect --no-state` on a file.

1. throughput (per database): N audit events (default 200,000; generated once into .cache/bench)
   posted as 400-event EventLists by 4 concurrent senders (retrying on 503, as the API server
   does) to a real `seawall serve` process; sustained events/s = events until the last one is
   committed with its findings / elapsed; 0 lost = events in equals events posted and the
   findings (rule, count) equal `seawall detect`'s on the file. CPU seconds of the service
   process beside wall time (the machine is shared: CPU ratios are the steadier figure).
2. event-to-finding latency: during the run, every 0.25 s one marker event (an exec into a pod of
   its own) is posted; a poller reads /api/v1/findings every 50 ms; latency = the marker's
   arrival to its finding being returned by the API (p50, p99, max). Measured three ways: behind
   the flood of 1 (a backlog ahead of each marker), during the load test (4), and "paced":
   `--paced-seconds` (30) of traffic at `--paced-rate` (2,000 events/s), where no backlog forms.
3. API p99 for GET /api/v1/incidents (first page, a filtered page, the second page by cursor)
   with M findings stored (default 1,000,000, made through Store.commit like a pipeline's),
   against GET /healthz (the HTTP round trip) as the floor.
4. load test: `--load-seconds` (default 60) of 400-event batches posted in order by one sender;
   then events in = events posted, and the findings equal `seawall detect` on the same events.
5. memory: RSS of the service sampled every 2 s over `--minutes` (default 1; set
   SEAWALL_BENCH_SERVICE_MINUTES=10 for the 10-minute run), days of traffic posted one after the
   other; flat = the last sample within 15% of the sample at a quarter of the run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "bench"
BATCH = 400
MARKER_NS = "bench-latency"
EVENTLIST_HEAD = b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":['


def events_file(n: int) -> Path:
    from benchmarks.detect import events_file as detect_events

    return detect_events(n)


def batches_of(lines: list[bytes], size: int = BATCH) -> list[bytes]:
    return [EVENTLIST_HEAD + b",".join(lines[i : i + size]) + b"]}" for i in range(0, len(lines), size)]


def marker_event(i: int) -> bytes:
    """One exec into a pod of its own: fires SW-K8S-EXEC at once (no threshold, no window)."""
    from devtools.detectgen.audit import START, audit_event

    pod = f"lat-{i}"
    ev = audit_event(
        START,
        "create",
        "bench@example.com",
        resource="pods",
        namespace=MARKER_NS,
        name=pod,
        subresource="exec",
        stage="ResponseStarted",
        code=101,
        uri=f"/api/v1/namespaces/{MARKER_NS}/pods/{pod}/exec?command=sh",
    )
    ev["auditID"] = str(uuid.uuid4())
    return orjson.dumps(ev)


# -- the floor: `seawall detect` on a file --------------------------------------------------------


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def detect_floor(path: Path) -> dict[str, Any]:
    """`seawall detect --no-state` on the file: wall, CPU, peak RSS and the findings."""
    out = Path(tempfile.mkdtemp(prefix="swbench-")) / "detect.json"
    code = (
        "import resource, runpy, sys; sys.argv = ['seawall', 'detect', '-s', 'k8s-audit', sys.argv[1], "
        "'--no-state', '-q', '-f', 'json', '-o', sys.argv[2]]\n"
        "try:\n    runpy.run_module('seawall', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print(max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))"
    )
    cpu = _children_cpu()
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path), str(out)], capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - t
    cpu = _children_cpu() - cpu
    findings = orjson.loads(out.read_bytes())["findings"]
    shutil.rmtree(out.parent, ignore_errors=True)
    events = sum(1 for line in path.read_bytes().splitlines() if line.strip())
    return {
        "events": events,
        "wall": wall,
        "cpu": cpu,
        "rss_mib": int(proc.stdout.split()[-1]) / 1024,
        "findings": Counter((f["rule"], f.get("count") or 1) for f in findings),
    }


def detect_startup(work: Path) -> tuple[float, float]:
    """Wall and CPU seconds of `seawall detect` on one event: interpreter, imports, rule loading --
    what the service pays once at start, taken off the floor's time."""
    from devtools.detectgen import audit as synth

    one = work / "one.jsonl"
    one.write_bytes(next(synth.generate(1)) + b"\n")
    r = detect_floor(one)
    return r["wall"], r["cpu"]


# -- the service as a real process --------------------------------------------------------------


class Serve:
    """`seawall serve --config FILE` in a child process (127.0.0.1, a free port)."""

    def __init__(self, workdir: Path, database: str | None, sources: list[dict[str, Any]] | None = None):
        self.workdir = workdir
        # retention off: the generated events are dated March 2026, and the default (90 days of
        # findings by last_seen, applied every minute) deleted their findings during a run
        doc: dict[str, Any] = {
            "listen": "127.0.0.1:0",
            "data_dir": str(workdir / "data"),
            "retention": {"archive_days": 0, "findings_days": 0},
        }
        if database:
            doc["database"] = database
        if sources is not None:
            doc["sources"] = sources
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "seawall.yaml"
        self.config.write_text(yaml.safe_dump(doc))
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.token = ""

    def make_token(self, role: str = "admin") -> str:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "seawall",
                "tokens",
                "create",
                "--config",
                str(self.config),
                "--role",
                role,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip().splitlines()[-1]

    def start(self) -> Serve:
        self.token = self.token or self.make_token()
        env = {k: v for k, v in os.environ.items() if k != "SEAWALL_DATABASE_URL"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "seawall", "serve", "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 180
        for line in self.proc.stdout:
            if "serving on " in line:
                self.url = line.split("serving on ", 1)[1].split()[0]
                break
            if time.monotonic() > deadline:
                break
        if not self.url:
            self.stop()
            raise RuntimeError("seawall serve did not start")
        threading.Thread(target=self._drain, daemon=True).start()
        with self.client() as c:  # the pipelines have loaded their rules
            wait(
                lambda: all(
                    s.get("state") in ("running", "scheduled")
                    for s in c.get("/api/v1/sources").json()["items"]
                ),
                180,
            )
        return self

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def client(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=timeout
        )

    def cpu(self) -> float:
        """CPU seconds of the service process (all its threads) so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mib(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def source(self, name: str = "default") -> dict[str, Any]:
        with self.client() as c:
            items = c.get("/api/v1/sources").json()["items"]
        return next(i for i in items if i["name"] == name)

    def findings(self, **params: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = None
        with self.client() as c:
            while True:
                q = {"limit": 1000, **params, **({"cursor": cursor} if cursor else {})}
                body = c.get("/api/v1/findings", params=q).json()
                out.extend(body["items"])
                cursor = body["next"]
                if not cursor:
                    return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


def wait(predicate: Any, timeout: float, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (httpx.HTTPError, KeyError, StopIteration):
            pass
        time.sleep(step)
    raise TimeoutError("timed out")


class Senders:
    """Posts batches (in order when `threads` is 1) and retries each until it is answered 200."""

    def __init__(self, svc: Serve, batches: Iterator[bytes] | list[bytes], threads: int) -> None:
        self.svc = svc
        self.batches = iter(batches)
        self.threads = threads
        self.lock = threading.Lock()
        self.sent_batches = 0
        self.retries = 0
        self.statuses: Counter[int] = Counter()
        self.stop = threading.Event()

    def _next(self) -> bytes | None:
        with self.lock:
            return next(self.batches, None)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.svc.token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=self.svc.url, headers=headers, timeout=60) as c:
            while not self.stop.is_set():
                body = self._next()
                if body is None:
                    return
                while True:
                    try:
                        r = c.post("/api/v1/ingest/k8s-audit", content=body)
                        with self.lock:
                            self.statuses[r.status_code] += 1
                        if r.status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    with self.lock:
                        self.retries += 1
                    time.sleep(0.1)
                with self.lock:
                    self.sent_batches += 1

    def run(self) -> None:
        workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()


class LatencyProbe:
    """Marker events posted every `every` seconds; their findings looked for every 50 ms."""

    def __init__(self, svc: Serve, every: float = 0.25) -> None:
        self.svc = svc
        self.every = every
        self.posted: dict[str, float] = {}  # workload key -> when its event was posted
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()
        self.markers = 0

    def _post(self) -> None:
        headers = {"Authorization": f"Bearer {self.svc.token}"}
        with httpx.Client(base_url=self.svc.url, headers=headers, timeout=60) as c:
            i = 0
            while not self.stop.wait(self.every):
                key = f"k8s/{MARKER_NS}/Pod/lat-{i}"
                self.posted[key] = time.monotonic()
                r = c.post("/api/v1/ingest/k8s-audit", content=EVENTLIST_HEAD + marker_event(i) + b"]}")
                if r.status_code != 200:
                    del self.posted[key]
                else:
                    self.markers += 1
                i += 1

    def _poll(self) -> None:
        headers = {"Authorization": f"Bearer {self.svc.token}"}
        with httpx.Client(base_url=self.svc.url, headers=headers, timeout=60) as c:
            while not self.stop.is_set() or len(self.seen) < len(self.posted):
                r = c.get(
                    "/api/v1/findings",
                    params={"workload": f"k8s/{MARKER_NS}", "limit": 1000, "rule": "SW-K8S-EXEC"},
                )
                now = time.monotonic()
                if r.status_code == 200:
                    for f in r.json()["items"]:
                        self.seen.setdefault(f["workload"], now)
                if self.stop.is_set() and time.monotonic() - self.stopped_at > 60:
                    return
                time.sleep(0.05)

    def start(self) -> None:
        self.stopped_at = 0.0
        self.threads = [
            threading.Thread(target=self._post, daemon=True),
            threading.Thread(target=self._poll, daemon=True),
        ]
        for t in self.threads:
            t.start()

    def finish(self) -> list[float]:
        self.stop.set()
        self.stopped_at = time.monotonic()
        for t in self.threads:
            t.join(90)
        return sorted(self.seen[k] - t for k, t in self.posted.items() if k in self.seen)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def comparable(findings: list[dict[str, Any]]) -> Counter[tuple[str, int]]:
    return Counter(
        (f["rule"], f["count"]) for f in findings if (f.get("resource") or {}).get("namespace") != MARKER_NS
    )


# -- 1 + 2: sustained throughput and event-to-finding latency ------------------------------------


def throughput(
    db_name: str, database: str | None, path: Path, floor: dict[str, Any], senders: int
) -> dict[str, Any]:
    lines = [x for x in path.read_bytes().splitlines() if x.strip()]
    batches = batches_of(lines)
    work = Path(tempfile.mkdtemp(prefix=f"swbench-{db_name}-"))
    svc = Serve(work, database).start()
    try:
        probe = LatencyProbe(svc)
        sender = Senders(svc, batches, senders)
        cpu0 = svc.cpu()
        t0 = time.perf_counter()
        probe.start()
        sender.run()
        acked = time.perf_counter() - t0
        lat = probe.finish()
        total = len(lines) + probe.markers
        wait(lambda: svc.source()["events_in"] >= total, 1800, step=0.05)
        done = time.perf_counter() - t0
        cpu = svc.cpu() - cpu0
        row = svc.source()
        found = comparable(svc.findings())
        rss = svc.rss_mib()
    finally:
        svc.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {
        "db": db_name,
        "events": total,
        "acked_s": acked,
        "done_s": done,
        "cpu": cpu,
        "events_in": row["events_in"],
        "received": row.get("received_events"),
        "lost": total - row["events_in"],
        "same_findings": found == floor["findings"],
        "findings": sum(found.values()),
        "latency": lat,
        "markers": probe.markers,
        "retries": sender.retries,
        "rss_mib": rss,
    }


# -- 3: API p99 with many findings stored --------------------------------------------------------


def populate(database: str, n: int, workloads: int = 5000, days: int = 30) -> tuple[float, int]:
    """n findings written straight into the store's tables (executemany; Store.commit's per-finding
    work would take longer than the rest of the benchmark): detections of `workloads` workloads
    over `days` days, one incident per workload and day. Returns (seconds, incidents)."""
    from datetime import timedelta

    from sqlalchemy import insert

    from devtools.detectgen.audit import START
    from seawall.core import Severity
    from seawall.service.incidents import tactics_of
    from seawall.service.store import Store, json_dumps
    from seawall.service.tables import findings, incidents
    from seawall.service.tables import workloads as workload_table
    from seawall.service.timeutil import to_iso

    store = Store(database, incident_window=3600)
    store.migrate()
    store.load_source("default", "k8s-audit-webhook")
    rules = [
        ("SW-K8S-EXEC", ["T1609"], Severity.MEDIUM),
        ("SW-K8S-SECRET-GET", ["T1552.007"], Severity.LOW),
        ("SW-K8S-PRIVILEGED-POD", ["T1611"], Severity.HIGH),
        ("SW-K8S-PORT-FORWARD", ["T1572"], Severity.MEDIUM),
        ("SW-K8S-HOSTPID-POD", ["T1611"], Severity.CRITICAL),
    ]
    t = time.perf_counter()
    now = to_iso(START)
    per = max(1, n // (workloads * days))
    with store.write() as conn:
        conn.execute(
            insert(workload_table),
            [
                {
                    "key": f"k8s/team-{w % 50}/Deployment/app-{w}",
                    "type": "k8s:Deployment",
                    "namespace": f"team-{w % 50}",
                    "name": f"app-{w}",
                    "images": "[]",
                    "first_seen": now,
                    "last_seen": to_iso(START + timedelta(days=days)),
                }
                for w in range(workloads)
            ],
        )
    made = 0
    incident_id = 0
    while made < n:
        rows_i: list[dict[str, Any]] = []
        rows_f: list[dict[str, Any]] = []
        for _ in range(max(1, 20_000 // per)):
            if made >= n:
                break
            w, d = incident_id % workloads, (incident_id // workloads) % days
            incident_id += 1
            key, ns = f"k8s/team-{w % 50}/Deployment/app-{w}", f"team-{w % 50}"
            day = START + timedelta(days=d, seconds=(w * 37) % 80000)
            worst = Severity.INFO
            techniques: list[str] = []
            k = 0
            for k in range(min(per, n - made)):
                rule, attack, sev = rules[(w + k) % len(rules)]
                stamp = to_iso(day + timedelta(seconds=k * 60))
                fid = hashlib.sha256(f"{key}|{made}".encode()).hexdigest()[:24]
                doc = {
                    "id": fid,
                    "kind": "detection",
                    "rule": rule,
                    "title": f"{rule} in app-{w}",
                    "severity": sev.value,
                    "resource": {"type": "k8s:Deployment", "name": f"app-{w}", "namespace": ns},
                    "location": {"path": "receiver:default", "line": made + 1},
                    "attack": attack,
                    "count": 1 + k % 7,
                    "first_seen": stamp,
                    "last_seen": stamp,
                    "extra": {"source": "k8s-audit"},
                }
                if sev.rank > worst.rank:
                    worst = sev
                techniques += [a for a in attack if a not in techniques]
                rows_f.append(
                    {
                        "id": fid,
                        "kind": "detection",
                        "rule": rule,
                        "title": doc["title"],
                        "severity": sev.value,
                        "severity_rank": sev.rank,
                        "workload": key,
                        "namespace": ns,
                        "source": "default",
                        "incident_id": incident_id,
                        "count": doc["count"],
                        "first_seen": stamp,
                        "last_seen": stamp,
                        "attack": "|" + "|".join(attack) + "|",
                        "suppressed": False,
                        "doc": json_dumps(doc),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                made += 1
            rows_i.append(
                {
                    "id": incident_id,
                    "workload": key,
                    "namespace": ns,
                    "title": f"incident of app-{w}",
                    "state": "open" if d % 3 else "resolved",
                    "severity": worst.value,
                    "severity_rank": worst.rank,
                    "first_seen": to_iso(day),
                    "last_seen": to_iso(day + timedelta(seconds=k * 60)),
                    "findings": k + 1,
                    "events": k + 1,
                    "techniques": "|" + "|".join(techniques) + "|",
                    "tactics": "|" + "|".join(tactics_of(techniques)) + "|",
                    "sources": "|k8s-audit|",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with store.write() as conn:
            conn.execute(insert(incidents), rows_i)
            conn.execute(insert(findings), rows_f)
    if store.dialect == "postgresql":
        with store.write() as conn:
            from sqlalchemy import text

            conn.execute(
                text("SELECT setval(pg_get_serial_sequence('incidents', 'id'), max(id)) FROM incidents")
            )
            conn.execute(text("ANALYZE"))
    store.close()
    return time.perf_counter() - t, incident_id


def api_latency(db_name: str, database: str, n: int, requests: int = 200) -> dict[str, Any]:
    fill, made = populate(database, n)
    work = Path(tempfile.mkdtemp(prefix=f"swbench-api-{db_name}-"))
    svc = Serve(work, database).start()
    out: dict[str, Any] = {"db": db_name, "findings": n, "populate_s": fill, "incidents": made}
    try:
        with svc.client() as c:
            first = c.get("/api/v1/incidents", params={"limit": 100}).json()
            out["incidents_page"] = len(first["items"])
            shapes = {
                "healthz (floor)": ("/healthz", {}),
                "incidents, first page": ("/api/v1/incidents", {"limit": 100}),
                "incidents, open, min_severity=high, namespace": (
                    "/api/v1/incidents",
                    {"state": "open", "min_severity": "high", "namespace": "team-7"},
                ),
                "incidents, next page (cursor)": (
                    "/api/v1/incidents",
                    {"limit": 100, "cursor": first["next"]},
                ),
                "findings, technique=T1611": ("/api/v1/findings", {"technique": "T1611", "limit": 100}),
            }
            for label, (url, params) in shapes.items():
                c.get(url, params=params)  # warm
                times = []
                for _ in range(requests):
                    t = time.perf_counter()
                    r = c.get(url, params=params)
                    times.append(time.perf_counter() - t)
                    assert r.status_code == 200, r.text
                out[label] = (pct(times, 50), pct(times, 99))
        out["rss_mib"] = svc.rss_mib()
    finally:
        svc.stop()
        shutil.rmtree(work, ignore_errors=True)
    return out


# -- 4: the load test ------------------------------------------------------------------------------


def load_test(
    seconds: float, database: str | None = None, workdir: Path | None = None, rate: float | None = None
) -> dict[str, Any]:
    """`seconds` of 400-event batches posted in order by one sender (at most `rate` events/s when
    given), marker events for the latency beside them; then the counts compared with
    `seawall detect --no-state` on the same events (written to a file in the order posted)."""
    from devtools.detectgen import audit as synth

    work = workdir or Path(tempfile.mkdtemp(prefix="swbench-load-"))
    svc = Serve(work, database).start()
    posted = work / "posted.jsonl"
    gen = synth.generate(10_000_000, seed=11, story_at=2_000, noisy=0.03, step_ms=5)
    n = 0
    probe = LatencyProbe(svc)
    try:
        headers = {"Authorization": f"Bearer {svc.token}", "Content-Type": "application/json"}
        deadline = time.monotonic() + seconds
        probe.start()
        with open(posted, "wb") as out, httpx.Client(base_url=svc.url, headers=headers, timeout=60) as c:
            began = time.monotonic()
            while time.monotonic() < deadline:
                if rate:
                    ahead = n / rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
                lines = [next(gen) for _ in range(BATCH)]
                body = EVENTLIST_HEAD + b",".join(lines) + b"]}"
                while c.post("/api/v1/ingest/k8s-audit", content=body).status_code != 200:
                    time.sleep(0.1)
                out.write(b"\n".join(lines) + b"\n")
                n += len(lines)
        latency = probe.finish()
        wait(lambda: svc.source()["events_in"] >= n + probe.markers, 1800, step=0.1)
        row = svc.source()
        found = comparable(svc.findings())
    finally:
        svc.stop()
    floor = detect_floor(posted)
    result = {
        "seconds": seconds,
        "rate": rate,
        "posted": n,
        "markers": probe.markers,
        "events_in": row["events_in"],
        "findings": sum(found.values()),
        "detect_findings": sum(floor["findings"].values()),
        "same_findings": found == floor["findings"],
        "dropped": row.get("dropped"),
        "refused": row.get("refused"),
        "latency": latency,
    }
    if workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    return result


# -- 5: memory over a long run -----------------------------------------------------------------


def memory_run(minutes: float, path: Path, database: str | None) -> dict[str, Any]:
    """The events posted day after day (timestamps moved by a day each pass, so that nothing is a
    retry) for `minutes`; RSS every 2 s."""
    lines = [x for x in path.read_bytes().splitlines() if x.strip()]
    base = batches_of(lines)

    def days() -> Iterator[bytes]:
        for day in range(2, 10_000):
            stamp = (
                b'"2026-03-%02dT' % day
                if day < 29
                else b'"2026-%02d-%02dT' % (3 + (day - 1) // 28, 1 + (day - 1) % 28)
            )
            for b in base:
                yield b.replace(b'"2026-03-02T', stamp)

    work = Path(tempfile.mkdtemp(prefix="swbench-mem-"))
    svc = Serve(work, database).start()
    samples: list[tuple[float, float]] = []
    try:
        sender = Senders(svc, days(), 2)
        t = threading.Thread(target=sender.run, daemon=True)
        t0 = time.monotonic()
        t.start()
        while time.monotonic() - t0 < minutes * 60:
            samples.append((time.monotonic() - t0, svc.rss_mib()))
            time.sleep(2)
        sender.stop.set()
        t.join(120)
        events = sender.sent_batches * BATCH
        wait(lambda: svc.source()["lag_events"] == 0, 1800, step=0.2)
        row = svc.source()
    finally:
        svc.stop()
        shutil.rmtree(work, ignore_errors=True)
    quarter = samples[len(samples) // 4][1]
    return {
        "minutes": minutes,
        "events": events,
        "events_in": row["events_in"],
        "rss_start": samples[0][1],
        "rss_quarter": quarter,
        "rss_half": samples[len(samples) // 2][1],
        "rss_end": samples[-1][1],
        "rss_max": max(s[1] for s in samples),
        "flat": samples[-1][1] <= quarter * 1.15,
    }


# -- main ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def pg_database() -> Iterator[str | None]:
    url = os.environ.get("SEAWALL_TEST_POSTGRES_URL", "")
    if not url:
        yield None
        return
    import psycopg

    name = "bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield url.rsplit("/", 1)[0] + "/" + name
    finally:
        with contextlib.suppress(Exception), psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _lat(lat: list[float]) -> str:
    worst = max(lat, default=float("nan"))
    return f"p50 {pct(lat, 50):.2f} s, p99 {pct(lat, 99):.2f} s, max {worst:.2f} s ({len(lat)} markers)"


def main() -> int:
    ap = argparse.ArgumentParser(prog="benchmarks.service")
    ap.add_argument(
        "--events", type=int, default=int(os.environ.get("SEAWALL_BENCH_SERVICE_EVENTS", 200_000))
    )
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--api-findings", type=int, default=1_000_000)
    ap.add_argument("--load-seconds", type=float, default=60.0)
    ap.add_argument(
        "--minutes", type=float, default=float(os.environ.get("SEAWALL_BENCH_SERVICE_MINUTES", 1))
    )
    ap.add_argument("--paced-rate", type=float, default=2000.0)
    ap.add_argument("--paced-seconds", type=float, default=30.0)
    ap.add_argument("--only", default="throughput,load,paced,api,memory")
    args = ap.parse_args()
    only = set(args.only.split(","))
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    if "postgresql" in dbs and not os.environ.get("SEAWALL_TEST_POSTGRES_URL"):
        print("PostgreSQL skipped: SEAWALL_TEST_POSTGRES_URL is not set (devtools/postgres.sh start)")
        dbs.remove("postgresql")
    cpus = len(os.sched_getaffinity(0))
    print(f"machine: {cpus} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    path = events_file(args.events)
    scratch = Path(tempfile.mkdtemp(prefix="swbench-"))
    start_wall, start_cpu = detect_startup(scratch)
    floor = detect_floor(path)
    shutil.rmtree(scratch, ignore_errors=True)
    f_wall, f_cpu = max(floor["wall"] - start_wall, 1e-3), max(floor["cpu"] - start_cpu, 1e-3)
    f_eps, f_cpu_eps = floor["events"] / f_wall, floor["events"] / f_cpu
    print(
        f"floor: seawall detect --no-state on the file: {floor['events']:,} events in {floor['wall']:.1f} s "
        f"({start_wall:.1f} s of it starting up and loading rules, as on one event) = {f_eps:,.0f} events/s; "
        f"{f_cpu_eps:,.0f} per CPU-second; peak RSS {floor['rss_mib']:.0f} MiB; "
        f"{sum(floor['findings'].values())} findings"
    )
    ok = True
    if "throughput" in only:
        for db in dbs:
            with pg_database() if db == "postgresql" else contextlib.nullcontext(None) as url:
                r = throughput(db, url, path, floor, args.senders)
            eps, cpu_eps = r["events"] / r["done_s"], r["events"] / r["cpu"]
            print(
                f"[{db}] webhook -> store, detection on, {args.senders} senders x {BATCH}-event batches: "
                f"{r['events']:,} events acknowledged in {r['acked_s']:.1f} s, committed with their findings "
                f"in "
                f"{r['done_s']:.1f} s = {eps:,.0f} events/s sustained = {eps / f_eps:.2f}x the floor; "
                f"{cpu_eps:,.0f} events per CPU-second of the service = {cpu_eps / f_cpu_eps:.2f}x the "
                f"floor's; lost {r['lost']}; findings equal to detect's: {r['same_findings']} "
                f"({r['findings']}); 503 retries {r['retries']}; RSS {r['rss_mib']:.0f} MiB"
            )
            print(
                f"[{db}] event-to-finding latency while flooded (a backlog ahead of each marker): "
                + _lat(r["latency"])
            )
            ok = ok and r["lost"] == 0 and r["same_findings"]
    if "load" in only and args.load_seconds:
        for db in dbs:
            with pg_database() if db == "postgresql" else contextlib.nullcontext(None) as url:
                r = load_test(args.load_seconds, url)
            print(
                f"[{db}] load test: {r['seconds']:.0f} s of {BATCH}-event batches posted in order: "
                f"{r['posted']:,} events (+{r['markers']} markers) posted, {r['events_in']:,} in; dropped "
                f"{r['dropped']}, refused {r['refused'] or {}}; {r['findings']} findings, `seawall detect` "
                f"on "
                f"the same events {r['detect_findings']}: equal {r['same_findings']}"
            )
            print(f"[{db}] event-to-finding latency at the load test's pace: " + _lat(r["latency"]))
            ok = ok and r["posted"] + r["markers"] == r["events_in"] and r["same_findings"]
    if "paced" in only and args.paced_seconds:
        for db in dbs:
            with pg_database() if db == "postgresql" else contextlib.nullcontext(None) as url:
                r = load_test(args.paced_seconds, url, rate=args.paced_rate)
            print(
                f"[{db}] paced: {r['posted']:,} events at {args.paced_rate:,.0f} events/s for "
                f"{r['seconds']:.0f} s, {r['events_in']:,} in (+markers); findings equal to detect's: "
                f"{r['same_findings']}; event-to-finding latency with no backlog: " + _lat(r["latency"])
            )
            ok = ok and r["posted"] + r["markers"] == r["events_in"] and r["same_findings"]
    if "api" in only and args.api_findings:
        for db in dbs:
            with pg_database() if db == "postgresql" else contextlib.nullcontext(None) as url:
                work = Path(tempfile.mkdtemp(prefix="swbench-apidb-"))
                try:
                    r = api_latency(db, url or f"sqlite:///{work / 'api.db'}", args.api_findings)
                finally:
                    shutil.rmtree(work, ignore_errors=True)
            floor_p99 = r["healthz (floor)"][1]
            print(
                f"[{db}] API with {r['findings']:,} findings in {r['incidents']:,} incidents stored "
                f"(written in {r['populate_s']:.0f} s); service RSS {r['rss_mib']:.0f} MiB:"
            )
            for label, value in r.items():
                if isinstance(value, tuple):
                    ratio = "" if label.startswith("healthz") else f" ({value[1] / floor_p99:.1f}x the floor)"
                    print(f"    {label}: p50 {value[0] * 1000:.1f} ms, p99 {value[1] * 1000:.1f} ms{ratio}")
    if "memory" in only and args.minutes:
        r = memory_run(args.minutes, path, None)
        print(
            f"memory over {r['minutes']:.0f} min (SQLite, {r['events']:,} events posted day after day): RSS "
            f"{r['rss_start']:.0f} MiB at the start, {r['rss_quarter']:.0f} at a quarter, "
            f"{r['rss_half']:.0f} "
            f"at half, {r['rss_end']:.0f} at the end (max {r['rss_max']:.0f}); flat: {r['flat']}; floor: "
            f"detect's peak RSS {floor['rss_mib']:.0f} MiB"
        )
        ok = ok and r["flat"]
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
