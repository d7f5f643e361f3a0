"""Packages the advisory data cannot cover are reported, with counts and a reason -- never a
silent "0 vulnerabilities": an unsupported distribution, an OS that was not detected, a database
without advisories for the image's release, a version that does not parse. Checked on the matcher
and through `seawall scan rootfs` in JSON (warnings + skipped), SARIF (notifications) and the table."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from seawall.core import OSInfo, Package, Skip
from seawall.vulndb import SHIPPED_DIR, import_paths, open_db
from tests.conftest import run_cli

from .conftest import FIXTURES

FEEDS = FIXTURES / "feeds"


def _rpm(name: str, version: str, distro: str, ecosystem: str) -> Package:
    return Package(name, version, ecosystem, f"pkg:rpm/{distro}/{name}@{version}")


@pytest.fixture(scope="module")
def tracker_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Debian 11/12 tracker data + PyPA's urllib3 records + Rocky's RLSA sample."""
    tmp = tmp_path_factory.mktemp("skips")
    pypi = tmp / "pypi"
    pypi.mkdir()
    with zipfile.ZipFile(SHIPPED_DIR / "osv" / "PyPI.zip") as zf:
        for name in zf.namelist():
            doc = json.loads(zf.read(name))
            if any(a.get("package", {}).get("name") == "urllib3" for a in doc.get("affected", [])):
                (pypi / name).write_bytes(zf.read(name))
    db = tmp / "db.sqlite"
    import_paths([FIXTURES / "debian-tracker.json", pypi, FEEDS / "RLSA-2024_3671.json"], db)
    return db


def _skips(db: Path, packages: list[Package], os: OSInfo | None) -> list[str]:
    with open_db(db) as vdb:
        vdb.match(packages, os)
        return sorted(s.message() for s in vdb.skips)


def test_each_reason_with_its_count(tracker_db: Path) -> None:
    rocky8 = [_rpm(n, "1.0-1.el8", "rocky", "Rocky Linux") for n in ("bash", "glibc", "zlib")]
    assert _skips(tracker_db, rocky8, OSInfo("rocky", "8.9")) == [
        "3 rpm packages of rocky 8.9 not analyzed: the vulnerability database holds no advisories for "
        "Rocky Linux:8; `seawall db update` fetches them"]
    centos = [_rpm(n, "1.0-1.el7", "centos", "CentOS") for n in ("bash", "glibc")]
    assert _skips(tracker_db, centos, OSInfo("centos", "7")) == [
        "2 rpm packages of centos 7 not analyzed: no advisory feed for this distribution"]
    debs = [Package("libc6", "2.36-9", "Debian", "pkg:deb/debian/libc6@2.36-9", source_name="glibc")]
    assert _skips(tracker_db, debs, None) == [
        "deb packages not analyzed: the image's operating system was not detected (no os-release), "
        "so no distribution feed applies"]
    assert _skips(tracker_db, debs, OSInfo("debian", None)) == [
        "deb packages of debian not analyzed: the OS release is not known (no VERSION_ID), so no "
        "distribution feed applies"]
    npm = [Package("lodash", "4.17.20", "npm", "pkg:npm/lodash@4.17.20")] * 4
    assert _skips(tracker_db, npm, None) == [
        "4 npm packages not analyzed: the vulnerability database holds no advisories for npm; "
        "`seawall db update` fetches them"]
    bad = [Package("urllib3", "not-a-version!", "PyPI", "pkg:pypi/urllib3@not-a-version!")]
    assert _skips(tracker_db, bad, None) == [
        "PyPI packages not analyzed: their version does not parse as a pep440 version"]
    # covered packages are no skip, whether affected or not
    fine = [Package("urllib3", "2.2.3", "PyPI", "pkg:pypi/urllib3@2.2.3"),
            _rpm("ruby", "3.3.0-1.module+el9.3.0+1+abcdef01", "rocky", "Rocky Linux")]
    assert _skips(tracker_db, fine, OSInfo("rocky", "9.3")) == []


def test_skip_values_are_typed() -> None:
    from seawall.vulndb.match import Query, query_for

    q = query_for(_rpm("bash", "5.1-2.el9", "rocky", "Rocky Linux"), OSInfo("rocky", "9.3"), known=set())
    assert isinstance(q, Skip) and not isinstance(q, Query)
    assert (q.subject, q.category) == ("rpm packages of rocky 9.3", "skipped")


DPKG_STATUS = """Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u1

Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2
"""


def _rootfs(root: Path, os_release: str | None) -> Path:
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(DPKG_STATUS)
    if os_release is not None:
        (root / "etc").mkdir()
        (root / "etc/os-release").write_text(os_release)
    site = root / "usr/lib/python3/dist-packages/urllib3-1.26.4.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.4\n")
    return root


@pytest.mark.parametrize("os_release, expected", [
    ('ID=kali\nVERSION_ID="2024.1"\n',
     "3 deb packages of kali 2024.1 not analyzed: no advisory feed for this distribution"),
    (None, "3 deb packages not analyzed: the image's operating system was not detected"),
    ('ID=debian\nVERSION_ID="11"\n', "3 deb packages of debian 11 not analyzed"),
])
def test_scan_reports_skips_in_every_format(tmp_path: Path, tracker_db: Path, os_release: str | None,
                                            expected: str) -> None:
    root = _rootfs(tmp_path / "root", os_release)
    base = ["scan", "rootfs", str(root), "--db", str(tracker_db), "--scanners", "vuln"]
    if os_release and "debian" in os_release:
        # Debian 11 data is in the tracker sample: the packages are matched, nothing skipped
        res = run_cli(*base, "--format", "json")
        assert res.returncode == 0, res.stderr
        doc = json.loads(res.stdout)
        assert "skipped" not in doc
        assert {f["rule"] for f in doc["findings"] if f["package"]["name"] == "libc6"} == {"CVE-2010-4756"}
        return
    res = run_cli(*base, "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert any(w.startswith(expected) for w in doc["warnings"]), doc["warnings"]
    assert [s["count"] for s in doc["skipped"]] == [3]
    assert any(f["package"]["name"] == "urllib3" for f in doc["findings"])  # the rest is still matched
    assert expected in res.stderr  # and said on the terminal
    sarif = json.loads(run_cli(*base, "--format", "sarif").stdout)
    notes = [n["message"]["text"] for n in sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]]
    assert any(n.startswith(expected) for n in notes)
    table = run_cli(*base, "--format", "table", "--quiet")
    assert expected.split(" not analyzed")[0] in table.stdout


def test_go_main_module_without_a_version(shipped_db: Path) -> None:
    devel = [Package("example.com/demo-server", "(devel)", "Go", "pkg:golang/example.com/demo-server")]
    assert _skips(shipped_db, devel, None) == [
        "Go packages not analyzed: no version recorded (Go's \"(devel)\": a main module built from a "
        "source tree)"]
