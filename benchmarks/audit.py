"""`seawall audit` vs Checkov on the same corpus of generated, realistic Kubernetes manifests.

    .venv/bin/python -m benchmarks.audit [--files 600] [--no-checkov]

Checkov is installed (once) into its own venv under .cache/bench/checkov-venv so that our
dependencies stay clean. Both tools run as a user runs them (a fresh process, JSON output);
figures are wall-clock ratios against floors measured in the same run:
  - interpreter floor: `python -c "import seawall"` (process start-up both tools pay),
  - parse floor: PyYAML's C loader reading every document of the corpus, nothing else.
Each figure is the median of --rounds runs. Python bytecode: Checkov runs from a pip-installed venv
(pip wrote its .pyc files); seawall runs from this checkout, so it gets a bytecode cache of its own
under .cache/bench/pycache (written by an untimed warm-up run) - as an installed seawall has. The
same run also times seawall as this environment runs it from the checkout, shown separately (with
PYTHONDONTWRITEBYTECODE=1, as in the development sandbox, seawall's modules are compiled from source
on every run; its dependencies keep their installed .pyc files).
Recall is computed on the checks both tools have (our check references `checkov:CKV_K8S_x`):
of the resources Checkov flags for CKV_K8S_x, the share seawall flags for a check mapped to it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "bench"
CHECKOV_VENV = CACHE / "checkov-venv"
GENERATOR_VERSION = 4

IMAGES = ["nginx:1.25.4", "nginx", "redis:7.2", "postgres:16.2", "ghcr.io/acme/api:2.3.1",
          "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:1.9.3", "busybox:latest",
          "quay.io/prometheus/node-exporter:v1.8.2",
          "ghcr.io/acme/web:1.0.0@sha256:4c8f1a3e0a6f5c2b9d7e1f0a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c"]
NAMESPACES = ["shop", "payments", "ci", "monitoring", "default", "data", "auth"]


def _container(rng: random.Random, name: str) -> dict:
    c: dict = {"name": name, "image": rng.choice(IMAGES), "ports": [{"containerPort": 8080, "name": "http"}]}
    profile = rng.random()
    if profile < 0.35:  # hardened
        c["securityContext"] = {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"}}
    elif profile < 0.6:  # partly hardened
        c["securityContext"] = {"runAsNonRoot": True, "allowPrivilegeEscalation": False}
    elif profile < 0.7:  # privileged
        c["securityContext"] = {"privileged": True}
    elif profile < 0.78:
        added = rng.choice([["NET_ADMIN"], ["SYS_ADMIN"], ["NET_RAW"]])
        c["securityContext"] = {"capabilities": {"add": added}}
    if rng.random() < 0.6:
        c["resources"] = {"requests": {"cpu": "100m", "memory": "128Mi"},
                          "limits": {"cpu": "500m", "memory": "256Mi"} if rng.random() < 0.7 else
                          {"memory": "256Mi"}}
    if rng.random() < 0.5:
        c["livenessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080}}
        c["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}}
    env: list[dict] = [{"name": "LOG_LEVEL", "value": "info"}]
    if rng.random() < 0.15:
        env.append({"name": "DB_PASSWORD", "value": f"pw-{rng.randrange(10**8):08d}"})
    if rng.random() < 0.2:
        env.append({"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}})
    c["env"] = env
    if rng.random() < 0.05:
        c["ports"][0]["hostPort"] = 8080
    return c


def _workload(rng: random.Random, i: int) -> tuple[dict, dict]:
    kind = rng.choice(["Deployment"] * 5 + ["StatefulSet", "DaemonSet", "Job", "CronJob"])
    ns = rng.choice(NAMESPACES)
    name = f"app-{i:04d}"
    labels = {"app.kubernetes.io/name": name}
    pod: dict = {"containers": [_container(rng, "main")]}
    if rng.random() < 0.3:
        pod["containers"].append(_container(rng, "sidecar"))
    if rng.random() < 0.2:
        pod["initContainers"] = [_container(rng, "init")]
    if rng.random() < 0.4:
        pod["automountServiceAccountToken"] = False
    if rng.random() < 0.3:
        pod["securityContext"] = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if rng.random() < 0.06:
        pod["hostNetwork"] = True
    if rng.random() < 0.04:
        pod["hostPID"] = True
    if rng.random() < 0.05:
        pod["volumes"] = [{"name": "sock", "hostPath": {"path": "/var/run/docker.sock"}}]
        pod["containers"][0]["volumeMounts"] = [{"name": "sock", "mountPath": "/var/run/docker.sock"}]
    template = {"metadata": {"labels": dict(labels)}, "spec": pod}
    if kind in ("Job", "CronJob"):
        pod["restartPolicy"] = "OnFailure"
    spec: dict
    if kind == "CronJob":
        spec = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}
    elif kind == "Job":
        spec = {"template": template}
    else:
        spec = {"selector": {"matchLabels": dict(labels)}, "template": template}
        if kind != "DaemonSet":
            spec["replicas"] = rng.choice([1, 2, 3])
        if kind == "StatefulSet":
            spec["serviceName"] = name
    api = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    workload = {"apiVersion": api, "kind": kind,
                "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
                "spec": spec}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
               "spec": {"type": rng.choice(["ClusterIP"] * 6 + ["LoadBalancer", "NodePort"]),
                        "selector": dict(labels), "ports": [{"port": 80, "targetPort": "http"}]}}
    return workload, service


def _rbac(rng: random.Random, i: int) -> list[dict]:
    ns = rng.choice(NAMESPACES)
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
    if rng.random() < 0.3:
        rules.append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]})
    if rng.random() < 0.2:
        rules.append({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})
    if rng.random() < 0.15:
        rules.append({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"],
                      "verbs": ["escalate", "bind"]})
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": f"role-{i:04d}", "namespace": ns}, "rules": rules}
    subject = {"kind": "ServiceAccount", "name": "default" if rng.random() < 0.2 else f"sa-{i:04d}",
               "namespace": ns}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": f"role-{i:04d}", "namespace": ns}, "subjects": [subject],
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"role-{i:04d}"}}
    return [role, binding]


def generate(files: int) -> Path:
    out = CACHE / f"audit-corpus-v{GENERATOR_VERSION}-{files}"
    if out.is_dir() and len(list(out.glob("*.yaml"))) == files:
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = random.Random(20240611)
    for i in range(files):
        docs = _rbac(rng, i) if i % 10 == 9 else list(_workload(rng, i))
        header = f"# Source: chart-{i % 17}/templates/app.yaml\n" if i % 3 == 0 else ""
        text = "".join(f"---\n{header}{yaml.safe_dump(d, sort_keys=False)}" for d in docs)
        (out / f"manifest-{i:04d}.yaml").write_text(text)
    return out


def ensure_checkov() -> Path | None:
    exe = CHECKOV_VENV / "bin" / "checkov"
    if exe.exists():
        return exe
    print("installing checkov into", CHECKOV_VENV, "(once)", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(CHECKOV_VENV)], check=True)
        subprocess.run([str(CHECKOV_VENV / "bin" / "pip"), "install", "-q", "checkov"], check=True)
    except subprocess.CalledProcessError as exc:
        print(f"could not install checkov: {exc}", file=sys.stderr)
        return None
    return exe if exe.exists() else None


CPU: dict[int, float] = {}  # id(proc) -> CPU seconds (user+sys) of the child


def timed(cmd: list[str], env: dict[str, str] | None = None
          ) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall time of one run; its CPU time (user+sys, robust on a loaded machine) goes to CPU."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[id(proc)] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, proc


def median_of(n: int, fn):  # type: ignore[no-untyped-def]
    """The run with the median wall time of `n` (its CPU time is in CPU)."""
    results = sorted((fn() for _ in range(n)), key=lambda r: r[0])
    return results[(len(results) - 1) // 2]


# seawall as installed: with a bytecode cache (PYTHONDONTWRITEBYTECODE, if set, would leave
# every run compiling seawall's modules from source; pip-installed Checkov has its .pyc files)
CACHED_BYTECODE = {"PYTHONPYCACHEPREFIX": str(CACHE / "pycache"), "PYTHONDONTWRITEBYTECODE": ""}


def parse_floor(corpus: Path) -> float:
    """CPU seconds PyYAML's C loader needs to read every document (in this process)."""
    start = time.process_time()
    for path in sorted(corpus.glob("*.yaml")):
        list(yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader))
    return time.process_time() - start


