"""Each cataloger's pure `parse_<format>(data, location)` on the small real files in
tests/catalog/data/ (see its README for where each comes from)."""

from __future__ import annotations

import gzip
from pathlib import Path

from seawall.catalog.apk import parse_apk_installed
from seawall.catalog.cpe import cpes_for, escape, upstream_version
from seawall.catalog.dpkg import parse_copyright, parse_dpkg_status, parse_file_list
from seawall.catalog.java import parse_java_archive
from seawall.catalog.licenses import normalize_license
from seawall.catalog.npm import parse_package_json, parse_package_lock
from seawall.catalog.python import parse_python_metadata
from seawall.catalog.rpm import parse_rpmdb
from seawall.core import Location, OSInfo

DATA = Path(__file__).parent / "data"
DEBIAN = OSInfo(id="debian", version="12")
LOC = Location(path="/var/lib/dpkg/status", layer="sha256:" + "1" * 64)


def test_parse_dpkg_status() -> None:
    pkgs = parse_dpkg_status((DATA / "dpkg/status").read_bytes(), LOC, DEBIAN)
    got = {p.name: (p.version, p.arch, p.source_name, p.source_version) for p in pkgs}
    assert got == {
        "bash": ("5.2.15-2+b8", "amd64", "bash", "5.2.15-2"),
        "libc6": ("2.36-9+deb12u14", "amd64", "glibc", "2.36-9+deb12u14"),
        "libssl3": ("3.0.19-1~deb12u2", "amd64", "openssl", "3.0.19-1~deb12u2"),
        "tzdata": ("2025b-0+deb12u2", "all", "tzdata", "2025b-0+deb12u2"),
        "util-linux": ("2.38.1-5+deb12u3", "amd64", "util-linux", "2.38.1-5+deb12u3"),
        "zlib1g": ("1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1"),
    }
    bash = next(p for p in pkgs if p.name == "bash")
    assert bash.purl == ("pkg:deb/debian/bash@5.2.15-2%2Bb8?arch=amd64&distro=debian-12"
                         "&upstream=bash%405.2.15-2")
    assert bash.locations == [LOC] and bash.ecosystem == "Debian"
    zlib = next(p for p in pkgs if p.name == "zlib1g")
    assert cpes_for(zlib) == ["cpe:2.3:a:zlib:zlib:1.2.13:*:*:*:*:*:*:*"]  # epoch and .dfsg dropped


def test_parse_distroless_status_d() -> None:
    data = (DATA / "dpkg/status.d/base-files").read_bytes()
    assert parse_dpkg_status(data, LOC, DEBIAN) == []  # the status file needs a Status field
    [pkg] = parse_dpkg_status(data, LOC, DEBIAN, need_status=False)
    assert (pkg.name, pkg.version, pkg.arch) == ("base-files", "12.4+deb12u15", "amd64")
    files = parse_file_list((DATA / "dpkg/status.d/base-files.md5sums").read_bytes(), md5sums=True)
    assert "/usr/lib/os-release" in files and all(f.startswith("/") for f in files)


def test_parse_dpkg_file_list_and_copyright() -> None:
    files = parse_file_list((DATA / "dpkg/libssl3:amd64.list").read_bytes())
    assert "/usr/lib/x86_64-linux-gnu/libssl.so.3" in files and "/." not in files
    licenses = parse_copyright((DATA / "dpkg/libssl3.copyright").read_bytes())
    assert "Apache-2.0" in licenses
    assert [normalize_license(x) for x in licenses] == [
        normalize_license(x) for x in licenses]  # stable
    assert normalize_license("Artistic or GPL-1+") == "Artistic-1.0-Perl OR GPL-1.0-or-later"


def test_parse_apk_installed() -> None:
    loc = Location(path="/lib/apk/db/installed")
    pkgs = parse_apk_installed((DATA / "apk/installed").read_bytes(), loc, OSInfo("alpine", "3.11.6"))
    got = [(p.name, p.version, p.source_name, p.licenses) for p in pkgs]
    assert got == [("musl", "1.1.24-r2", "musl", ["MIT"]),
                   ("libcrypto1.1", "1.1.1g-r0", "openssl", ["OpenSSL"]),
                   ("busybox", "1.31.1-r19", "busybox", ["GPL-2.0-only"])]  # "GPL2" as an SPDX id
    assert pkgs[1].purl == ("pkg:apk/alpine/libcrypto1.1@1.1.1g-r0?arch=x86_64&distro=alpine-3.11.6"
                            "&upstream=openssl")
    assert cpes_for(pkgs[1])[0] == "cpe:2.3:a:openssl:openssl:1.1.1g:*:*:*:*:*:*:*"


