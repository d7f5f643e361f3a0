"""Layer attribution of rpm and apk packages, whose database is one file rewritten by every
install: each package is attributed to the lowest layer holding one of its own files in the
final image (an upgrade rewrites all of them, a later edit of one config file does not move it).
The images are OCI layouts written by devtools.imagebuild around the real databases in
tests/catalog/data/ (the files themselves are placeholders at the paths the databases list)."""

from __future__ import annotations

import gzip
from pathlib import Path

from devtools.imagebuild import Image, Layer
from tests.catalog.helpers import catalog_ref

DATA = Path(__file__).parent / "data"
AMZN = b'NAME="Amazon Linux"\nID="amzn"\nVERSION_ID="2023"\n'


def test_rpm_packages_name_the_layer_of_their_files(tmp_path: Path) -> None:
    rpmdb = gzip.decompress((DATA / "rpm/rpmdb.sqlite.gz").read_bytes())
    img = Image(work=tmp_path / "work")
    base = img.add(Layer.files("ADD base /", {"etc/os-release": AMZN,
                                              "usr/lib64/libssl.so.1.0.2k": b"\x7fELF ssl",
                                              "usr/bin/openssl": b"\x7fELF openssl",
                                              "var/lib/rpm/rpmdb.sqlite": b"an older database"}))
    doc = "usr/share/doc/bash/bash-manual-section-1.txt"
    dnf = img.add(Layer.files("RUN dnf install -y bash", {"usr/bin/bash": b"\x7fELF bash", doc: b"manual",
                                                         "var/lib/rpm/rpmdb.sqlite": rpmdb}))
    # a later layer edits one file of bash: bash still came from the dnf layer
    img.add(Layer.files(f"RUN sed -i s/x/y/ /{doc}", {doc: b"edited"}))
    img.write_oci(tmp_path / "oci", "t")
    cat = catalog_ref(f"oci:{tmp_path / 'oci'}:t", names=["rpm"])
    layer = {p.name: p.locations[0].layer for p in cat.packages}
    assert layer == {"openssl-libs": base.diff_id, "openssl": base.diff_id, "bash": dnf.diff_id,
                     # no files of its own in the image: the database's layer
                     "python3-setuptools": dnf.diff_id}
    bash = cat.one("bash")
    assert bash.locations[0].path == "/var/lib/rpm/rpmdb.sqlite"
    assert bash.locations[0].layer_created_by == "RUN dnf install -y bash"
    assert bash.metadata["layer_evidence"] == "/usr/bin/bash"
    assert cat.one("openssl").metadata["layer_evidence"] == "/usr/bin/openssl"


def test_apk_packages_name_the_layer_of_their_files(tmp_path: Path) -> None:
    installed = (DATA / "apk/installed").read_bytes()
    img = Image(work=tmp_path / "work")
    base = img.add(Layer.files("ADD alpine-minirootfs.tar.gz /", {
        "etc/alpine-release": b"3.11.6\n", "lib/libc.musl-x86_64.so.1": b"\x7fELF musl",
        "bin/busybox": b"\x7fELF busybox", "lib/apk/db/installed": b"P:musl\nV:1.1.24-r2\n\n"}))
    add = img.add(Layer.files("RUN apk add libcrypto1.1", {"lib/libcrypto.so.1.1": b"\x7fELF crypto",
                                                           "lib/apk/db/installed": installed}))
    img.write_oci(tmp_path / "oci", "t")
    cat = catalog_ref(f"oci:{tmp_path / 'oci'}:t", names=["apk"])
    assert {p.name: p.locations[0].layer for p in cat.packages} == {
        "musl": base.diff_id, "busybox": base.diff_id, "libcrypto1.1": add.diff_id}
    crypto = cat.one("libcrypto1.1")
    assert crypto.metadata["layer_evidence"] == "/lib/libcrypto.so.1.1"
    # D: so:libc.musl-x86_64.so.1 resolved through musl's p: line
    assert crypto.dependencies == [cat.one("musl").purl]
