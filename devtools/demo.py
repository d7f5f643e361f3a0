"""`make demo`: run seawall's main jobs on bundled, real sample data.

1. build (once, cached under .cache/demo) a demo image from real parts and print its SBOM;
2. import the shipped advisory data and scan the image (vulnerabilities, secrets, config);
3. audit the bundled Kubernetes manifests, ECS/EKS/ECR JSON, Dockerfile and Docker host files;
4. run detection over bundled Kubernetes audit, CloudTrail and container logs with attacks inside;
5. build the service map of a bundled flow set and show the network findings per workload;
   run one detection on Apache Spark (local mode) and compare it with the single-process run;
6. plan the isolation of the compromised workload on Kubernetes (from kubectl dumps) and on ECS
   (moto), with what stays reachable, and isolate/release the ECS task.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

SECTIONS: list[tuple[str, str, str]] = [
    ("Image SBOM", "devtools.demo_sbom", "sbom_demo"),
    ("Image scan", "devtools.demo_scan", "scan_demo"),
    ("Posture audit", "devtools.demo_audit", "audit_demo"),
    ("Threat detection in logs", "devtools.demo_detect", "detect_demo"),
    ("Network flows and service map", "devtools.demo_network", "network_demo"),
    ("Scale-out: the same rules on Apache Spark", "devtools.demo_spark", "spark_demo"),
    ("Respond: isolate one workload", "devtools.demo_respond", "respond_demo"),
    ("The service: sources, findings store, incidents, API", "devtools.demo_service", "service_demo"),
    ("Running containers: drift, registry watch and rescans", "devtools.demo_runtime", "runtime_demo"),
]


def _banner(title: str) -> None:
    line = "=" * 78
    print(f"\n{line}\n  seawall demo: {title}\n{line}", flush=True)


def main() -> int:
    failed: list[str] = []
    for title, module_name, func_name in SECTIONS:
        _banner(title)
        run: Callable[[], int] = getattr(importlib.import_module(module_name), func_name)
        code = run()
        if code not in (0, None):
            failed.append(f"{title} (exit {code})")
    if failed:
        print("demo: sections that failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
