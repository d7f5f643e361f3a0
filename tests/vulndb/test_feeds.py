"""Each distribution feed on a real published sample (tests/vulndb/fixtures/feeds, README there),
imported the way `seawall db import` does and matched the way a scan does: the right advisory,
the right fix, nothing for the fixed version, and nothing across releases or build streams."""

from __future__ import annotations

import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

from seawall.core import OSInfo, Package, Severity
from seawall.vulndb import SHIPPED_DIR, import_feeds, import_paths, open_db
from seawall.vulndb.importers import detect

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
CHAINGUARD_FILES = ("wolfi-security.json", "chainguard-security.json", "CGA-224q-ccj5-2p53.json")


def _needs(*names: str) -> None:
    missing = [n for n in names if not (FEEDS / n).is_file()]
    assert not missing, f"sample {', '.join(missing)} missing from tests/vulndb/fixtures/feeds"


def _db(tmp_path: Path, *names: str) -> Path:
    _needs(*names)
    db = tmp_path / "db.sqlite"
    import_paths([FEEDS / n for n in names], db)
    return db


def _match(db: Path, packages: list[Package], os: OSInfo | None) -> dict[tuple[str, str], object]:
    with open_db(db) as vdb:
        return {(f.package.name, f.rule): f for f in vdb.match(packages, os)}


def _apk(name: str, version: str, distro: str, origin: str | None = None) -> Package:
    return Package(name, version, distro.capitalize(), f"pkg:apk/{distro}/{name}@{version}",
                   source_name=origin or name)


def _rpm(name: str, version: str, distro: str, ecosystem: str, source: str | None = None) -> Package:
    return Package(name, version, ecosystem, f"pkg:rpm/{distro}/{name}@{version}", source_name=source)


def test_every_sample_is_recognised_by_content(tmp_path: Path) -> None:
    kinds = {
        "wolfi-security.json": "secdb", "chainguard-security.json": "secdb", "CGA-224q-ccj5-2p53.json": "osv",
        "bottlerocket-updateinfo.xml.gz": "bottlerocket", "RLSA-2024_3671.json": "osv",
        "ALSA-2024_2433.json": "osv", "rhsa-2024_0010.json": "csaf", "USN-6737-1.json": "osv",
        "DSA-3029-1.json": "osv", "nvd-api-2.0-page.json": "nvd", "CVE-2023-45803.json": "cve",
        "known_exploited_vulnerabilities.json": "kev", "kev-2022-excerpt.json": "kev",
        "epss_scores.csv": "epss",
    }
    for name, kind in kinds.items():
        if not (FEEDS / name).is_file():
            continue
        renamed = tmp_path / f"{len(name)}.data"  # the name says nothing
        shutil.copy(FEEDS / name, renamed)
        assert detect(renamed).kind == kind, name


def test_wolfi_and_chainguard_secdb(tmp_path: Path) -> None:
    db = _db(tmp_path, "wolfi-security.json", "chainguard-security.json")
    with open_db(db) as vdb:
        assert {f.name for f in vdb.feeds()} == {"wolfi-secdb", "chainguard-secdb"}
    wolfi = OSInfo("wolfi", "20230201")
    got = _match(db, [_apk("busybox", "1.35.0-r2", "wolfi"), _apk("coreutils", "9.1-r0", "wolfi")], wolfi)
    # busybox: "1.35.0-r3": [CVE-2022-28391, CVE-2022-30065]; coreutils: "0" = not affected
    assert set(got) == {("busybox", "CVE-2022-28391"), ("busybox", "CVE-2022-30065")}
    assert got[("busybox", "CVE-2022-28391")].remediation == "Upgrade busybox to 1.35.0-r3"
    assert _match(db, [_apk("busybox", "1.35.0-r3", "wolfi")], wolfi) == {}
    # Chainguard's database applies to Chainguard images only, Wolfi's to Wolfi only
    grafana = _apk("grafana", "7.5.18-r0", "chainguard")
    cg = _match(db, [grafana], OSInfo("chainguard", "20230214"))
    assert {rule for _, rule in cg} == {"CVE-2021-36156", "CVE-2022-31130", "CVE-2022-31107",
                                        "CVE-2022-39201", "CVE-2022-31123"}
    assert _match(db, [grafana], wolfi) == {}


