"""Network part of `make demo`: the service map of the bundled flow set and the network findings
per workload (VPC Flow Logs with a Kubernetes inventory, a pcapng with docker inspect, Hubble)."""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "src" / "seawall" / "data" / "samples" / "network"
OUT = REPO / ".cache" / "demo" / "network"


def _seawall(*args: str) -> int:
    print("$ seawall " + " ".join(a.replace(str(REPO) + "/", "") for a in args), flush=True)
    return subprocess.call([sys.executable, "-m", "seawall", *args], cwd=REPO)


def _show(title: str, source: str, files: list[Path], inventory: list[Path]) -> int:
    from seawall.network import NetworkOptions, detect

    result = detect(source, [str(f) for f in files], NetworkOptions(inventory=inventory))
    stats = result.stats
    print(
        f"\n== {title}: {stats['records']:,} records, {stats['edges']} edges, "
        f"{len(result.findings)} findings in {stats['seconds']:.2f}s"
    )
    by_workload: dict[str, list[str]] = defaultdict(list)
    for f in result.findings:
        r = f.resource
        name = f"{r.type} {r.namespace + '/' if r.namespace else ''}{r.name}"
        by_workload[name].append(
            f"  {f.severity.value.upper():8} {f.rule:24} {','.join(f.attack):14} {(f.evidence or '')[:110]}"
        )
    for workload, lines in sorted(by_workload.items()):
        print(workload)
        print("\n".join(lines))
    return len(result.findings)


def network_demo() -> int:
    """Build the service maps of the bundled samples and print network findings per workload."""
    OUT.mkdir(parents=True, exist_ok=True)
    flows, k8s = SAMPLES / "vpc-flow-logs.log.gz", SAMPLES / "kubectl-inventory.json"
    rc = 0
    for fmt in ("html", "dot", "json"):
        rc |= _seawall(
            "netmap",
            "--source",
            "vpc-flow",
            str(flows),
            "--inventory",
            str(k8s),
            "--format",
            fmt,
            "--output",
            str(OUT / f"vpc-flow-map.{fmt}"),
        )
    rc |= _seawall(
        "netmap",
        "--source",
        "pcap",
        str(SAMPLES / "capture.pcapng"),
        "--inventory",
        str(SAMPLES / "docker-inspect.json"),
        "--format",
        "html",
        "--output",
        str(OUT / "pcap-map.html"),
    )
    rc |= _seawall(
        "netmap",
        "--source",
        "hubble",
        str(SAMPLES / "hubble-flows.json"),
        "--format",
        "html",
        "--output",
        str(OUT / "hubble-map.html"),
    )
    found = _show("VPC Flow Logs, one day of the shop app", "vpc-flow", [flows], [k8s])
    found += _show(
        "packet capture of a docker-compose host",
        "pcap",
        [SAMPLES / "capture.pcapng"],
        [SAMPLES / "docker-inspect.json"],
    )
    found += _show("Hubble flows", "hubble", [SAMPLES / "hubble-flows.json"], [])
    print(
        f"\nservice maps: {OUT.relative_to(REPO)}/ (open vpc-flow-map.html in a browser; no network needed)"
    )
    if rc or found == 0:
        print("network demo: FAILED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(network_demo())
