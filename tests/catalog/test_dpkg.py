"""dpkg: the host's real status file checked against dpkg-query; a distroless status.d built
from real .deb control files (as distroless builds it); the states dpkg leaves behind."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from seawall.catalog.licenses import normalize_license
from tests.catalog.conftest import apt_download
from tests.catalog.helpers import catalog_dir
from tests.catalog.test_os_release import DISTROLESS, UBUNTU_2204


def _dpkg_query(admindir: Path) -> dict[str, tuple[str, str, str, str]]:
    out = subprocess.run(
        ["dpkg-query", f"--admindir={admindir}", "-W", "-f",
         "${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\t${db:Status-Abbrev}\n"],
        capture_output=True, text=True, check=True).stdout
    rows: dict[str, tuple[str, str, str, str]] = {}
    for line in out.splitlines():
        name, version, arch, src, src_version, status = line.split("\t")
        if status.strip() in ("ii", "hi", "iU", "iF", "iW", "iT"):
            rows[f"{name}:{arch}"] = (version, arch, src, src_version)
    return rows


@pytest.mark.skipif(not Path("/var/lib/dpkg/status").is_file(), reason="not a dpkg host")
def test_host_status_matches_dpkg_query(tmp_path: Path) -> None:
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    shutil.copy("/var/lib/dpkg/status", tmp_path / "var/lib/dpkg/status")
    shutil.copy("/usr/lib/os-release", tmp_path / "usr/lib/os-release")
    (tmp_path / "etc/os-release").symlink_to("../usr/lib/os-release")
    for pkg in ("libssl3", "bash"):
        (tmp_path / f"usr/share/doc/{pkg}").mkdir(parents=True)
        shutil.copy(f"/usr/share/doc/{pkg}/copyright", tmp_path / f"usr/share/doc/{pkg}/copyright")
    cat = catalog_dir(tmp_path, names=["dpkg"])
    assert cat.os is not None and cat.os.id == "debian"
    expected = _dpkg_query(tmp_path / "var/lib/dpkg")  # the same snapshot of the status file
    got = {f"{p.name}:{p.arch}": p for p in cat.packages}
    assert set(got) == set(expected)
    distro = f"debian-{cat.os.version}"
    for key, (version, arch, src, src_version) in expected.items():
        p = got[key]
        assert (p.version, p.arch, p.source_name, p.source_version) == (version, arch, src, src_version), key
        assert p.ecosystem == "Debian"
        assert p.cataloger == "dpkg"
        assert p.locations[0].path == "/var/lib/dpkg/status"
        assert p.locations[0].layer is None  # a root filesystem has no layers
        assert f"distro={distro}" in p.purl and f"arch={arch}" in p.purl
    libssl = got["libssl3:amd64"]
    v = expected["libssl3:amd64"][0]
    assert libssl.purl == f"pkg:deb/debian/libssl3@{v}?arch=amd64&distro={distro}&upstream=openssl"
    grep = subprocess.run(["grep", "-h", "^License:", "/usr/share/doc/libssl3/copyright"],
                          capture_output=True, text=True, check=True).stdout.splitlines()
    # DEP-5 names mapped to SPDX ids ("Artistic or GPL-1+" -> "Artistic-1.0-Perl OR GPL-1.0-or-later")
    assert libssl.licenses == list(dict.fromkeys(normalize_license(line[8:].strip()) for line in grep))
    assert "Apache-2.0" in libssl.licenses
    bash = got.get("bash:amd64")
    if bash is not None and bash.version != bash.source_version:  # a binNMU: Source: bash (5.2.15-2)
        assert bash.purl.endswith(f"&upstream=bash%40{bash.source_version}")
    assert not cat.warnings


def test_distroless_status_d_from_real_debs(tmp_path: Path) -> None:
    debs = apt_download(["libssl3", "openssl", "base-files", "tzdata"])
    statusd = tmp_path / "var/lib/dpkg/status.d"
    statusd.mkdir(parents=True)
    expected: dict[str, dict[str, str]] = {}
    for name, deb in debs.items():
        control = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True,
                                 check=True).stdout
        (statusd / name).write_text(control)
        (statusd / f"{name}.md5sums").write_text("d41d8cd98f00b204e9800998ecf8427e  usr/bin/x\n")
        fields = dict(
            line.split(": ", 1) for line in control.splitlines() if ": " in line and not line.startswith(" "))
        expected[name] = fields
    # the os-release of the real base-files package
    subprocess.run(["dpkg-deb", "-x", str(debs["base-files"]), str(tmp_path / "bf")], check=True)
    (tmp_path / "etc").mkdir()
    text = (tmp_path / "bf/usr/lib/os-release").read_text().replace(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"', 'PRETTY_NAME="Distroless"')
    (tmp_path / "etc/os-release").write_text(text)
    shutil.rmtree(tmp_path / "bf")
    cat = catalog_dir(tmp_path, names=["dpkg"])
    assert cat.distroless
    assert cat.os is not None and cat.os.version == "12"
    assert sorted(p.name for p in cat.packages) == ["base-files", "libssl3", "openssl", "tzdata"]
    for p in cat.packages:
        f = expected[p.name]
        assert p.version == f["Version"]
        assert p.source_name == f.get("Source", p.name).split()[0]
        assert p.locations[0].path == f"/var/lib/dpkg/status.d/{p.name}"
        assert p.purl.startswith(f"pkg:deb/debian/{p.name}@")
    libssl = cat.one("libssl3")
    assert libssl.source_name == "openssl" and libssl.source_version == libssl.version
    assert libssl.purl == (f"pkg:deb/debian/libssl3@{libssl.version}"
                           "?arch=amd64&distro=debian-12&upstream=openssl")
    assert cat.one("tzdata").arch == "all"


STATES = """Package: kept
Status: install ok installed
Architecture: amd64
Version: 1:2.38.1-5+deb12u1
Source: util-linux (2.38.1-5+deb12u1)
Description: folded
 continuation line: with a colon

Package: removed
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: purged
Status: purge ok not-installed
Architecture: amd64
Version: 1.0-1

Package: held
Status: hold ok installed
Architecture: all
Version: 2.0-1

Package: half
Status: install reinstreq half-installed
Architecture: amd64
Version: 1.0-1

Package: noversion
Status: install ok installed
"""


def test_states_and_source_versions(tmp_path: Path) -> None:
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_text(STATES)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(UBUNTU_2204)
    cat = catalog_dir(tmp_path, names=["dpkg"])
    assert sorted(p.name for p in cat.packages) == ["held", "kept"]
    kept = cat.one("kept")
    assert (kept.source_name, kept.source_version) == ("util-linux", "2.38.1-5+deb12u1")
    assert kept.ecosystem == "Ubuntu"
    assert kept.purl == ("pkg:deb/ubuntu/kept@1:2.38.1-5%2Bdeb12u1?arch=amd64&distro=ubuntu-22.04"
                         "&upstream=util-linux%402.38.1-5%2Bdeb12u1")
    held = cat.one("held")
    assert (held.source_name, held.source_version) == ("held", "2.0-1")


def test_hostile_status_never_crashes(tmp_path: Path) -> None:
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_bytes(b"\x00\xff\xfe:::\n\nPackage\nStatus: \n" * 1000)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(DISTROLESS)
    cat = catalog_dir(tmp_path, names=["dpkg"])
    assert cat.packages == []