def test_chainguard_osv_bundles_its_upstream_ids(tmp_path: Path) -> None:
    db = _db(tmp_path, "CGA-224q-ccj5-2p53.json")
    got = _match(db, [_apk("haproxy-2.8", "2.8.17-r0", "chainguard")], OSInfo("chainguard", "20250101"))
    finding = got[("haproxy-2.8", "CVE-2025-32464")]
    assert finding.vulnerability.aliases == ["GHSA-frg5-h47x-75j9", "CGA-224q-ccj5-2p53"]
    assert finding.severity is Severity.CRITICAL  # CVSS:3.1 .../C:H/I:H/A:N = 9.1
    assert _match(db, [_apk("haproxy-2.8", "2.8.18-r0", "chainguard")], OSInfo("chainguard", "1")) == {}


def test_bottlerocket_updateinfo(tmp_path: Path) -> None:
    db = _db(tmp_path, "bottlerocket-updateinfo.xml.gz")
    br = OSInfo("bottlerocket", "1.19.0")
    glibc = _rpm("glibc", "1:2.42-1.1770000000.aaaaaaaa.br1", "bottlerocket", "Bottlerocket")
    kernel = _rpm("kernel-6.1", "6.1.140-1.1749663821.e27d1b03.br1", "bottlerocket", "Bottlerocket")
    old_kernel = _rpm("kernel-6.1", "6.1.124-1.1737763153.9fde645.br1", "bottlerocket", "Bottlerocket")
    got = _match(db, [glibc, kernel, old_kernel], br)
    assert set(got) == {("glibc", "CVE-2025-15281"), ("kernel-6.1", "CVE-2024-43840")}
    assert got[("glibc", "CVE-2025-15281")].vulnerability.aliases == ["BRSA-kdg8bd1th2gb"]
    assert got[("glibc", "CVE-2025-15281")].severity is Severity.MEDIUM  # the advisory's own rating
    assert got[("glibc", "CVE-2025-15281")].remediation == "Upgrade glibc to 1:2.43-1.1773716061.e2e9d7a9.br1"
    assert got[("kernel-6.1", "CVE-2024-43840")].package.version == old_kernel.version


def test_rocky_and_alma_osv(tmp_path: Path) -> None:
    db = _db(tmp_path, "RLSA-2024_3671.json", "ALSA-2024_2433.json")
    rocky = OSInfo("rocky", "9.3")
    modular = _rpm("ruby", "3.3.0-1.module+el9.3.0+12345+abcdef01", "rocky", "Rocky Linux")
    plain = _rpm("ruby", "3.0.4-160.el9_0", "rocky", "Rocky Linux")
    got = _match(db, [modular, plain], rocky)
    # one bundle of three CVEs, named by the RLSA; ruby 3.0 from the base repo is another build stream
    assert list(got) == [("ruby", "RLSA-2024:3671")]
    finding = got[("ruby", "RLSA-2024:3671")]
    assert finding.vulnerability.aliases == ["CVE-2024-27280", "CVE-2024-27281", "CVE-2024-27282"]
    assert finding.severity is Severity.MEDIUM  # "Moderate: ruby:3.3 security ..." (Red Hat's impact)
    assert finding.vulnerability.fixed_versions == ["0:3.3.1-2.module+el9.4.0+20787+4c237fd3"]
    assert _match(db, [modular], OSInfo("rocky", "8.9")) == {}  # a Rocky 9 advisory is not for Rocky 8
    alma = _match(db, [_rpm("avahi", "0.8-12.el9", "almalinux", "AlmaLinux")], OSInfo("almalinux", "9.2"))
    assert [rule for _, rule in alma] == ["ALSA-2024:2433"]
    fixed = _rpm("avahi", "0.8-20.el9", "almalinux", "AlmaLinux")
    assert _match(db, [fixed], OSInfo("almalinux", "9.4")) == {}


