"""Every importer on a real or format-exact file, matched the way a scan would."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pytest

from seawall.core import OSInfo, Package, Severity
from seawall.vulndb import SHIPPED_DIR, import_paths, open_db
from seawall.vulndb.importers import detect

from .conftest import FIXTURES

SECDB = SHIPPED_DIR / "alpine"


def _deb(name: str, version: str, source: str, source_version: str | None = None) -> Package:
    return Package(name, version, "Debian", f"pkg:deb/debian/{name}@{version}", source_name=source,
                   source_version=source_version or version)


def test_detect_by_content_not_name(tmp_path: Path) -> None:
    renamed = tmp_path / "feed.bin"
    shutil.copy(FIXTURES / "alas2-updateinfo.xml", renamed)
    assert detect(renamed).kind == "alas"
    copy = tmp_path / "x.data"
    shutil.copy(SECDB / "v3_11" / "main.json", copy)
    assert detect(copy).kind == "secdb"
    assert detect(FIXTURES / "debian-tracker.json").kind == "debian-tracker"
    assert detect(SHIPPED_DIR / "osv" / "Go.zip").kind == "osv"


def test_alpine_secdb_real_file_by_branch(tmp_path: Path) -> None:
    db_path = tmp_path / "db.sqlite"
    stats = import_paths([SECDB / "v3_11" / "main.json", SECDB / "v3_10" / "main.json"], db_path)
    assert {s.name for s in stats} == {"alpine-secdb:v3.11/main", "alpine-secdb:v3.10/main"}
    doc = json.loads((SECDB / "v3_11" / "main.json").read_text())
    openssl = next(p["pkg"] for p in doc["packages"] if p["pkg"]["name"] == "openssl")
    fixed_in = {cve: ver for ver, cves in openssl["secfixes"].items() for cve in cves}
    assert fixed_in["CVE-2019-1547"] == "1.1.1d-r1"

    def rules(version: str, os_version: str, origin: str = "openssl") -> set[str]:
        pkg = Package("libcrypto1.1", version, "Alpine", f"pkg:apk/alpine/libcrypto1.1@{version}",
                      source_name=origin)
        with open_db(db_path) as db:
            return {f.rule for f in db.match([pkg], OSInfo("alpine", os_version))}

    old = rules("1.1.1c-r0", "3.11.6")
    assert "CVE-2019-1547" in old  # matched through the apk origin, not the binary name
    expected = {cve for cve, ver in fixed_in.items() if ver != "0"
                and _apk_less("1.1.1c-r0", ver)}
    assert old == expected
    assert "CVE-2019-1547" in rules("1.1.1d-r0", "3.11.6")
    assert "CVE-2019-1547" not in rules("1.1.1d-r1", "3.11.6")
    assert rules("1.1.1c-r0", "3.12.0") == set()  # no data for that branch: no guesses


def _apk_less(a: str, b: str) -> bool:
    from seawall.vulndb.versions import compare, scheme_named

    return compare(scheme_named("apk"), a, b) < 0


def test_debian_tracker_fixture(tmp_path: Path) -> None:
    db_path = tmp_path / "db.sqlite"
    import_paths([FIXTURES / "debian-tracker.json"], db_path)
    bookworm = OSInfo("debian", "12", codename="bookworm")
    packages = [
        _deb("libssl3", "3.0.11-1~deb12u2", "openssl"),
        _deb("libc6", "2.36-9+deb12u1", "glibc"),
        _deb("zlib1g", "1:1.2.13.dfsg-1", "zlib"),
    ]
    with open_db(db_path) as db:
        findings = db.match(packages, bookworm)
    got = {(f.package.name, f.rule) for f in findings}
    assert got == {
        ("libssl3", "CVE-2023-5678"),     # fixed in 3.0.13-1~deb12u1
        ("libssl3", "CVE-2010-0928"),     # open: no fix
        ("libc6", "CVE-2023-4911"),       # fixed in 2.36-9+deb12u3
        ("libc6", "CVE-2010-4756"),       # open, unimportant
    }  # CVE-2023-0286 fixed before 3.0.11; zlib "0" = not affected; undetermined skipped
    by_rule = {f.rule: f for f in findings}
    assert by_rule["CVE-2023-5678"].severity is Severity.LOW
    assert by_rule["CVE-2023-4911"].remediation == "Upgrade libc6 (source package glibc) to 2.36-9+deb12u3"
    assert by_rule["CVE-2023-4911"].vulnerability.fixed_versions == ["2.36-9+deb12u3"]
    # same source on bullseye: the bullseye entries apply, CVE-2023-4911 does not (fixed_version 0)
    with open_db(db_path) as db:
        bullseye = db.match([_deb("libc6", "2.31-13+deb11u5", "glibc")], OSInfo("debian", "11"))
    assert {f.rule for f in bullseye} == {"CVE-2010-4756"}
    # without an OS release, distro packages are not guessed at: a skip with the count
    with open_db(db_path) as db:
        assert db.match(packages, None) == []
        assert db.stats.no_os_release == 3
        assert [s.message() for s in db.skips] == [
            "3 deb packages not analyzed: the image's operating system was not detected (no os-release), "
            "so no distribution feed applies"]


def test_alas_fixture_plain_and_gzip(tmp_path: Path) -> None:
    gz = tmp_path / "updateinfo.xml.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "alas2023-updateinfo.xml").read_bytes()))
    db_path = tmp_path / "db.sqlite"
    stats = import_paths([FIXTURES / "alas2-updateinfo.xml", gz], db_path)
    assert {s.name: s.advisories for s in stats} == {"alas:2": 2, "alas:2023": 1}  # bugfix skipped
    rpm = [Package("curl", "7.55.1-8.amzn2", "rpm", "pkg:rpm/amzn/curl@7.55.1-8.amzn2"),
           Package("openssl-libs", "1:1.0.2k-16.amzn2.0.3", "rpm", "pkg:rpm/amzn/openssl-libs"),
           Package("openssl", "1:1.0.2k-16.amzn2.0.2", "rpm", "pkg:rpm/amzn/openssl"),
           Package("curl-minimal", "8.0.1-1.amzn2023", "rpm", "pkg:rpm/amzn/curl-minimal")]
    with open_db(db_path) as db:
        al2 = db.match(rpm, OSInfo("amzn", "2"))
        al2023 = db.match(rpm, OSInfo("amzn", "2023"))
    assert {(f.package.name, f.rule) for f in al2} == {("curl", "ALAS2-2018-951"),
                                                        ("openssl", "CVE-2019-1559")}
    curl = next(f for f in al2 if f.package.name == "curl")
    assert set(curl.vulnerability.aliases) == {"CVE-2017-8816", "CVE-2017-8817"}
    assert curl.severity is Severity.HIGH  # ALAS "important"
    assert curl.remediation == "Upgrade curl to 7.55.1-9.amzn2.0.1"
    assert {(f.package.name, f.rule) for f in al2023} == {("curl-minimal", "CVE-2023-28319")}


def test_osv_directory_and_debian_osv_ecosystem(tmp_path: Path) -> None:
    osv_dir = tmp_path / "osv"
    osv_dir.mkdir()
    with zipfile.ZipFile(SHIPPED_DIR / "osv" / "PyPI.zip") as zf:
        names = [n for n in zf.namelist() if n.startswith("PYSEC-2021-")][:50]
        for n in names:
            (osv_dir / n).write_bytes(zf.read(n))
    # an OSV record for a distro ecosystem, as OSV publishes Debian DSAs
    (osv_dir / "DSA-5343-1.json").write_text(json.dumps({
        "id": "DSA-5343-1", "modified": "2023-02-08T00:00:00Z", "published": "2023-02-07T00:00:00Z",
        "summary": "openssl - security update", "aliases": [], "related": ["CVE-2023-0286"],
        "affected": [{"package": {"ecosystem": "Debian:11", "name": "openssl"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [
                          {"introduced": "0"}, {"fixed": "1.1.1n-0+deb11u4"}]}]}]}))
    live = sum(1 for f in osv_dir.iterdir() if not json.loads(f.read_text()).get("withdrawn"))
    db_path = tmp_path / "db.sqlite"
    stats = import_paths([osv_dir], db_path)
    assert stats[0].advisories == live > 40
    with open_db(db_path) as db:
        findings = db.match([_deb("libssl1.1", "1.1.1n-0+deb11u3", "openssl")], OSInfo("debian", "11.6"))
    # a DSA naming one CVE is that CVE's finding (the DSA id stays as an alias)
    assert [(f.rule, f.vulnerability.aliases) for f in findings] == [("CVE-2023-0286", ["DSA-5343-1"])]


def test_last_affected_limit_versions_and_git(tmp_path: Path) -> None:
    """OSV semantics on crafted records: several pairs, last_affected, limit, versions, GIT."""
    recs = [
        {"id": "TEST-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "demo"}, "ranges": [
            {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.2"},
                                             {"introduced": "2.0"}, {"last_affected": "2.3"}]}]}]},
        {"id": "TEST-2", "affected": [{"package": {"ecosystem": "PyPI", "name": "demo"}, "ranges": [
            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"limit": "3.0"}]}]}]},
        {"id": "TEST-3", "affected": [{"package": {"ecosystem": "PyPI", "name": "demo"}, "ranges": [
            {"type": "GIT", "repo": "https://example.org/demo", "events": [
                {"introduced": "0"}, {"fixed": "deadbeef"}]}], "versions": ["0.9", "2.5"]}]},
        {"id": "TEST-4", "withdrawn": "2024-01-01T00:00:00Z", "affected": [
            {"package": {"ecosystem": "PyPI", "name": "demo"},
             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]},
        {"id": "TEST-5", "affected": [{"package": {"ecosystem": "npm", "name": "@scope/Pkg"}, "ranges": [
            {"type": "SEMVER", "events": [{"introduced": "1.0.0-rc.1"}, {"fixed": "1.0.1"}]}]}]},
    ]
    feed = tmp_path / "feed"
    feed.mkdir()
    for rec in recs:
        (feed / f"{rec['id']}.json").write_text(json.dumps(rec))
    db_path = tmp_path / "db.sqlite"
    import_paths([feed], db_path)
    expect = {"0.9": {"TEST-2", "TEST-3"}, "1.0": {"TEST-1", "TEST-2"}, "1.2": {"TEST-2"},
              "2.0": {"TEST-1", "TEST-2"}, "2.3": {"TEST-1", "TEST-2"}, "2.3.1": {"TEST-2"},
              "2.5": {"TEST-2", "TEST-3"}, "3.0": set(), "4.0": set()}
    with open_db(db_path) as db:
        for version, rules in expect.items():
            got = {f.rule for f in db.match([Package("Demo", version, "PyPI", "")], None)}
            assert got == rules, version
        npm = db.match([Package("@scope/pkg", "1.0.0", "npm", "pkg:npm/%40scope/pkg@1.0.0"),
                        Package("@scope/pkg", "1.0.0-beta", "npm", "")], None)
    assert [(f.package.version, f.rule) for f in npm] == [("1.0.0", "TEST-5")]


def test_schema_rows_and_index(shipped_db: Path) -> None:
    conn = sqlite3.connect(shipped_db)
    plan = " ".join(r[-1] for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM affected WHERE ecosystem = 'PyPI' AND name = 'django'"))
    assert "affected_pkg" in plan
    feeds = {r[0]: r[1] for r in conn.execute("SELECT name, advisories FROM feeds")}
    assert feeds["osv:PyPI"] > 2600 and feeds["osv:Go"] > 4200
    aliases = conn.execute("SELECT count(*) FROM aliases WHERE alias LIKE 'CVE-%'").fetchone()[0]
    assert aliases > 5000
    conn.close()


@pytest.mark.parametrize("rel", ["v3_3/community.json"])
def test_empty_secdb_is_valid(tmp_path: Path, rel: str) -> None:
    stats = import_paths([SECDB / rel], tmp_path / "db.sqlite")
    assert stats[0].advisories == 0


def test_which_rows_a_package_reads() -> None:
    from seawall.core import Skip
    from seawall.vulndb.match import Query, query_for

    deb = _deb("libc6", "2.36-9+deb12u1", "glibc")
    q = query_for(deb, OSInfo("debian", "12"))
    assert isinstance(q, Query) and q.ecosystems == ["Debian:12"] and q.name == "glibc"
    q = query_for(deb, OSInfo("debian", None, codename="trixie"))
    assert isinstance(q, Query) and q.ecosystems == ["Debian:13"]
    q = query_for(Package("libc6", "2.35-0ubuntu3", "Ubuntu", "pkg:deb/ubuntu/libc6", source_name="glibc"),
                  OSInfo("ubuntu", "22.04"))
    assert isinstance(q, Query) and q.ecosystems == ["Ubuntu:22.04:LTS", "Ubuntu:22.04"]
    apk = Package("busybox-binsh", "1.36.1-r5", "Alpine", "pkg:apk/alpine/busybox-binsh",
                  source_name="busybox")
    q = query_for(apk, OSInfo("alpine", "3.19.1"))
    assert isinstance(q, Query) and q.ecosystems == ["Alpine:v3.19"] and q.name == "busybox"
    q = query_for(Package("glibc", "2.34-1", "Wolfi", "pkg:apk/wolfi/glibc"), OSInfo("wolfi", "20230201"))
    assert isinstance(q, Query) and q.ecosystems == ["Wolfi"]
    rhel = Package("bash", "5.1-1.el9", "Red Hat", "pkg:rpm/redhat/bash")
    q = query_for(rhel, OSInfo("rhel", "9.3"))
    assert isinstance(q, Query) and q.ecosystems == ["Red Hat:9"] and q.name == "bash"
    # the database decides: no Red Hat data in it -> a skip that says so, not a silent miss
    q = query_for(rhel, OSInfo("rhel", "9.3"), known={"PyPI", "Debian:12"})
    assert isinstance(q, Skip) and q.subject == "rpm packages of rhel 9.3" and "Red Hat:9" in q.reason
    q = query_for(Package("bash", "5.1-1.el7", "CentOS", "pkg:rpm/centos/bash"), OSInfo("centos", "7"))
    assert q == Skip("rpm packages of centos 7", "no advisory feed for this distribution",
                     category="unsupported")
    q = query_for(deb, None)
    assert isinstance(q, Skip) and q.subject == "deb packages" and "not detected" in q.reason
    mvn = Package("log4j-core", "2.14.1", "Maven", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1")
    q = query_for(mvn, None)
    assert isinstance(q, Query) and q.name == "org.apache.logging.log4j:log4j-core"


def test_tracker_stream_reader_across_chunk_boundaries(tmp_path: Path) -> None:
    """The Debian tracker document is streamed: any chunk size gives the same (key, value) pairs."""
    from seawall.vulndb.base import FeedLimits
    from seawall.vulndb.importers.common import iter_json_object_items

    raw = (FIXTURES / "debian-tracker.json").read_bytes()
    whole = json.loads(raw)
    for chunk in (1, 7, 64, 4096):
        with (FIXTURES / "debian-tracker.json").open("rb") as fh:
            got = dict(iter_json_object_items(fh, "fixture", FeedLimits(), chunk=chunk))
        assert got == whole, chunk
    # a larger document (several 1 MiB reads): 3,000 source packages, every one imported
    big = {f"pkg{i}": {f"CVE-2024-{i:05d}": {"description": "x" * 800, "releases": {
        "bookworm": {"status": "resolved", "repositories": {"bookworm": "1.0-2"}, "fixed_version": "1.0-2",
                     "urgency": "medium"}}}} for i in range(3000)}
    path = tmp_path / "tracker.json"
    path.write_text(json.dumps(big))
    assert path.stat().st_size > 2 * (1 << 20)
    stats = import_paths([path], tmp_path / "db.sqlite")
    assert stats[0].advisories == 3000
    with open_db(tmp_path / "db.sqlite") as db:
        found = db.match([_deb("pkg2999", "1.0-1", "pkg2999")], OSInfo("debian", "12"))
    assert [(f.rule, f.severity) for f in found] == [("CVE-2024-02999", Severity.MEDIUM)]
