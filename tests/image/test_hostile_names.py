"""Names from the image are data: a name that is not UTF-8 is analyzed and reported (as `\\xNN`
text, valid in every format), escape sequences in names never reach the terminal, archives whose
index or blobs are symlinks are refused in one line, and an unreadable root is an error, not an
empty clean result."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from seawall.core.errors import InputError, LimitExceeded
from seawall.image import Limits, SourceOptions, open_image
from seawall.image.fs import walk
from tests.conftest import run_cli
from tests.image.builder import E, Layer, build, write_oci, write_oci_archive
from tests.image.visitors import Recorder

KEY_ID = "AKIAZ7Q3RT5WLKM2XN4P"
SECRET = "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"
ENV_FILE = f"AWS_ACCESS_KEY_ID={KEY_ID}\nAWS_SECRET_ACCESS_KEY={SECRET}\n".encode()
BAD = b"caf\xe9\x1b[31m"  # Latin-1, not UTF-8, with a terminal escape sequence
BAD_NAME = BAD.decode("utf-8", "surrogateescape")
SHOWN = "caf\\xe9\x1b[31m"  # how seawall names it (JSON keeps the escape character as data)
METADATA = b"Metadata-Version: 2.1\nName: requests\nVersion: 2.19.0\n"


@pytest.fixture(scope="module")
def bad_names(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("names") / "oci"
    img = build([Layer([E("etc/", type="dir"),
                        E("etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n"),
                        E(f"app/{BAD_NAME}.env", ENV_FILE),
                        E(f"usr/lib/python3/dist-packages/{BAD_NAME}/requests-2.19.0.dist-info/METADATA",
                          METADATA)])])
    write_oci(root, [(img, "1")])
    return f"oci:{root}:1"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "sarif", "ocsf", "table"])
def test_secret_under_a_name_that_is_not_utf8(bad_names: str, fmt: str) -> None:
    proc = run_cli("scan", "image", bad_names, "--scanners", "secret", "-f", fmt)
    assert proc.returncode == 0, proc.stderr
    assert "internal error" not in proc.stderr
    assert SECRET not in proc.stdout and KEY_ID not in proc.stdout
    if fmt == "json":
        (finding,) = json.loads(proc.stdout)["findings"]
        assert finding["rule"] == "aws-access-key"
        assert finding["location"]["path"] == f"/app/{SHOWN}.env"
    elif fmt == "table":
        assert "\x1b" not in proc.stdout and "/app/caf\\xe9?[31m.env" in proc.stdout
    elif fmt == "sarif":
        assert "app/caf%5Cxe9%1B%5B31m.env" in proc.stdout  # an artifact URI, percent-encoded
    else:
        assert "caf\\\\xe9" in proc.stdout  # the name, as JSON text


@pytest.mark.parametrize("fmt", ["json", "spdx-json", "cyclonedx-json", "cyclonedx", "table"])
def test_package_under_a_name_that_is_not_utf8(bad_names: str, fmt: str) -> None:
    proc = run_cli("sbom", bad_names, "-f", fmt)
    assert proc.returncode == 0, proc.stderr
    assert "requests" in proc.stdout and "2.19.0" in proc.stdout
    if fmt == "json":
        (pkg,) = [p for p in json.loads(proc.stdout)["packages"] if p["name"] == "requests"]
        assert pkg["locations"][0]["path"].startswith(f"/usr/lib/python3/dist-packages/{SHOWN}/")
    if fmt == "table":
        assert "\x1b" not in proc.stdout


def test_dir_root_with_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "app").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "etc" / "os-release").write_bytes(b"ID=alpine\n")
    bad_dir = os.fsencode(root / "app") + b"/" + BAD
    os.mkdir(bad_dir)
    with open(bad_dir + b"/creds.env", "wb") as fh:
        fh.write(ENV_FILE)
    proc = run_cli("scan", "rootfs", str(root), "--scanners", "secret", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    (finding,) = json.loads(proc.stdout)["findings"]
    assert finding["location"]["path"] == f"/app/{SHOWN}/creds.env"  # found, and read by its real name


def test_escape_sequences_in_names_never_reach_the_terminal(tmp_path: Path) -> None:
    name = "evil\x1b]0;pwned\x07\x1b[2J"
    layers = [Layer([E("etc/", type="dir"), E(f"{name}-link", type="symlink", link=f"/missing/{name}"),
                     E(f"{name}.bin", b"x" * 4096)])]
    root = tmp_path / "oci"
    write_oci(root, [(build(layers), "1")])
    warned = run_cli("scan", "image", f"oci:{root}:1", "--scanners", "secret", "--max-file-size", "1KiB")
    through = tmp_path / "through"
    write_oci(through, [(build([Layer([E(name, type="symlink", link="/etc"), E(f"{name}/shadow", b"x")])]),
                         "1")])
    refused = run_cli("sbom", f"oci:{through}:1")
    assert refused.returncode == 2 and "written through the symlink" in refused.stderr
    for out in (warned.stdout, warned.stderr, refused.stderr):
        assert "\x1b" not in out and "\x07" not in out
    assert "evil?]0;pwned??[2J.bin: file of 4096 bytes is over the limit" in warned.stderr


def _archive_with_links(tmp_path: Path, index: bool, target: str) -> Path:
    layout = tmp_path / "layout"
    write_oci(layout, [(build([Layer([E("a", b"1")])]), "1")])
    path = tmp_path / f"linked-{index}-{abs(hash(target))}.tar"
    with tarfile.open(path, "w") as tf:
        for p in sorted(layout.rglob("*")):
            rel = str(p.relative_to(layout))
            if (index and rel == "index.json") or (not index and rel.startswith("blobs/sha256/")
                                                   and p.is_file()):
                ti = tarfile.TarInfo(rel)
                ti.type, ti.linkname = tarfile.SYMTYPE, target
                tf.addfile(ti)
            else:
                tf.add(p, arcname=rel, recursive=False)
    return path


@pytest.mark.parametrize(("index", "target"), [(True, "/etc/passwd"), (True, "oci-layout"),
                                                (False, "/etc/passwd"), (False, "../../index.json")])
def test_oci_archive_with_symlinked_index_or_blobs(tmp_path: Path, index: bool, target: str) -> None:
    archive = _archive_with_links(tmp_path, index, target)
    with pytest.raises(InputError, match="is a symlink"), open_image(f"oci-archive:{archive}") as src:
        walk(src, [], Limits())
    proc = run_cli("sbom", f"oci-archive:{archive}")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "is a symlink" in proc.stderr
    assert "internal error" not in proc.stderr


def test_oci_layout_with_symlinked_index(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    write_oci(layout, [(build([Layer([E("a", b"1")])]), "1")])
    (layout / "index.json").unlink()
    (layout / "index.json").symlink_to("/etc/passwd")
    with pytest.raises(InputError, match=r"index\.json is a symlink"):
        open_image(f"oci:{layout}")


def test_oci_archive_still_reads_after_the_check(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    write_oci(layout, [(build([Layer([E("etc/motd", b"hi")])]), "1")])
    archive = tmp_path / "ok.tar"
    write_oci_archive(archive, layout)
    rec = Recorder({"/etc/motd"})
    with open_image(f"oci-archive:{archive}") as src:
        walk(src, [rec], Limits())
    assert rec.content("/etc/motd") == b"hi"


# -- unreadable input is a warning, or an error when nothing could be read -------------------------

def _without_dac(*args: str) -> subprocess.CompletedProcess[str]:
    """seawall as root without the capabilities that bypass file permissions (or as a normal user)."""
    cmd = [sys.executable, "-m", "seawall", *args]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be tested")
        cmd = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", "--", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def test_unreadable_directories_are_warnings_and_an_unreadable_root_is_an_error(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "os-release").write_bytes(b"ID=debian\nVERSION_ID=\"12\"\n")
    site = root / "usr" / "lib" / "python3" / "dist-packages" / "requests-2.19.0.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_bytes(METADATA)
    (root / "usr" / "lib" / "python3").chmod(0)
    try:
        partial = _without_dac("sbom", f"dir:{root}", "-f", "json")
        assert partial.returncode == 0, partial.stderr
        assert "/usr/lib/python3: cannot list (Permission denied)" in partial.stderr
        doc = json.loads(partial.stdout)
        assert doc.get("packages", []) == []
        assert any("/usr/lib/python3: cannot list" in w for w in doc["warnings"])
        root.chmod(0)
        nothing = _without_dac("sbom", f"dir:{root}")
        assert nothing.returncode == 2 and nothing.stdout == ""
        assert "cannot list the root directory (Permission denied)" in nothing.stderr
    finally:
        root.chmod(0o755)
        (root / "usr" / "lib" / "python3").chmod(0o755)


# -- per-image budgets -----------------------------------------------------------------------------

def _zeros_layer(size: int) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as gz:
        ti = tarfile.TarInfo("var/bomb")
        ti.size = size
        gz.write(ti.tobuf(format=tarfile.PAX_FORMAT))
        chunk = b"\0" * (1 << 20)
        for _ in range(size // len(chunk)):
            gz.write(chunk)
        gz.write(b"\0" * 1024)
    return out.getvalue()


@pytest.mark.slow
def test_gzip_bomb_is_stopped_relative_to_its_compressed_size(tmp_path: Path) -> None:
    """1 GiB of zeros in a 1 MiB layer: refused after 100 x its size (by default), not read to the end."""
    root = tmp_path / "oci"
    write_oci(root, [(build([Layer([], raw=_zeros_layer(1 << 30))]), "1")])
    limits = Limits(ratio_allowance=16 << 20)
    with pytest.raises(LimitExceeded, match="max_layer_ratio"), \
            open_image(f"oci:{root}:1", SourceOptions(limits=limits)) as src:
        walk(src, [], limits)
    proc = run_cli("sbom", f"oci:{root}:1", "--max-layer-ratio", "2")
    assert proc.returncode == 2 and "--max-layer-ratio" in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.slow
def test_repeated_entries_use_flat_memory(tmp_path: Path) -> None:
    """300,000 entries of one name: tarfile's own list of headers no longer grows with them."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=1) as gz, \
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.GNU_FORMAT) as tf:
        for _ in range(300_000):
            tf.addfile(tarfile.TarInfo("d/f"))
    root = tmp_path / "oci"
    write_oci(root, [(build([Layer([], raw=out.getvalue())]), "1")])
    proc = subprocess.run([sys.executable, "-c", PEAK_PROBE, f"oci:{root}:1"], capture_output=True, text=True,
                          timeout=600, check=True)
    entries, peak_kib = map(int, proc.stdout.split())
    assert entries == 1 and peak_kib < 100 * 1024, proc.stdout  # was ~200 MiB, growing with the entries


# the peak memory (VmHWM: of this process since exec, unlike ru_maxrss) of one walk
PEAK_PROBE = """
import re, sys
from seawall.image import open_image, Limits
from seawall.image.fs import walk
with open_image(sys.argv[1]) as source:
    index = walk(source, [], Limits())
status = open("/proc/self/status").read()
print(len(index), re.search(r"VmHWM:\\s+(\\d+)", status).group(1))
"""


def test_entry_budget_counts_the_whole_image(tmp_path: Path) -> None:
    layers = [Layer([E(f"l{i}/f{j}", b"") for j in range(40)]) for i in range(3)]
    root = tmp_path / "oci"
    write_oci(root, [(build(layers), "1")])
    limits = Limits(max_entries=100)
    with pytest.raises(LimitExceeded, match="more than 100 entries"), \
            open_image(f"oci:{root}:1", SourceOptions(limits=limits)) as src:
        walk(src, [], limits)
    proc = run_cli("sbom", f"oci:{root}:1", "--max-entries", "100")
    assert proc.returncode == 2 and "--max-entries" in proc.stderr
    bad = run_cli("sbom", f"oci:{root}:1", "--max-image-size", "lots")
    assert bad.returncode == 2 and "--max-image-size 'lots'" in bad.stderr