def test_red_hat_csaf_advisories(tmp_path: Path) -> None:
    db = _db(tmp_path, "rhsa-2024_0010.json", "rhsa-2024_6163.json")
    with open_db(db) as vdb:
        ecosystems = vdb.ecosystems()
    assert "Red Hat:9" in ecosystems  # AppStream-9.3.0.Z.MAIN, cpe:/a:redhat:enterprise_linux:9::appstream
    rhel = OSInfo("rhel", "9.3")
    server = _rpm("tigervnc-server-minimal", "1.13.1-3.el9_3.2", "redhat", "Red Hat", source="tigervnc")
    fixed = _rpm("tigervnc-server-minimal", "1.13.1-3.el9_3.3", "redhat", "Red Hat", source="tigervnc")
    got = _match(db, [server, fixed], rhel)
    assert list(got) == [("tigervnc-server-minimal", "RHSA-2024:0010")]
    finding = got[("tigervnc-server-minimal", "RHSA-2024:0010")]
    assert finding.vulnerability.aliases == ["CVE-2023-5367", "CVE-2023-6377", "CVE-2023-6478"]
    assert finding.remediation == "Upgrade tigervnc-server-minimal to 1.13.1-3.el9_3.3"
    # RHSA-2024:6163 fixes python3.9 only for the 9.4 EUS stream: not matched on a plain RHEL 9 image
    python = _rpm("python3", "3.9.18-3.el9_4.1", "redhat", "Red Hat", source="python3.9")
    assert _match(db, [python], OSInfo("rhel", "9.4")) == {}


def test_ubuntu_usn_named_by_its_cve(tmp_path: Path) -> None:
    db = _db(tmp_path, "USN-6737-1.json", "UBUNTU-CVE-2014-2901.json")
    with open_db(db) as vdb:
        assert sum(f.advisories for f in vdb.feeds()) == 1  # UBUNTU-CVE-2014-2901 is withdrawn
    libc = Package("libc6", "2.35-0ubuntu3.6", "Ubuntu", "pkg:deb/ubuntu/libc6@2.35-0ubuntu3.6",
                   source_name="glibc", source_version="2.35-0ubuntu3.6")
    got = _match(db, [libc], OSInfo("ubuntu", "22.04", codename="jammy"))
    finding = got[("libc6", "CVE-2024-2961")]
    assert finding.vulnerability.aliases == ["UBUNTU-CVE-2024-2961", "USN-6737-1"]
    assert finding.vulnerability.cvss_vector == "CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:H"
    assert finding.severity is Severity.HIGH
    assert finding.remediation == "Upgrade libc6 (source package glibc) to 2.35-0ubuntu3.7"
    fixed = Package("libc6", "2.35-0ubuntu3.7", "Ubuntu", "pkg:deb/ubuntu/libc6", source_name="glibc")
    assert _match(db, [fixed], OSInfo("ubuntu", "22.04")) == {}
    assert _match(db, [libc], OSInfo("ubuntu", "20.04")) == {}  # the excerpt holds 22.04 only


def test_debian_osv_dsa(tmp_path: Path) -> None:
    db = _db(tmp_path, "DSA-3029-1.json")
    nginx = Package("nginx-full", "1.2.1-2.2+wheezy2", "Debian", "pkg:deb/debian/nginx-full",
                    source_name="nginx", source_version="1.2.1-2.2+wheezy2")
    got = _match(db, [nginx], OSInfo("debian", "7"))
    assert list(got) == [("nginx-full", "CVE-2014-3616")]
    assert got[("nginx-full", "CVE-2014-3616")].vulnerability.aliases == ["DSA-3029-1"]


