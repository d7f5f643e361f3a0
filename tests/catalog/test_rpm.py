"""rpm: real RPMs built with rpmbuild, installed with rpm into a real SQLite rpmdb; the same real
header blobs written into a genuine Berkeley DB hash file by libdb's db_load (Debian's rpm 4.18
cannot write bdb any more). `rpm -qa` on the database is the oracle."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from seawall.catalog import _bdb
from seawall.catalog.licenses import normalize_license
from seawall.catalog.rpm import RpmCataloger, read_sqlite_blobs
from seawall.image.base import EntryKind, FileEntry
from tests.catalog.conftest import CAT_CACHE, apt_download, publish
from tests.catalog.helpers import catalog_dir
from tests.catalog.test_os_release import AMZN2, AMZN2023, CENTOS7

pytestmark = pytest.mark.skipif(shutil.which("rpmbuild") is None or shutil.which("db5.3_load") is None,
                                reason="needs Debian's rpm and db5.3-util (devtools/system-deps.sh)")

SPECS = {
    "openssl.spec": """Name: openssl
Version: 1.0.2k
Release: 24.amzn2.0.4
Epoch: 1
Summary: Utilities from the general purpose cryptography library with TLS implementation
License: OpenSSL
Vendor: Amazon Linux
BuildArch: x86_64
%description
The OpenSSL toolkit provides support for secure communications between machines.
%package libs
Summary: A general purpose cryptography library with TLS implementation
%description libs
OpenSSL is a toolkit for supporting cryptography.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/lib64
echo openssl > %{buildroot}/usr/bin/openssl
echo lib > %{buildroot}/usr/lib64/libssl.so.1.0.2k
%files
/usr/bin/openssl
%files libs
/usr/lib64/libssl.so.1.0.2k
%changelog
* Mon Jan 01 2024 Seawall Tests <tests@example.invalid> - 1:1.0.2k-24.amzn2.0.4
- a changelog line so the header has the usual sections
""",
    "bash.spec": """Name: bash
Version: 4.2.46
Release: 34.amzn2
Summary: The GNU Bourne Again shell
License: GPLv3+
BuildArch: x86_64
%description
The GNU Bourne Again shell (Bash) is a shell or command language interpreter.
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/doc/bash
echo bash > %{buildroot}/usr/bin/bash
for i in $(seq 1 200); do echo "doc $i" > %{buildroot}/usr/share/doc/bash/bash-manual-section-$i.txt; done
%files
/usr/bin/bash
/usr/share/doc/bash
""",
    "setuptools.spec": """Name: python-setuptools
