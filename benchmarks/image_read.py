"""Benchmark: `seawall.image.fs.walk` against the floor of just reading the same layers.

    .venv/bin/python -m benchmarks.image_read [--mb 300]

Builds (once, cached under .cache/image/bench-*) an OCI image from real files on this machine
(Python's stdlib, the venv's site-packages, /usr/share, shared libraries): gzip layers of about
--mb MB compressed in total, plus a copy of twice the size to show memory is flat in image size.
Prints, per image: the floor (open each blob, zlib-decompress, iterate the tar stream with
tarfile — the same libraries, nothing else), the full walk (sha256 verification of every blob,
whiteouts, limits, path checks, the file index, plus a visitor reading every *.dist-info/METADATA
as the Python cataloger does), their ratio, and the peak RSS of each run (separate processes).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "image"
SOURCES = [
    Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}",
    REPO / ".venv" / "lib",
    Path("/usr/share"),
    Path("/usr/lib/x86_64-linux-gnu"),
]


def _files() -> Iterator[Path]:
    for src in SOURCES:
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames.sort()
            for name in sorted(filenames):
                yield Path(dirpath) / name


def _layer(files: Iterator[Path], budget: int, out: Path, prefix: str) -> tuple[str, str, int]:
    """gzip tar of real files (sorted, fixed mtime) until `budget` uncompressed bytes."""
    h_diff = hashlib.sha256()
    total = 0
    tmp = out.with_suffix(".part")

    class _Tee:
        def __init__(self, f: gzip.GzipFile) -> None:
            self.f = f

        def write(self, b: bytes) -> int:
            h_diff.update(b)
            return self.f.write(b)

    with (
        tmp.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=_Tee(gz), mode="w|", format=tarfile.PAX_FORMAT) as tf,  # type: ignore[call-overload]
    ):
        for p in files:
            if not (p.is_file() or p.is_symlink()):
                continue
            try:
                ti = tf.gettarinfo(str(p), arcname=prefix + str(p).lstrip("/"))
            except OSError:
                continue
            ti.mtime, ti.uname, ti.gname = 0, "", ""
            if ti.isreg():
                try:
                    with p.open("rb") as f:
                        tf.addfile(ti, f)
                except OSError:
                    continue
                total += ti.size
            else:
                tf.addfile(ti)
            if total >= budget:
                break
    data_digest = hashlib.sha256()
    with tmp.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            data_digest.update(chunk)
    digest = "sha256:" + data_digest.hexdigest()
    final = out.parent / digest[7:]
    tmp.rename(final)
    return digest, "sha256:" + h_diff.hexdigest(), final.stat().st_size


def build(mb: int) -> Path:
    root = CACHE / f"bench-{mb}mb"
    if (root / "index.json").is_file():
        return root
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    layers, diff_ids = [], []
    per = mb * 1024 * 1024 * 5 // 2 // 4  # uncompressed budget per layer (~2.5:1 for this mix), 4 layers
    files = _files()
    for i in range(4):
        d, diff, size = _layer(files, per, blobs / f"layer{i}", f"l{i}/" if i % 2 else "")
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": size})
        diff_ids.append(diff)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": f"layer {i}"} for i in range(len(layers))],
        }
    ).encode()
    (blobs / hashlib.sha256(config).hexdigest()).write_bytes(config)
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": layers,
        }
    ).encode()
    md = hashlib.sha256(manifest).hexdigest()
    (blobs / md).write_bytes(manifest)
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": f"sha256:{md}",
                        "size": len(manifest),
                        "annotations": {"org.opencontainers.image.ref.name": "bench"},
                    }
                ],
            }
        )
    )
    return root


def _manifest_layers(root: Path) -> list[Path]:
    index = json.loads((root / "index.json").read_text())
    manifest = json.loads((root / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]).read_bytes())
    return [root / "blobs" / "sha256" / layer["digest"][7:] for layer in manifest["layers"]]


def floor_gzip(root: Path) -> tuple[int, int]:
    """The plain way: gzip.open + tarfile stream, nothing else."""
    n = total = 0
    for blob in _manifest_layers(root):
        with gzip.open(blob, "rb") as g, tarfile.open(fileobj=g, mode="r|") as tf:
            for m in tf:
                n += 1
                total += m.size
    return n, total


class _Zlib(io.RawIOBase):
    """zlib straight, bounded output per call (the fastest stdlib way)."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.d = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self.d.eof:
            data = self.d.unconsumed_tail or self.f.read(1 << 20)
            if not data:
                return 0
            out = self.d.decompress(data, len(b))
            if out:
                b[: len(out)] = out
                return len(out)
        return 0


def floor_zlib(root: Path) -> tuple[int, int]:
    n = total = 0
    for blob in _manifest_layers(root):
        with (
            blob.open("rb") as f,
            io.BufferedReader(_Zlib(f), 1 << 20) as stream,
            tarfile.open(fileobj=stream, mode="r|") as tf,
        ):
            for m in tf:
                n += 1
                total += m.size
    return n, total


def walk(root: Path) -> tuple[int, int]:
    from seawall.image import Limits, open_image
    from seawall.image.fs import walk as fs_walk

    class Metadata:
        def __init__(self) -> None:
            self.n = 0

        def wants(self, e: object) -> bool:
            p = e.path  # type: ignore[attr-defined]
            return p.endswith("/METADATA") and ".dist-info/" in p

        def visit(self, e: object, content: object) -> None:
            self.n += len(content.read())  # type: ignore[attr-defined]

    v = Metadata()
    with open_image(f"oci:{root}:bench") as src:
        index = fs_walk(src, [v], Limits())
    return len(index), v.n


def _child(mode: str, root: str) -> None:
    fn = {"floor-gzip": floor_gzip, "floor-zlib": floor_zlib, "walk": walk}[mode]
    before = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    result = fn(Path(root))
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(json.dumps({"seconds": elapsed, "cpu": cpu, "rss_mb": after.ru_maxrss // 1024, "result": result}))


def _run(mode: str, root: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.image_read", "--child", mode, str(root)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=300, help="compressed size of the smaller image (MB)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    for mb in (args.mb, args.mb * 2):
        root = build(mb)
        size = sum(p.stat().st_size for p in (root / "blobs" / "sha256").iterdir())
        runs: dict[str, list[dict[str, float]]] = {"floor-gzip": [], "floor-zlib": [], "walk": []}
        for _ in range(args.runs):  # interleaved, so that load on the machine hits all alike
            for mode, results in runs.items():
                results.append(_run(mode, root))
        best = {mode: min(results, key=lambda r: r["seconds"]) for mode, results in runs.items()}
        fl = min(best["floor-gzip"], best["floor-zlib"], key=lambda r: r["seconds"])
        cpu_floor = min(min(r["cpu"] for r in runs[m]) for m in ("floor-gzip", "floor-zlib"))
        cpu_walk = min(r["cpu"] for r in runs["walk"])
        wk = best["walk"]
        print(f"image {size / 1e6:.0f} MB compressed, {wk['result'][0]} final paths:")
        for mode, r in best.items():
            print(f"  {mode:11s} {r['seconds']:6.2f}s wall  {min(x['cpu'] for x in runs[mode]):6.2f}s cpu  "
                  f"peak rss {r['rss_mb']:4d} MB")
        print(f"  ratio walk / fastest floor: {wk['seconds'] / fl['seconds']:.2f} (wall), "
              f"{cpu_walk / cpu_floor:.2f} (cpu)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
