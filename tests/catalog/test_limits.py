"""Hostile input for the catalogers (issue 18): memory bounded by the largest record, not the file;
per-image budgets for nested archives, so ten zip bombs cost one budget; what could not be read
is a Skip that `seawall sbom` shows, never silence."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

from seawall.catalog import DEFAULT_LIMITS, CatalogLimits
from seawall.catalog.dpkg import DpkgCataloger
from seawall.image.base import EntryKind, FileEntry, LayerInfo
from tests.catalog.helpers import catalog_dir
from tests.conftest import run_cli

LAYER = LayerInfo(index=0, digest="sha256:" + "a" * 64, diff_id="sha256:" + "b" * 64)
MiB = 1024 * 1024
REAL = (b"Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\n"
        b"Version: 3.0.11-1~deb12u2\nSource: openssl\nDescription: Secure Sockets Layer toolkit\n"
        b" This package is part of the OpenSSL project's implementation.\n\n")
REAL2 = (b"Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n"
         b"Source: bash (5.2.15-2)\nDescription: GNU Bourne Again SHell\n\n")


class _Generated(io.RawIOBase):
    """A stream of `head`, then `size` bytes of `fill` repeated (made on the fly), then `tail`:
    nothing of it is held in memory by the test."""

    def __init__(self, head: bytes, fill: bytes, size: int, tail: bytes) -> None:
        self._pieces = self._gen(head, fill, size, tail)
        self._buf = b""

    @staticmethod
    def _gen(head: bytes, fill: bytes, size: int, tail: bytes) -> Iterator[bytes]:
        yield head
        left = size
        while left > 0:
            piece = fill[:left]
            left -= len(piece)
            yield piece
        yield tail

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            try:
                self._buf = next(self._pieces)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _visit_status(stream: io.RawIOBase) -> tuple[DpkgCataloger, int]:
    cataloger = DpkgCataloger()
    entry = FileEntry(path="/var/lib/dpkg/status", kind=EntryKind.FILE, size=0, mode=0o644, layer=LAYER)
    tracemalloc.start()
    try:
        cataloger.visit(entry, io.BufferedReader(stream, 1 << 20))  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return cataloger, peak


def test_one_200mb_line_in_dpkg_status_is_a_damaged_record_in_bounded_memory() -> None:
    """Before: the whole file was read, decoded and split (1.1 GB for one 200 MB line)."""
    stream = _Generated(REAL + b"Package: evil\nDescription: ", b"A" * 65536, 200 * 1024 * 1024,
                        b"\n\n" + REAL2)
    cataloger, peak = _visit_status(stream)
    assert peak < 24 * 1024 * 1024, peak  # a chunk and a record, not the file
    from seawall.catalog import CatalogContext
    from seawall.image.base import Limits

    got = [(p.name, p.version) for p in cataloger.packages(CatalogContext(os=None, limits=Limits()))]
    assert got == [("libssl3", "3.0.11-1~deb12u2"), ("bash", "5.2.15-2+b2")]  # the good input goes on
    assert [(s.subject, s.count, s.category) for s in cataloger.skips] == [
        ("dpkg records in /var/lib/dpkg/status", 1, "damaged")]


def test_many_stanzas_in_bounded_memory() -> None:
    """Before: 1.6 GB for a 200 MB status file (eight times its size); now a small multiple of the
    largest stanza whatever the size (the traced memory of 24 MB of stanzas stays under 24 MB
    only when the file is streamed)."""
    stanza = REAL.replace(b"Description: Secure Sockets Layer toolkit\n",
                          b"Description: Secure Sockets Layer toolkit\n" + b" long description line\n" * 400)
    size = 24 * MiB // len(stanza) * len(stanza)  # tracemalloc is slow; the CLI test below reads 120 MB
    stream = _Generated(b"", stanza, size, b"\n\n" + REAL2)
    start = time.monotonic()
    cataloger, peak = _visit_status(stream)
    assert peak < 12 * MiB, peak
    assert time.monotonic() - start < 120
    assert cataloger.skips == []
    from seawall.catalog import CatalogContext
    from seawall.image.base import Limits

    names = {p.name for p in cataloger.packages(CatalogContext(os=None, limits=Limits()))}
    assert names == {"libssl3", "bash"}


def _bomb(members: int, size: int) -> bytes:
    """A jar whose nested jars are `size` bytes each: a zip signature, then zeros (1000:1 under
    deflate): each must be decompressed to its end before zipfile can tell it is broken."""
    buf = io.BytesIO()
    zeros = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\n\r\n")
        for i in range(members):
            with zf.open(f"BOOT-INF/lib/bomb-{i}.jar", "w", force_zip64=True) as member:
                member.write(b"PK\x03\x04")
                for _ in range(size // len(zeros)):
                    member.write(zeros)
    return buf.getvalue()


def test_ten_zip_bombs_cost_one_per_image_budget(tmp_path: Path) -> None:
    """Before: the budget was per jar (four times the single-file limit), so ten copies of a bomb
    cost ten budgets (73 s for ten in a 141 KB layer). Now they share one per-image budget;
    smaller budgets than the defaults keep the test fast, the defaults have the same shape."""
    assert DEFAULT_LIMITS.archive_bytes_per_image < 10 * DEFAULT_LIMITS.archive_bytes_per_file
    budgets = CatalogLimits(archive_bytes_per_image=96 * MiB, archive_bytes_per_file=40 * MiB)
    bomb = _bomb(6, 16 * MiB)  # 96 MiB declared per jar, 100 KB on disk
    root = tmp_path / "root"
    for i in range(10):
        (root / f"app/lib{i}").mkdir(parents=True)
        (root / f"app/lib{i}/bomb.jar").write_bytes(bomb)
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("META-INF/maven/org.example/good/pom.properties", "groupId=org.example\n"
                    "artifactId=good\nversion=1.0\n")
    (root / "app/good-1.0.jar").write_bytes(good.getvalue())
    start = time.monotonic()
    cat = catalog_dir(root, names=["java-archive"], catalog_limits=budgets)
    elapsed = time.monotonic() - start
    per_file = [s for s in cat.skips if "per archive" in s.reason]
    per_image = [s for s in cat.skips if "per-image budget" in s.reason]
    assert per_file and per_image, cat.warnings
    # the members decompressed fit in the image budget; the rest are skipped, each reported
    decompressed = sum(1 for s in cat.skips if s.reason.startswith("not a readable zip"))
    assert 0 < decompressed * 16 * MiB <= budgets.archive_bytes_per_image
    assert all(s.category in ("skipped", "unreadable") for s in cat.skips)
    assert elapsed < 30, elapsed
    # the good jar is read when the walk reaches it before the budget is spent, else reported
    assert ("org.example:good", "1.0") in {(p.name, p.version) for p in cat.packages} or any(
        s.subject.endswith("/app/good-1.0.jar") for s in per_image)


def test_nested_junk_is_not_decompressed(tmp_path: Path) -> None:
    """A nested "jar" that is not a zip at all (no PK signature) costs four bytes, not its size."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf, \
            zf.open("lib/zeros.jar", "w", force_zip64=True) as member:
        for _ in range(256):
            member.write(b"\0" * MiB)
    (tmp_path / "app").mkdir()
    (tmp_path / "app/zeros.jar").write_bytes(buf.getvalue())
    start = time.monotonic()
    cat = catalog_dir(tmp_path, names=["java-archive"])
    assert time.monotonic() - start < 5
    assert [(s.subject, s.reason) for s in cat.skips] == [
        ("Java archive /app/zeros.jar:lib/zeros.jar", "not a zip archive (no PK signature)")]