def _checkov_key(resource: str) -> str:
    kind, _, rest = resource.partition(".")
    ns, _, name = rest.partition(".")
    return f"{kind}/{ns}/{name}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-checkov", action="store_true")
    args = parser.parse_args(argv)
    cached = generate(args.files)
    # Checkov skips paths under dot-directories such as .cache: both tools read a copy in /tmp
    workdir = Path(tempfile.mkdtemp(prefix="seawall-bench-audit-"))
    corpus = workdir / "manifests"
    shutil.copytree(cached, corpus)
    try:
        return _compare(args, corpus)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _compare(args: argparse.Namespace, corpus: Path) -> int:
    docs = sum(1 for p in corpus.glob("*.yaml")
               for _ in yaml.load_all(p.read_text(), Loader=yaml.CSafeLoader))
    print(f"corpus: {args.files} files, {docs} Kubernetes objects ({corpus})")

    startup, _ = median_of(args.rounds, lambda: timed([sys.executable, "-c", "import seawall"],
                                                      env=CACHED_BYTECODE))
    floor = sorted(parse_floor(corpus) for _ in range(args.rounds))[(args.rounds - 1) // 2]
    out = CACHE / "audit-seawall.json"
    sw_cmd = [sys.executable, "-m", "seawall", "audit", str(corpus), "-f", "json", "-o", str(out), "-q"]
    timed(sw_cmd, env=CACHED_BYTECODE)  # warm-up: writes the bytecode cache
    sw_time, sw = median_of(args.rounds, lambda: timed(sw_cmd, env=CACHED_BYTECODE))
    if sw.returncode not in (0, 1):
        print(sw.stderr, file=sys.stderr)
        return 2
    report = json.loads(out.read_text())
    ours: dict[str, set[str]] = defaultdict(set)
    for f in report["findings"]:
        r = f["resource"]
        ours[f["rule"]].add(f"{r['type']}/{r.get('namespace', 'default')}/{r['name']}")
    lib_code = ("import sys; from pathlib import Path; from seawall.posture import audit_paths; "
                "print(len(audit_paths([Path(sys.argv[1])]).findings))")
    lib_time, lib = median_of(args.rounds, lambda: timed([sys.executable, "-c", lib_code, str(corpus)],
                                                         env=CACHED_BYTECODE))
    lib_cpu = CPU[id(lib)]
    cold_time, cold = median_of(args.rounds, lambda: timed(sw_cmd))
    cold_cpu = CPU[id(cold)]
    print(f"interpreter floor (python -c 'import seawall'): {startup:.2f}s wall")
    print(f"parse floor (PyYAML C loader, all documents):    {floor:.2f}s CPU")
    sw_cpu = CPU[id(sw)]
    print(f"seawall audit:  {sw_time:.2f}s wall, {sw_cpu:.2f}s CPU = {sw_cpu / max(floor, 1e-9):.1f}x the "
          f"parse floor; {len(report['findings'])} findings from {len(ours)} checks")
    print(f"seawall engine (library call, no CLI start-up or report rendering): {lib_time:.2f}s wall, "
          f"{lib_cpu:.2f}s CPU; {lib.stdout.strip()} findings")
    how = ("PYTHONDONTWRITEBYTECODE set: seawall compiled from source every run"
           if os.environ.get("PYTHONDONTWRITEBYTECODE") else "the checkout's own bytecode cache")
    print(f"seawall audit as this environment runs it ({how}): {cold_time:.2f}s wall, {cold_cpu:.2f}s CPU")

    if args.no_checkov:
        return 0
    checkov = ensure_checkov()
    if checkov is None:
        print("checkov unavailable: comparison skipped")
        return 0
    ck_time, ck = median_of(args.rounds, lambda: timed(
        [str(checkov), "-d", str(corpus), "--framework", "kubernetes", "-o", "json", "--skip-download",
         "--quiet"], env={"BC_SKIP_MAPPING": "TRUE"}))
    try:
        data = json.loads(ck.stdout)
    except json.JSONDecodeError:
        print("checkov output not JSON:", ck.stderr[-500:], file=sys.stderr)
        return 2
    blocks = data if isinstance(data, list) else [data]
    data = next((b for b in blocks if isinstance(b, dict) and "results" in b), None)
    if data is None:
        print("checkov output has no results:", str(blocks)[:300], ck.stderr[-300:], file=sys.stderr)
        return 2
    theirs: dict[str, set[str]] = defaultdict(set)
    for f in data["results"]["failed_checks"]:
        theirs[f["check_id"]].add(_checkov_key(f["resource"]))
    ck_cpu = CPU[id(ck)]
    print(f"checkov:        {ck_time:.2f}s wall, {ck_cpu:.2f}s CPU; {sum(len(v) for v in theirs.values())} "
          f"failed checks from {len(theirs)} checks")
    print(f"speed: seawall is {ck_time / sw_time:.1f}x faster than checkov in wall time, "
          f"{ck_cpu / max(sw_cpu, 1e-9):.1f}x in CPU time (same corpus); the engine alone "
          f"{ck_time / lib_time:.1f}x wall, {ck_cpu / max(lib_cpu, 1e-9):.1f}x CPU; as this environment "
          f"runs it {ck_time / cold_time:.1f}x wall")

    from seawall.posture import all_checks

    mapped: dict[str, set[str]] = defaultdict(set)  # checkov id -> our check ids
    for check in all_checks():
        for ref in check.references:
            if ref.startswith("checkov:CKV_K8S_"):
                mapped[ref.split(":", 1)[1]].add(check.id)
    print("recall on shared checks (resources Checkov flags that seawall flags too):")
    total_hit = total = 0
    for ck_id in sorted(mapped, key=lambda s: int(s.rsplit("_", 1)[1])):
        flagged = theirs.get(ck_id, set())
        if not flagged:
            continue
        ours_any = set().union(*(ours.get(cid, set()) for cid in mapped[ck_id]))
        hit = len(flagged & ours_any)
        total_hit += hit
        total += len(flagged)
        print(f"  {ck_id:<11} -> {','.join(sorted(mapped[ck_id])):<24} {hit}/{len(flagged)} "
              f"({100 * hit / len(flagged):.0f}%), seawall-only {len(ours_any - flagged)}")
    if total:
        print(f"overall recall on shared checks: {total_hit}/{total} = {100 * total_hit / total:.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