Version: 38.4.0
Release: 3.amzn2.0.6
Summary: Easily build and distribute Python packages
License: MIT
BuildArch: noarch
%description
Setuptools is a collection of enhancements to the Python distutils.
%package -n python3-setuptools
Summary: Easily build and distribute Python 3 packages
%description -n python3-setuptools
Setuptools for Python 3.
%files -n python3-setuptools
""",
}
QUERY = "%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}\\n"


def _run(cmd: list[str], **kw: object) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]
    assert proc.returncode == 0, (cmd, proc.stdout, proc.stderr)
    return str(proc.stdout)


@pytest.fixture(scope="session")
def rpmdbs() -> Path:
    """dir with sqlite/rpmdb.sqlite, bdb/Packages and expected.tsv (`rpm -qa` output)."""
    key = hashlib.sha256(repr(sorted(SPECS.items())).encode()).hexdigest()[:16]
    final = CAT_CACHE / f"rpmdb-{key}"
    if final.is_dir():
        return final
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "SPECS").mkdir(parents=True)
    for name, text in SPECS.items():
        (tmp / "SPECS" / name).write_text(text)
        _run(["rpmbuild", "-bb", "--nodeps", "--define", f"_topdir {tmp}", str(tmp / "SPECS" / name)])
    rpms = sorted(str(p) for p in (tmp / "RPMS").rglob("*.rpm"))
    assert len(rpms) == 4, rpms
    db = tmp / "db"
    _run(["rpm", "--dbpath", str(db), "--initdb"])
    _run(["rpm", "--dbpath", str(db), "-i", "--justdb", "--nodeps", "--ignorearch", "--ignoreos", *rpms])
    expected = _run(["rpm", "--dbpath", str(db), "-qa", "--qf", QUERY])
    # the state rpm leaves once the database is closed cleanly: WAL checkpointed into the file
    conn = sqlite3.connect(db / "rpmdb.sqlite")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    (tmp / "sqlite").mkdir()
    shutil.copy(db / "rpmdb.sqlite", tmp / "sqlite/rpmdb.sqlite")
    # the same header blobs in a Berkeley DB hash database, keyed by the package number as rpm's
    # bdb backend stores them (native-endian uint32)
    conn = sqlite3.connect(db / "rpmdb.sqlite")
    rows = conn.execute("SELECT hnum, blob FROM Packages").fetchall()
    conn.close()
    lines = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
    for hnum, blob in rows:
        lines.append(" " + int(hnum).to_bytes(4, "little").hex())
        lines.append(" " + bytes(blob).hex())
    lines.append("DATA=END")
    (tmp / "dump.txt").write_text("\n".join(lines) + "\n")
    (tmp / "bdb").mkdir()
    _run(["db5.3_load", "-f", str(tmp / "dump.txt"), str(tmp / "bdb/Packages")])
    (tmp / "expected.tsv").write_text(expected)
    return publish(tmp, final)


def _expected(rpmdbs: Path) -> dict[str, list[str]]:
    rows = {}
    for line in (rpmdbs / "expected.tsv").read_text().splitlines():
        f = line.split("\t")
        rows[f[0]] = f
    assert len(rows) == 4
    return rows


def _image(tmp_path: Path, db_file: Path, dest: str, os_release: str) -> Path:
    target = tmp_path / dest.lstrip("/")
    target.parent.mkdir(parents=True)
    shutil.copy(db_file, target)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(os_release)
    return tmp_path


def _check(cat_pkgs: dict[str, object], expected: dict[str, list[str]], distro: str, path: str) -> None:
    assert set(cat_pkgs) == set(expected)
    for name, (_, epoch, version, release, arch, srpm, lic) in expected.items():
        p = cat_pkgs[name]
        evr = f"{version}-{release}" if epoch == "(none)" else f"{epoch}:{version}-{release}"
        assert p.version == evr  # type: ignore[attr-defined]
        assert p.arch == arch  # type: ignore[attr-defined]
        assert p.licenses == [normalize_license(lic)]  # type: ignore[attr-defined]
        assert p.metadata["source_rpm"] == srpm  # type: ignore[attr-defined]
        assert p.locations[0].path == path  # type: ignore[attr-defined]
        assert f"distro={distro}" in p.purl  # type: ignore[attr-defined]


def test_sqlite_rpmdb_amazon_linux_2023(tmp_path: Path, rpmdbs: Path) -> None:
    root = _image(tmp_path, rpmdbs / "sqlite/rpmdb.sqlite", "/var/lib/rpm/rpmdb.sqlite", AMZN2023)
    cat = catalog_dir(root, names=["rpm"])
    expected = _expected(rpmdbs)
    _check({p.name: p for p in cat.packages}, expected, "amzn-2023", "/var/lib/rpm/rpmdb.sqlite")
    libs = cat.one("openssl-libs")
    assert libs.ecosystem == "Amazon Linux"
    assert libs.version == "1:1.0.2k-24.amzn2.0.4"
    assert (libs.source_name, libs.source_version) == ("openssl", "1:1.0.2k-24.amzn2.0.4")
    assert libs.purl == ("pkg:rpm/amzn/openssl-libs@1.0.2k-24.amzn2.0.4?arch=x86_64&distro=amzn-2023"
                         "&epoch=1&upstream=openssl-1.0.2k-24.amzn2.0.4.src.rpm")
    assert libs.metadata["vendor"] == "Amazon Linux"
    py3 = cat.one("python3-setuptools")
    assert (py3.arch, py3.source_name, py3.source_version) == ("noarch", "python-setuptools",
                                                              "38.4.0-3.amzn2.0.6")
    bash = cat.one("bash")
    assert bash.purl == ("pkg:rpm/amzn/bash@4.2.46-34.amzn2?arch=x86_64&distro=amzn-2023"
                         "&upstream=bash-4.2.46-34.amzn2.src.rpm")
    assert not cat.warnings


def test_bdb_rpmdb_amazon_linux_2(tmp_path: Path, rpmdbs: Path) -> None:
    data = (rpmdbs / "bdb/Packages").read_bytes()
    assert _bdb.is_bdb_hash(data[:512])
    assert max(len(b) for b in _bdb.iter_values(data)) > 3 * 4096  # overflow chains of 4+ pages
    assert sorted(_bdb.iter_values(data)) == sorted(read_sqlite_blobs(
        (rpmdbs / "sqlite/rpmdb.sqlite").read_bytes()))
    root = _image(tmp_path, rpmdbs / "bdb/Packages", "/var/lib/rpm/Packages", AMZN2)
    cat = catalog_dir(root, names=["rpm"])
    _check({p.name: p for p in cat.packages}, _expected(rpmdbs), "amzn-2", "/var/lib/rpm/Packages")
    assert cat.one("openssl").purl == ("pkg:rpm/amzn/openssl@1.0.2k-24.amzn2.0.4?arch=x86_64&distro=amzn-2"
                                       "&epoch=1&upstream=openssl-1.0.2k-24.amzn2.0.4.src.rpm")
    assert not cat.warnings


def test_centos7_ecosystem(tmp_path: Path, rpmdbs: Path) -> None:
    root = _image(tmp_path, rpmdbs / "bdb/Packages", "/var/lib/rpm/Packages", CENTOS7)
    cat = catalog_dir(root, names=["rpm"])
    assert {p.ecosystem for p in cat.packages} == {"CentOS"}
    assert cat.one("bash").purl.startswith("pkg:rpm/centos/bash@4.2.46-34.amzn2?")


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_damaged_databases_warn_not_crash(tmp_path: Path, rpmdbs: Path, damage: str) -> None:
    for src, dest in (("bdb/Packages", "var/lib/rpm/Packages"),
                      ("sqlite/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")):
        data = bytearray((rpmdbs / src).read_bytes())
        if damage == "truncate":
            data = data[: len(data) // 3]
        elif damage == "flip":
            for i in range(600, len(data), 97):
                data[i] ^= 0xFF
        else:
            data = data[:16] + bytes(range(256)) * 40
        p = tmp_path / dest
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(bytes(data))
    cat = catalog_dir(tmp_path, names=["rpm"])
    for p in cat.packages:  # whatever survives is well-formed
        assert p.name and p.version and p.purl.startswith("pkg:rpm/")
    assert cat.warnings or cat.packages


def test_ndb_and_wal_are_reported(tmp_path: Path, rpmdbs: Path) -> None:
    rpmdir = tmp_path / "usr/lib/sysimage/rpm"
    rpmdir.mkdir(parents=True)
    shutil.copy(rpmdbs / "sqlite/rpmdb.sqlite", rpmdir / "rpmdb.sqlite")
    (rpmdir / "rpmdb.sqlite-wal").write_bytes(b"\x37\x7f\x06\x82" + b"\0" * 28)
    (rpmdir / "Packages.db").write_bytes(b"RpmP" + b"\0" * 60)
    cat = catalog_dir(tmp_path, names=["rpm"])
    assert len(cat.packages) == 4
    assert [(s.subject, s.category) for s in cat.skips] == [
        ("rpm database /usr/lib/sysimage/rpm/Packages.db", "unsupported")]
    assert [w.split(": ", 2)[1] for w in cat.warnings if w.startswith("rpm: ")] == [
        "/usr/lib/sysimage/rpm/rpmdb.sqlite-wal"]


GO_RPMDB_TESTDATA = "usr/share/gocode/src/github.com/knqyf263/go-rpmdb/pkg/testdata"
REAL_QUERY = ("%{NAME}\\t%{EPOCH}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}"
              "\\t%{MODULARITYLABEL}\\n")


@pytest.fixture(scope="session")
def centos_rpmdbs() -> Path:
    """Real Berkeley DB rpmdbs of CentOS 5/6/7/8 images, as Debian ships them in go-rpmdb's
    test data (golang-github-knqyf263-go-rpmdb-dev)."""
    final = CAT_CACHE / "centos-rpmdbs"
    if final.is_dir():
        return final
    deb = apt_download(["golang-github-knqyf263-go-rpmdb-dev"])["golang-github-knqyf263-go-rpmdb-dev"]
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _run(["dpkg-deb", "-x", str(deb), str(tmp / "x")])
    for name in CENTOS:
        (tmp / name).mkdir(parents=True)
        shutil.copy(tmp / "x" / GO_RPMDB_TESTDATA / name / "Packages", tmp / name / "Packages")
    shutil.rmtree(tmp / "x")
    return publish(tmp, final)


CENTOS = ["centos5-plain", "centos6-plain", "centos7-plain", "centos8-modularitylabel"]


@pytest.mark.parametrize("distro", CENTOS)
def test_real_centos_bdb_rpmdbs(tmp_path: Path, centos_rpmdbs: Path, distro: str) -> None:
    """Our pure-Python BDB reader against rpm's own read-only BDB backend on the same files."""
    dbdir = centos_rpmdbs / distro
    out = _run(["rpm", "--dbpath", str(dbdir), "--define", "_db_backend bdb_ro", "-qa", "--qf", REAL_QUERY])
    rows = [line.split("\t") for line in out.splitlines() if line and not line.startswith("gpg-pubkey\t")]
    for row in rows:  # licenses are reported as SPDX ids where the name maps to one
        row[6] = normalize_license(row[6]) if row[6] != "(none)" else row[6]
    expected = sorted(tuple(row) for row in rows)
    assert len(expected) > 100
    version = distro[6]
    root = _image(tmp_path, dbdir / "Packages", "/var/lib/rpm/Packages",
                  f'NAME="CentOS Linux"\nID="centos"\nVERSION_ID="{version}"\n')
    cat = catalog_dir(root, names=["rpm"])
    assert not cat.warnings

    def none(value: object) -> str:
        return "(none)" if value in (None, "") else str(value)

    got = sorted((p.name, none(p.metadata.get("epoch")), p.version.split(":")[-1].rsplit("-", 1)[0],
                  p.metadata["release"], none(p.arch), none(p.metadata.get("source_rpm")),
                  none(p.licenses[0] if p.licenses else None), none(p.metadata.get("modularity_label")))
                 for p in cat.packages)
    assert got == expected
    for p in cat.packages:
        assert p.ecosystem == "CentOS"
        assert f"distro=centos-{version}" in p.purl
        if p.source_name is not None:
            assert p.metadata["source_rpm"].startswith(p.source_name + "-")
    if distro == "centos8-modularitylabel":
        assert any(p.metadata.get("modularity_label") for p in cat.packages)
    # file ownership: every file rpm lists for a package is owned by one that lists it
    files = _run(["rpm", "--dbpath", str(dbdir), "--define", "_db_backend bdb_ro", "-qa", "--qf",
                  "[%{=NAME}\t%{FILENAMES}\n]"])
    listed: dict[str, set[str]] = {}
    for line in files.splitlines():
        name, _, path = line.partition("\t")
        if path and path != "(none)":
            listed.setdefault(path, set()).add(f"rpm:{name}")
    cataloger = RpmCataloger()
    with (dbdir / "Packages").open("rb") as fh:
        cataloger.visit(FileEntry("/var/lib/rpm/Packages", EntryKind.FILE, 1, 0o644, None), fh)
    owners = cataloger.ownership.owners
    assert set(owners) == set(listed)
    assert all(owners[path] in listed[path] for path in listed)