def test_budgets_are_shown_in_help() -> None:
    proc = run_cli("sbom", "--help", env={"COLUMNS": "200"})
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert f"{DEFAULT_LIMITS.archive_bytes_per_image // (1024 * 1024)} MiB decompressed per image" in text
    assert f"{DEFAULT_LIMITS.nested_archives_per_image} nested archives per image" in text


def test_sbom_shows_cataloger_skips(tmp_path: Path) -> None:
    """An rpm database that cannot be read, a damaged dpkg status: warnings on stderr (table)
    and in the JSON `warnings` and `skipped`, the good packages still listed."""
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_bytes(REAL + b"Status: install ok installed\n\n" + REAL2)
    (tmp_path / "var/lib/rpm").mkdir(parents=True)
    (tmp_path / "var/lib/rpm/rpmdb.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    table = run_cli("sbom", f"dir:{tmp_path}")
    assert table.returncode == 0, table.stderr
    assert "libssl3" in table.stdout and "bash" in table.stdout
    assert "dpkg records in /var/lib/dpkg/status not analyzed: damaged record" in table.stderr
    assert "rpm database /var/lib/rpm/rpmdb.sqlite not analyzed: unreadable rpm database" in table.stderr
    proc = run_cli("sbom", f"dir:{tmp_path}", "-f", "json")
    doc = json.loads(proc.stdout)
    assert {s["subject"] for s in doc["skipped"]} == {"dpkg records in /var/lib/dpkg/status",
                                                      "rpm database /var/lib/rpm/rpmdb.sqlite"}
    assert any("rpmdb.sqlite not analyzed" in w for w in doc["warnings"])


def test_big_status_file_end_to_end_memory(tmp_path: Path) -> None:
    """`seawall sbom dir:` on a 120 MB status file (the same stanzas again and again): the
    process stays within a flat budget (before: several times the file size)."""
    stanza = REAL.replace(b" This package", b" long text\n" * 2000 + b" This package")
    status = tmp_path / "var/lib/dpkg/status"
    status.parent.mkdir(parents=True)
    with status.open("wb") as fh:
        for _ in range(120 * 1024 * 1024 // len(stanza)):
            fh.write(stanza)
        fh.write(REAL2)
    # VmHWM: the peak of this process since exec (ru_maxrss carries the parent's peak across
    # fork and exec on Linux, so it measured the test runner, not seawall)
    code = ("import re, sys; from seawall.cli.app import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1),"
            " file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code, "sbom", f"dir:{tmp_path}", "-f", "json"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    assert {p["name"] for p in json.loads(proc.stdout)["packages"]} == {"libssl3", "bash"}
    rss_kib = int(proc.stderr.strip().splitlines()[-1])
    assert rss_kib < 400 * 1024, rss_kib
