"""The SBOM part of `make demo`: build the demo image (once, cached) and print its SBOM table."""

from __future__ import annotations

import subprocess
import sys

from devtools.demo_image import build_demo


def sbom_demo() -> int:
    """Build the demo image if needed, then run `seawall sbom` on it as a user would."""
    demo = build_demo()
    print(f"\n$ seawall sbom {demo.oci_ref}\n", flush=True)
    return subprocess.call([sys.executable, "-m", "seawall", "sbom", demo.oci_ref])


if __name__ == "__main__":
    raise SystemExit(sbom_demo())