def test_suse_ecosystems_by_service_pack(tmp_path: Path) -> None:
    """No real SUSE OSV record is available offline (see the fixtures README): these records use
    OSV's shape with SUSE's ecosystem names -- the product *or module* that ships a package, with
    a support-phase suffix -- to show which ones a SLES 15 SP5 image reads."""
    osv = tmp_path / "suse"
    osv.mkdir()
    for i, eco in enumerate(("SUSE:Linux Enterprise Module for Basesystem 15 SP5",
                             "SUSE:Linux Enterprise Server 15 SP5-LTSS",
                             "SUSE:Linux Enterprise Server 15 SP4", "openSUSE:Leap 15.5")):
        (osv / f"SUSE-SU-2024:000{i}-1.json").write_text(json.dumps({
            "id": f"SUSE-SU-2024:000{i}-1", "modified": "2024-01-01T00:00:00Z",
            "upstream": [f"CVE-2024-000{i}"],
            "affected": [{"package": {"ecosystem": eco, "name": "libopenssl3"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"},
                                                                      {"fixed": "3.0.8-150500.5.20.1"}]}]}]}))
    db = tmp_path / "db.sqlite"
    import_paths([osv], db)
    pkg = _rpm("libopenssl3", "3.0.8-150500.5.14.1", "suse", "SUSE", source="openssl-3")
    sp5 = {rule for _, rule in _match(db, [pkg], OSInfo("sles", "15.5"))}
    assert sp5 == {"CVE-2024-0000", "CVE-2024-0001"}
    assert {rule for _, rule in _match(db, [pkg], OSInfo("sles", "15.4"))} == {"CVE-2024-0002"}
    leap = _rpm("libopenssl3", "3.0.8-150500.5.14.1", "opensuse", "openSUSE")
    assert {rule for _, rule in _match(db, [leap], OSInfo("opensuse-leap", "15.5"))} == {"CVE-2024-0003"}


