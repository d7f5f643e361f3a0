"""OS detection: the host's real os-release, and the release files of the distributions we
support (copied from their images), through the same wants/visit pass as an image."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from seawall.catalog import OSReleaseVisitor, ecosystem_for
from seawall.catalog.os_release import parse_os_release
from seawall.core import OSInfo
from tests.catalog.helpers import detect_os

UBUNTU_2204 = """PRETTY_NAME="Ubuntu 22.04.3 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.3 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
HOME_URL="https://www.ubuntu.com/"
UBUNTU_CODENAME=jammy
"""
ALPINE_318 = """NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.18.4
PRETTY_NAME="Alpine Linux v3.18"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
"""
AMZN2 = """NAME="Amazon Linux"
VERSION="2"
ID="amzn"
ID_LIKE="centos rhel fedora"
VERSION_ID="2"
PRETTY_NAME="Amazon Linux 2"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2"
HOME_URL="https://amazonlinux.com/"
"""
AMZN2023 = """NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2023"
"""
RHEL9 = """NAME="Red Hat Enterprise Linux"
VERSION="9.2 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.2"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.2 (Plow)"
"""
ROCKY9 = """NAME="Rocky Linux"
VERSION="9.2 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.2"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.2 (Blue Onyx)"
"""
ALMA9 = """NAME="AlmaLinux"
VERSION="9.2 (Turquoise Kodkod)"
ID="almalinux"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.2"
PLATFORM_ID="platform:el9"
PRETTY_NAME="AlmaLinux 9.2 (Turquoise Kodkod)"
"""
CENTOS7 = """NAME="CentOS Linux"
VERSION="7 (Core)"
ID="centos"
ID_LIKE="rhel fedora"
VERSION_ID="7"
PRETTY_NAME="CentOS Linux 7 (Core)"
"""
WOLFI = """ID=wolfi
NAME="Wolfi"
PRETTY_NAME="Wolfi"
VERSION_ID="20230201"
HOME_URL="https://wolfi.dev"
"""
DISTROLESS = """PRETTY_NAME="Distroless"
NAME="Debian GNU/Linux"
ID="debian"
VERSION_ID="12"
VERSION="Debian GNU/Linux 12 (bookworm)"
HOME_URL="https://github.com/GoogleContainerTools/distroless"
"""


def detect(tmp_path: Path, files: dict[str, str]) -> OSReleaseVisitor:
    for rel, text in files.items():
        p = tmp_path / rel.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return detect_os(tmp_path)


def test_host_os_release_is_debian(tmp_path: Path) -> None:
    """The host's real files, including /etc/os-release as a symlink to /usr/lib/os-release."""
    (tmp_path / "etc").mkdir()
    (tmp_path / "usr/lib").mkdir(parents=True)
    shutil.copy("/usr/lib/os-release", tmp_path / "usr/lib/os-release")
    (tmp_path / "etc/os-release").symlink_to("../usr/lib/os-release")
    shutil.copy("/etc/debian_version", tmp_path / "etc/debian_version")
    fields = parse_os_release(Path("/usr/lib/os-release").read_text())
    v = detect_os(tmp_path)
    info = v.os()
    assert info is not None
    assert info.id == fields["ID"] == "debian"
    assert info.version == fields["VERSION_ID"]
    assert info.codename == fields["VERSION_CODENAME"]
    assert ecosystem_for(info, "x") == "Debian"
    assert not v.distroless


