"""A large YAML file is streamed: memory stays flat as the file grows (it is the largest document,
not the file, that counts), and time grows linearly (Helm `# Source:` comments were looked up in
quadratic time: a 19 MB rendered chart was still running after 120 s at 2.6 GB)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from seawall.posture.loader import iter_file

# seawall in a child, then its peak memory (VmHWM: of that process since exec; ru_maxrss of a
# child carries the test runner's own peak on Linux, which would hide any growth)
PEAK = ("import re, sys\nfrom seawall.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit as stop:\n    code = stop.code\nelse:\n    code = 0\n"
        "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1),"
        " file=sys.stderr)\nsys.exit(code)")

DOC = """---
# Source: shop/templates/settings-{i}.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings-{i}
  namespace: shop
  labels: {{app.kubernetes.io/name: shop, app.kubernetes.io/instance: shop-{i}}}
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "checkout,search,recommendations,reviews"
  app.properties: |
    cache.ttl=60
    cache.size=1024
    search.endpoint=http://search.shop.svc:9200
"""


def _write(path: Path, megabytes: float) -> int:
    count = int(megabytes * 1_000_000 / len(DOC.format(i=100000)))
    with path.open("w") as fh:
        for i in range(count):
            fh.write(DOC.format(i=i))
    return count


def test_memory_is_flat_as_a_yaml_file_grows(tmp_path: Path) -> None:
    small, large = tmp_path / "small.yaml", tmp_path / "large.yaml"
    n_small = _write(small, 2)
    n_large = _write(large, 10)
    peaks = []
    for path in (small, large):
        proc = subprocess.run([sys.executable, "-c", PEAK, "audit", str(path), "-f", "json",
                               "-o", str(tmp_path / f"{path.stem}.json")],
                              capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stderr
        peaks.append(int(proc.stderr.strip().splitlines()[-1]) // 1024)  # MiB
    # five times the documents, the same memory (give or take the allocator): the parsed trees of
    # 40,000 documents were ~20x the file (~200 MB here) when the whole file was held
    assert peaks[1] - peaks[0] < 25, f"peak RSS {peaks[0]} MiB for {n_small} documents, " \
        f"{peaks[1]} MiB for {n_large}"
    report = (tmp_path / "large.json").read_text()
    assert f'"documents": {n_large}' in report


def test_helm_sources_of_many_documents_are_read_in_linear_time(tmp_path: Path) -> None:
    small, large = tmp_path / "small.yaml", tmp_path / "large.yaml"
    _write(small, 1)
    n = _write(large, 4)
    timings = []
    for path in (small, large):
        start = time.process_time()
        docs = list(iter_file(path))
        timings.append(time.process_time() - start)
    assert len(docs) == n
    assert docs[-1].source == f"shop/templates/settings-{n - 1}.yaml"
    assert docs[-1].line == 15 * (n - 1) + 3  # the line of `apiVersion`, after the comment
    # 4x the input, ~4x the time (quadratic was 16x); generous for a busy machine
    assert timings[1] < 8 * timings[0] + 0.5, timings