def test_parse_rpmdb() -> None:
    data = gzip.decompress((DATA / "rpm/rpmdb.sqlite.gz").read_bytes())
    pkgs = parse_rpmdb(data, Location(path="/var/lib/rpm/rpmdb.sqlite"), OSInfo("amzn", "2023"))
    got = {p.name: (p.version, p.arch, p.licenses) for p in pkgs}
    assert got["openssl-libs"] == ("1:1.0.2k-24.amzn2.0.4", "x86_64", ["OpenSSL"])
    assert got["bash"][0] == "4.2.46-34.amzn2" and got["bash"][2] == ["GPL-3.0-or-later"]  # GPLv3+
    assert len(pkgs) == 4


def test_parse_python_metadata() -> None:
    loc = Location(path="/usr/lib/python3/dist-packages/Jinja2-2.11.2.dist-info/METADATA")
    jinja = parse_python_metadata((DATA / "python/Jinja2-2.11.2.METADATA").read_bytes(), loc)
    assert jinja is not None
    assert (jinja.name, jinja.version, jinja.purl, jinja.licenses) == (
        "jinja2", "2.11.2", "pkg:pypi/jinja2@2.11.2", ["BSD-3-Clause"])
    assert jinja.metadata == {"name": "Jinja2"}
    assert cpes_for(jinja) == ["cpe:2.3:a:palletsprojects:jinja2:2.11.2:*:*:*:*:python:*:*"]
    six = parse_python_metadata((DATA / "python/six-1.15.0.METADATA").read_bytes(), loc)
    assert six is not None and (six.name, six.licenses) == ("six", ["MIT"])
    assert parse_python_metadata(b"Metadata-Version: 2.1\nSummary: no name\n", loc) is None


def test_parse_npm_lockfiles_and_package_json() -> None:
    loc = Location(path="/app/package-lock.json")
    for version in (1, 2, 3):
        pkgs = parse_package_lock((DATA / f"npm/lock-v{version}.json").read_bytes(), loc)
        got = sorted((p.name, p.version) for p in pkgs)
        assert got == [("@babel/helper-validator-identifier", "7.10.4"), ("lodash", "4.17.15"),
                       ("minimist", "0.0.8"), ("minimist", "1.2.0"), ("mkdirp", "0.5.1")], version
        mkdirp = next(p for p in pkgs if p.name == "mkdirp")
        # Node's resolution: mkdirp's own node_modules/minimist (0.0.8), not the top-level 1.2.0
        assert mkdirp.dependencies == ["pkg:npm/minimist@0.0.8"], version
        babel = next(p for p in pkgs if p.name.startswith("@babel/"))
        assert babel.purl == "pkg:npm/%40babel/helper-validator-identifier@7.10.4"
    project = parse_package_json((DATA / "npm/package.json").read_bytes(),
                                 Location(path="/app/node_modules/npmt/package.json"))
    assert project is not None
    assert (project.name, project.version, project.licenses) == ("npmt", "1.0.0", ["ISC"])


def test_parse_java_archive() -> None:
    loc = Location(path="/usr/share/java/slf4j-nop.jar", layer="sha256:" + "2" * 64)
    [pkg] = parse_java_archive((DATA / "java/slf4j-nop.jar").read_bytes(), loc)
    assert (pkg.name, pkg.version, pkg.purl) == ("org.slf4j:slf4j-nop", "1.7.32",
                                                 "pkg:maven/org.slf4j/slf4j-nop@1.7.32")
    assert pkg.locations == [loc]
    assert pkg.metadata["identified_by"] == "pom.properties"
    assert cpes_for(pkg) == ["cpe:2.3:a:qos:slf4j-nop:1.7.32:*:*:*:*:java:*:*"]
    assert parse_java_archive(b"PK\x03\x04 not really", loc) == []


def test_cpe_escaping_and_versions() -> None:
    assert escape("node.js") == "node.js"
    assert escape("17.0.21.1+2") == "17.0.21.1\\+2"
    assert escape("Hello World") == "hello_world"
    assert upstream_version("1:2.38.1-5+deb12u1") == "2.38.1"
    assert upstream_version("18.20.4+dfsg-1~deb12u3") == "18.20.4"
    assert upstream_version("1.1.1g-r0") == "1.1.1g"
    assert upstream_version("2025b") == "2025b"