@pytest.mark.parametrize(("text", "expected", "ecosystem"), [
    (UBUNTU_2204, OSInfo("ubuntu", "22.04", "Ubuntu 22.04.3 LTS", "jammy", ("debian",)), "Ubuntu"),
    (ALPINE_318, OSInfo("alpine", "3.18.4", "Alpine Linux v3.18"), "Alpine"),
    (AMZN2, OSInfo("amzn", "2", "Amazon Linux 2", None, ("centos", "rhel", "fedora")), "Amazon Linux"),
    (AMZN2023, OSInfo("amzn", "2023", "Amazon Linux 2023", None, ("fedora",)), "Amazon Linux"),
    (RHEL9, OSInfo("rhel", "9.2", "Red Hat Enterprise Linux 9.2 (Plow)", None, ("fedora",)), "Red Hat"),
    (ROCKY9, OSInfo("rocky", "9.2", "Rocky Linux 9.2 (Blue Onyx)", None, ("rhel", "centos", "fedora")),
     "Rocky Linux"),
    (ALMA9, OSInfo("almalinux", "9.2", "AlmaLinux 9.2 (Turquoise Kodkod)", None,
                   ("rhel", "centos", "fedora")), "AlmaLinux"),
    (CENTOS7, OSInfo("centos", "7", "CentOS Linux 7 (Core)", None, ("rhel", "fedora")), "CentOS"),
    (WOLFI, OSInfo("wolfi", "20230201", "Wolfi"), "Wolfi"),
])
def test_os_release_distributions(tmp_path: Path, text: str, expected: OSInfo, ecosystem: str) -> None:
    info = detect(tmp_path, {"/usr/lib/os-release": text}).os()
    assert info == expected
    assert ecosystem_for(info, "none") == ecosystem


def test_etc_os_release_wins_over_usr_lib(tmp_path: Path) -> None:
    info = detect(tmp_path, {"/etc/os-release": UBUNTU_2204, "/usr/lib/os-release": ALPINE_318}).os()
    assert info is not None and info.id == "ubuntu"


def test_distroless(tmp_path: Path) -> None:
    v = detect(tmp_path, {"/etc/os-release": DISTROLESS,
                          "/var/lib/dpkg/status.d/libssl3": "Package: libssl3\nVersion: 1\n"})
    info = v.os()
    assert info is not None and (info.id, info.version, info.name) == ("debian", "12", "Distroless")
    assert v.distroless


@pytest.mark.parametrize(("files", "expected"), [
    ({"/etc/alpine-release": "3.12.0\n"}, ("alpine", "3.12.0")),
    ({"/etc/system-release": "Amazon Linux release 2 (Karoo)\n"}, ("amzn", "2")),
    ({"/etc/system-release": "Amazon Linux release 2023.2.20231026 (Amazon Linux)\n"},
     ("amzn", "2023.2.20231026")),
    ({"/etc/redhat-release": "CentOS Linux release 7.9.2009 (Core)\n"}, ("centos", "7.9.2009")),
    ({"/etc/redhat-release": "Red Hat Enterprise Linux release 8.8 (Ootpa)\n"}, ("rhel", "8.8")),
    ({"/etc/redhat-release": "Rocky Linux release 8.9 (Green Obsidian)\n"}, ("rocky", "8.9")),
    ({"/etc/debian_version": "11.7\n"}, ("debian", "11")),
    ({"/etc/debian_version": "bookworm/sid\n"}, ("debian", None)),
    ({"/etc/os-release": 'NAME="Debian GNU/Linux"\nID=debian\nPRETTY_NAME="Debian GNU/Linux trixie/sid"\n',
      "/etc/debian_version": "trixie/sid\n"}, ("debian", None)),
])
def test_fallback_release_files(tmp_path: Path, files: dict[str, str],
                                expected: tuple[str, str | None]) -> None:
    info = detect(tmp_path, files).os()
    assert info is not None and (info.id, info.version) == expected


def test_nothing_known(tmp_path: Path) -> None:
    assert detect(tmp_path, {"/etc/hostname": "x\n", "/etc/os-release": "garbage\x00\xff\n"}).os() is None


def test_quoting_and_escapes() -> None:
    fields = parse_os_release('A="x \\"y\\" z"\nB=\'single\'\n# comment\nC=plain\nbad line\n')
    assert fields == {"A": 'x "y" z', "B": "single", "C": "plain"}
