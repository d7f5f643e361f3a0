"""The scan part of `make demo`: a local advisory DB from the shipped data, then `seawall scan image`.

    from devtools.demo_scan import scan_demo
    scan_demo()        # prints the table; writes SARIF and OCSF next to the DB

The DB (`.cache/demo/vulndb.sqlite`) is imported from the real advisory snapshots shipped with
seawall (OSV PyPI and Go, Alpine secdb) without any network, and re-imported when the shipped
files change. The demo image is the one `devtools.demo_image` builds (cached).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from devtools.demo_image import AREA, build_demo


def demo_db(area: Path = AREA) -> Path:
    """Import the shipped advisories into `area/vulndb.sqlite` (once per version of the data)."""
    from seawall import vulndb

    feeds = vulndb.shipped_feed_paths()
    key = hashlib.sha256(f"schema {vulndb.SCHEMA_VERSION}|".encode())
    for feed in feeds:
        st = feed.stat()
        key.update(f"{feed.name}:{st.st_size}:{int(st.st_mtime)}|".encode())
    db, stamp = area / "vulndb.sqlite", area / "vulndb.key"
    if db.is_file() and stamp.is_file() and stamp.read_text() == key.hexdigest():
        return db
    area.mkdir(parents=True, exist_ok=True)
    print(f"demo: importing {len(feeds)} shipped advisory feeds into {db} ...", file=sys.stderr)
    stats = vulndb.import_paths(feeds, db)
    print("demo: " + ", ".join(f"{s.name}: {s.advisories} advisories" for s in stats), file=sys.stderr)
    stamp.write_text(key.hexdigest())
    return db


def _seawall(*args: str) -> int:
    return subprocess.call([sys.executable, "-m", "seawall", *args])


def scan_demo(area: Path = AREA) -> int:
    """Scan the demo image: real advisories, the redacted fake AWS key, root user and more."""
    # keep pip from uninstalling the venv's own copies while it stages the demo's old releases
    os.environ.setdefault("PIP_IGNORE_INSTALLED", "1")
    image = build_demo(area)
    db = demo_db(area)
    ref = image.oci_ref
    print(f"\n$ seawall scan image {ref} --db {db}\n", flush=True)
    code = _seawall("scan", "image", ref, "--db", str(db), "--quiet")
    if code != 0:
        return code
    for fmt, name in (("sarif", "demo-scan.sarif"), ("ocsf", "demo-scan.ocsf.json")):
        out = area / name
        code = _seawall(
            "scan", "image", ref, "--db", str(db), "--quiet", "--format", fmt, "--output", str(out)
        )
        if code != 0:
            return code
        print(f"demo: wrote {fmt} report to {out}", file=sys.stderr)
    print(f"\n$ seawall scan image {ref} --db {db} --fail-on high   # exits 1: critical findings", flush=True)
    code = _seawall(
        "scan",
        "image",
        ref,
        "--db",
        str(db),
        "--quiet",
        "--fail-on",
        "high",
        "--format",
        "jsonl",
        "--output",
        str(area / "demo-scan.jsonl"),
    )
    print(f"exit code {code}")
    return 0 if code == 1 else (code or 1)


if __name__ == "__main__":
    raise SystemExit(scan_demo())