def test_nvd_and_cve_records_give_severity_only(tmp_path: Path) -> None:
    db = _db(tmp_path, "nvd-api-2.0-page.json", "CVE-2023-45803.json")
    doc = json.loads((FEEDS / "nvd-api-2.0-page.json").read_text())
    scored = [v["cve"]["id"] for v in doc["vulnerabilities"] if v["cve"].get("metrics")]
    conn = sqlite3.connect(db)
    rows = dict(conn.execute("SELECT id, cvss FROM advisories WHERE feed = 'nvd:nvd-api-2.0-page'"))
    assert set(rows) == set(scored) and len(rows) == 35  # 3 records carry no metrics yet
    # NVD's own (Primary) vector before a CNA's (Secondary) one
    assert rows["CVE-2023-45109"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"
    assert rows["CVE-2023-30781"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:L"  # Secondary only
    assert conn.execute("SELECT cvss FROM advisories WHERE id = 'CVE-2023-45803'").fetchone() == (
        "CVSS:3.1/AV:A/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N",)  # the CNA's (GitHub) metrics
    assert conn.execute("SELECT count(*) FROM affected").fetchone() == (0,)
    conn.close()


def _urllib3_records(dest: Path) -> Path:
    """The PyPA records for urllib3 from the shipped snapshot (real data)."""
    dest.mkdir()
    with zipfile.ZipFile(SHIPPED_DIR / "osv" / "PyPI.zip") as zf:
        for name in zf.namelist():
            doc = json.loads(zf.read(name))
            if any(a.get("package", {}).get("name") == "urllib3" for a in doc.get("affected", [])):
                (dest / name).write_bytes(zf.read(name))
    return dest


def test_severity_kev_and_epss_reach_the_findings(tmp_path: Path) -> None:
    urllib3_dir = _urllib3_records(tmp_path / "pypi")
    # Composed for the join (the real KEV and EPSS excerpts list other CVEs): the formats
    # themselves are tested on the real files below.
    kev = tmp_path / "kev.json"
    kev.write_text(json.dumps({"title": "CISA Catalog of Known Exploited Vulnerabilities",
                               "catalogVersion": "2099.01.01", "count": 1, "vulnerabilities": [
                                   {"cveID": "CVE-2023-45803", "dateAdded": "2099-01-01",
                                    "dueDate": "2099-01-22", "knownRansomwareCampaignUse": "Unknown",
                                    "vulnerabilityName": "composed"}]}))
    epss = tmp_path / "epss.csv"
    epss.write_text("#model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000\ncve,epss,percentile\n"
                    "CVE-2023-45803,0.00123,0.45678\n")
    db = tmp_path / "db.sqlite"
    base = import_feeds([urllib3_dir], db)
    assert base.stats[0].name == "osv:PyPI"
    pkg = Package("urllib3", "1.26.4", "PyPI", "pkg:pypi/urllib3@1.26.4")
    with open_db(db) as vdb:
        before = {f.rule: f for f in vdb.match([pkg], None)}
    # PYSEC-2023-212 carries its own CVSS vector: the advisory's severity comes first
    assert before["CVE-2023-45803"].severity is Severity.MEDIUM
    assert before["CVE-2023-45803"].vulnerability.severity_source == "osv:PyPI"
    unknown = [rule for rule, f in before.items() if f.severity is Severity.UNKNOWN]
    assert unknown  # most PyPA records carry no CVSS: the CVE record below gives none of these one
    import_paths([FEEDS / "CVE-2023-45803.json", kev, epss], db)
    with open_db(db) as vdb:
        after = {f.rule: f for f in vdb.match([pkg], None)}
    v = after["CVE-2023-45803"].vulnerability
    assert after["CVE-2023-45803"].severity is Severity.MEDIUM
    assert (v.severity_source, v.cvss_vector, v.cvss_score) == (
        "osv:PyPI", "CVSS:3.1/AV:A/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N", 4.2)
    assert [rule for rule, f in after.items() if f.severity is Severity.UNKNOWN] == unknown
    assert v.kev == {"cves": ["CVE-2023-45803"], "date_added": "2099-01-01", "due_date": "2099-01-22",
                     "ransomware": "Unknown"}
    assert (after["CVE-2023-45803"].evidence or "").endswith("; known exploited (CISA KEV, added 2099-01-01)")
    assert (v.epss, v.epss_percentile) == (0.00123, 0.45678)
    others = [f for rule, f in after.items() if rule != "CVE-2023-45803"]
    assert others and all(f.vulnerability.kev is None and f.vulnerability.epss is None for f in others)
    assert v.to_dict()["epss"] == {"score": 0.00123, "percentile": 0.45678}


def test_kev_and_epss_real_files(tmp_path: Path) -> None:
    db = _db(tmp_path, "known_exploited_vulnerabilities.json", "epss_scores.csv")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT cve, date_added, due_date, ransomware FROM kev ORDER BY cve").fetchall() == [
        ("CVE-2024-53704", "2025-02-18", "2025-03-11", "Unknown"),
        ("CVE-2024-57727", "2025-02-13", "2025-03-06", "Unknown"),
        ("CVE-2025-0108", "2025-02-18", "2025-03-11", "Unknown")]
    assert conn.execute("SELECT count(*), max(score) FROM epss").fetchone() == (5, 0.91963)
    assert conn.execute("SELECT data_date FROM feeds WHERE name = 'epss'").fetchone() == (
        "2025-02-20T00:00:00+0000",)
    conn.close()
    (tmp_path / "older").mkdir()
    conn = sqlite3.connect(_db(tmp_path / "older", "kev-2022-excerpt.json"))
    assert conn.execute("SELECT cve, ransomware FROM kev ORDER BY cve").fetchall() == [
        ("CVE-2014-0160", None), ("CVE-2022-1388", None)]  # the 2022 catalog had no ransomware field
    conn.close()


def test_db_import_of_a_directory_finds_every_feed_by_content(tmp_path: Path) -> None:
    """`seawall db import DIR`: a directory of Alpine secdb files used to fail as 'not an OSV record'."""
    mixed = tmp_path / "feeds"
    shutil.copytree(SHIPPED_DIR / "alpine", mixed / "alpine")  # v3_N/{main,community}.json
    for name in ("bottlerocket-updateinfo.xml.gz", "RLSA-2024_3671.json", "ALSA-2024_2433.json",
                 "epss_scores.csv", "README.md"):
        shutil.copy(FEEDS / name, mixed / name)
    result = import_feeds([mixed], tmp_path / "db.sqlite")
    names = {s.name for s in result.stats}
    assert {"alpine-secdb:v3.11/main", "alpine-secdb:v3.3/community", "bottlerocket", "epss"} <= names
    assert sum(1 for n in names if n.startswith("alpine-secdb:")) == 18
    osv = [s for s in result.stats if s.name.startswith("osv:")]
    assert [s.advisories for s in osv] == [2]  # the two OSV files: one feed of single records
    assert [p.name for p in result.ignored] == ["README.md"]
