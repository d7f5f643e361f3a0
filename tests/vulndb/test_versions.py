"""Every version scheme against its own specification's examples."""

from __future__ import annotations

import itertools

import pytest

from seawall.vulndb.versions import compare, scheme_for, scheme_named


def _assert_ascending(scheme_name: str, versions: list[str]) -> None:
    scheme = scheme_named(scheme_name)
    for a, b in itertools.pairwise(versions):
        assert compare(scheme, a, b) == -1, f"{a} < {b}"
        assert compare(scheme, b, a) == 1, f"{b} > {a}"
    # and sorting a shuffled copy gives the spec order back
    shuffled = list(reversed(versions))
    assert sorted(shuffled, key=scheme.key) == versions


# PEP 440, "Summary of permitted suffixes and relative ordering"
def test_pep440_spec_order() -> None:
    _assert_ascending("pep440", [
        "1.dev0", "1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12",
        "1.0b1.dev456", "1.0b2", "1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456",
        "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7", "1.0+5", "1.0.post456.dev34", "1.0.post456",
        "1.0.15", "1.1.dev1"])
    s = scheme_named("pep440")
    assert compare(s, "1.0", "1.0.0") == 0
    assert compare(s, "1.0c1", "1.0rc1") == 0
    assert s.key("not a version!") is None


# semver.org, item 11: precedence examples
def test_semver_spec_order() -> None:
    _assert_ascending("semver", ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                                 "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0"])
    _assert_ascending("semver", ["1.0.0", "2.0.0", "2.1.0", "2.1.1"])
    s = scheme_named("semver")
    assert compare(s, "1.0.0+20130313144700", "1.0.0") == 0  # build metadata ignored
    assert compare(s, "1.0.0-beta+exp.sha.5114f85", "1.0.0-beta") == 0
    for bad in ("1.0", "01.0.0", "1.0.0-01", "v1.0.0", "1.0.0-", ""):
        assert s.key(bad) is None, bad


def test_npm_loose_prefix() -> None:
    s = scheme_for("npm")
    assert compare(s, "v1.2.3", "1.2.3") == 0
    assert compare(s, "=1.2.3", "1.2.4") == -1
    assert compare(s, "1.2.3-alpha.10", "1.2.3-alpha.9") == 1


def test_go_module_and_toolchain_versions() -> None:
    s = scheme_for("Go")
    _assert_ascending("go", [
        "v0.0.0-20190308221718-c2843e01d9a2",        # pseudo-version, no base
        "v0.0.0-20210226172049-e18ecbb05110",
        "v0.1.0", "v1.2.3",
        "v1.2.4-0.20191109021931-daa7c04131f5",      # pseudo-version after v1.2.3
        "v1.2.4", "v2.0.0+incompatible", "v2.0.1+incompatible"])
    assert compare(s, "v2.0.0+incompatible", "2.0.0") == 0
    # toolchain names against the numbers OSV's stdlib ranges use
    assert compare(s, "go1.19.8", "1.19.8") == 0
    assert compare(s, "go1.20", "1.20.0") == 0
    assert compare(s, "go1.21rc2", "1.21.0") == -1
    assert compare(s, "go1.21rc2", "1.21.0-0") == 1
    _assert_ascending("go", ["go1.19beta1", "go1.19rc1", "go1.19rc2", "go1.19", "go1.19.1",
                             "go1.19.10", "go1.20"])
    assert s.key("(devel)") is None


# Debian Policy 5.6.12 (the ~ example) and dpkg's own ordering rules
def test_dpkg_policy_examples() -> None:
    _assert_ascending("dpkg", ["1.0~~", "1.0~~a", "1.0~", "1.0", "1.0a"])
    _assert_ascending("dpkg", ["1.0~rc1-1", "1.0-1", "1.0-1+deb12u1", "1.0-1.1", "1.0-2",
                               "1.0.1-1", "1.2.10-1", "1:0.9-1"])
    s = scheme_named("dpkg")
    assert compare(s, "0:1.0-1", "1.0-1") == 0      # epoch 0 is the default
    assert compare(s, "1.0-0", "1.0") == 0
    assert compare(s, "1.00", "1.0") == 0             # numbers compare numerically
    assert compare(s, "1.0+b1", "1.0.1") == -1       # '+' sorts before '.': non-letters by ASCII
    assert compare(s, "2.36-9+deb12u4", "2.36-9+deb12u10") == -1
    assert s.key("a:1.0") is None
    assert s.key("") is None


# apk-tools test/version.data style cases
@pytest.mark.parametrize("a,op,b", [
    ("2.34", ">", "0.1.0_alpha"),
    ("1.0", "<", "1.0-r1"),
    ("1.0-r1", "<", "1.0-r2"),
    ("1.0-r9", "<", "1.0-r10"),
    ("1.0_alpha", "<", "1.0_alpha1"),
    ("1.0_alpha1", "<", "1.0_alpha2"),
    ("1.0_alpha2", "<", "1.0_beta1"),
    ("1.0_beta1", "<", "1.0_pre1"),
    ("1.0_pre1", "<", "1.0_rc1"),
    ("1.0_rc1", "<", "1.0"),
    ("1.0", "<", "1.0_cvs1"),
    ("1.0_cvs1", "<", "1.0_svn1"),
    ("1.0_svn1", "<", "1.0_git1"),
    ("1.0_git1", "<", "1.0_hg1"),
    ("1.0_hg1", "<", "1.0_p1"),
    ("1.0_p1", "<", "1.0_p2"),
    ("1.0_p9", "<", "1.0_p10"),
    ("1.0_p1", "<", "1.0.1"),
    ("1.0", "<", "1.0a"),
    ("1.0a", "<", "1.0b"),
    ("1.0a", "<", "1.0.1"),
    ("0.1.0_alpha", "<", "0.1.3_alpha"),
    ("1.01", "<", "1.1"),          # leading zero: string comparison
    ("1.1", "=", "1.1"),
    ("1.2.3-r0", "=", "1.2.3-r0"),
    ("1.2.3_rc1-r0", "<", "1.2.3-r0"),
    ("3.0.7-r0", ">", "3.0.5-r1"),
    ("1.0~abc1", "<", "1.0~abc2"),
])
def test_apk_versions(a: str, op: str, b: str) -> None:
    expected = {"<": -1, "=": 0, ">": 1}[op]
    assert compare(scheme_for("Alpine:v3.18"), a, b) == expected


def test_apk_invalid() -> None:
    s = scheme_named("apk")
    for bad in ("", "abc", "1.0_foo", "1.0-x1", "1.0-r", "1..0"):
        assert s.key(bad) is None, bad


# rpm's tests/rpmvercmp.at
RPMVERCMP = """
1.0 1.0 0
1.0 2.0 -1
2.0 1.0 1
2.0.1 2.0.1 0
2.0 2.0.1 -1
2.0.1 2.0 1
2.0.1a 2.0.1a 0
2.0.1a 2.0.1 1
2.0.1 2.0.1a -1
5.5p1 5.5p1 0
5.5p1 5.5p2 -1
5.5p2 5.5p1 1
5.5p10 5.5p10 0
5.5p1 5.5p10 -1
5.5p10 5.5p1 1
10xyz 10.1xyz -1
10.1xyz 10xyz 1
xyz10 xyz10 0
xyz10 xyz10.1 -1
xyz10.1 xyz10 1
xyz.4 xyz.4 0
xyz.4 8 -1
8 xyz.4 1
xyz.4 2 -1
2 xyz.4 1
5.5p2 5.6p1 -1
5.6p1 5.5p2 1
5.6p1 6.5p1 -1
6.5p1 5.6p1 1
6.0.rc1 6.0 1
6.0 6.0.rc1 -1
10b2 10a1 1
10a2 10b2 -1
1.0aa 1.0aa 0
1.0a 1.0aa -1
1.0aa 1.0a 1
10.0001 10.0001 0
10.0001 10.1 0
10.1 10.0001 0
10.0001 10.0039 -1
10.0039 10.0001 1
4.999.9 5.0 -1
5.0 4.999.9 1
20101121 20101121 0
20101121 20101122 -1
20101122 20101121 1
2_0 2_0 0
2.0 2_0 0
2_0 2.0 0
a a 0
a+ a+ 0
a+ a_ 0
a_ a+ 0
+a +a 0
+a _a 0
_a +a 0
+_ +_ 0
_+ +_ 0
_+ _+ 0
+ _ 0
_ + 0
1.0~rc1 1.0~rc1 0
1.0~rc1 1.0 -1
1.0 1.0~rc1 1
1.0~rc1 1.0~rc2 -1
1.0~rc2 1.0~rc1 1
1.0~rc1~git123 1.0~rc1~git123 0
1.0~rc1~git123 1.0~rc1 -1
1.0~rc1 1.0~rc1~git123 1
1.0^ 1.0^ 0
1.0^ 1.0 1
1.0 1.0^ -1
1.0^git1 1.0^git1 0
1.0^git1 1.0 1
1.0 1.0^git1 -1
1.0^git1 1.0^git2 -1
1.0^git2 1.0^git1 1
1.0^git1 1.01 -1
1.01 1.0^git1 1
1.0^20160101 1.0^20160101 0
1.0^20160101 1.0.1 -1
1.0.1 1.0^20160101 1
1.0^20160101^git1 1.0^20160101^git1 0
1.0^20160102 1.0^20160101^git1 1
1.0^20160101^git1 1.0^20160102 -1
1.0~rc1^git1 1.0~rc1^git1 0
1.0~rc1^git1 1.0~rc1 1
1.0~rc1 1.0~rc1^git1 -1
1.0^git1~pre 1.0^git1~pre 0
1.0^git1 1.0^git1~pre 1
1.0^git1~pre 1.0^git1 -1
1b.fc17 1b.fc17 0
1b.fc17 1.fc17 -1
1.fc17 1b.fc17 1
1g.fc17 1g.fc17 0
1g.fc17 1.fc17 1
1.fc17 1g.fc17 -1
"""


def test_rpmvercmp_suite() -> None:
    from seawall.vulndb.versions.rpm import rpmvercmp

    cases = [line.split() for line in RPMVERCMP.strip().splitlines()]
    assert len(cases) > 90
    for a, b, expected in cases:
        assert rpmvercmp(a, b) == int(expected), (a, b)


def test_rpm_evr() -> None:
    s = scheme_for("Amazon Linux:2023")
    assert compare(s, "1:1.0-1", "2.0-1") == 1
    assert compare(s, "7.61.1-11.amzn2.0.2", "7.61.1-12.amzn2.0.1") == -1
    assert compare(s, "0:7.61.1-12.amzn2.0.1", "7.61.1-12.amzn2.0.1") == 0
    assert compare(s, "2.0.1-1.amzn2023", "2.0.1-1.amzn2023.0.1") == -1


# maven-artifact ComparableVersionTest
MAVEN_QUALIFIERS = ["1-alpha2snapshot", "1-alpha2", "1-alpha-123", "1-beta-2", "1-beta123", "1-m2",
                    "1-m11", "1-rc", "1-cr2", "1-rc123", "1-SNAPSHOT", "1", "1-sp", "1-sp2",
                    "1-sp123", "1-abc", "1-def", "1-pom-1", "1-1-snapshot", "1-1", "1-2", "1-123"]
MAVEN_NUMBERS = ["2.0", "2-1", "2.0.a", "2.0.0.a", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b",
                 "2.1-c", "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11",
                 "11.m2", "11.m11", "11", "11.a", "11b", "11c", "11m"]


def test_maven_comparable_version_lists() -> None:
    _assert_ascending("maven", MAVEN_QUALIFIERS)
    _assert_ascending("maven", MAVEN_NUMBERS)


@pytest.mark.parametrize("a,b", [
    ("1", "1.0"), ("1", "1.0.0"), ("1.0", "1.0.0"), ("1", "1-0"), ("1", "1.0-0"),
    ("1.0", "1.0-0"), ("1a", "1-a"), ("1a", "1.0-a"), ("1a", "1.0.0-a"), ("1.0a", "1-a"),
    ("1x", "1-x"), ("1x", "1.0-x"), ("1-ga", "1"), ("1-ga", "1-final"), ("1-ga", "1-release"),
    ("1-cr", "1-rc"), ("1a1", "1-alpha-1"), ("1b2", "1-beta-2"), ("1m3", "1-milestone-3"),
    ("1X", "1x"), ("1A", "1a"), ("1B", "1b"), ("1M", "1m"), ("1Ga", "1"), ("1GA", "1"),
    ("1RELEASE", "1"), ("1release", "1"), ("1FINAL", "1"), ("1Cr", "1Rc"), ("1cR", "1rC"),
    ("1m3", "1Milestone3"),
])
def test_maven_equal(a: str, b: str) -> None:
    assert compare(scheme_for("Maven"), a, b) == 0


def test_invalid_versions_are_none_never_raise() -> None:
    junk = ["", " ", "\x00", "../../etc", "1" * 5000, "v", "~", "-", "::", "😀"]
    for name in ("pep440", "semver", "npm", "go", "dpkg", "apk", "rpm", "maven", "generic"):
        s = scheme_named(name)
        for text in junk:
            s.key(text)  # must not raise


# Upstream release versions as NVD's CPE criteria write them (seawall.vulndb.versions.upstream):
# OpenSSL's letter releases (openssl.org's release list), pre-releases before the release,
# patch releases after it, missing trailing parts equal to zero.
def test_upstream_versions_as_nvd_writes_them() -> None:
    _assert_ascending("upstream", ["1.0.2", "1.0.2a", "1.0.2z", "1.0.2za", "1.0.2zj", "1.1.0", "1.1.0l",
                                   "1.1.1-pre1", "1.1.1", "1.1.1a", "1.1.1w", "1.1.1x", "3.0.0-alpha1",
                                   "3.0.0-beta2", "3.0.0", "3.0.13", "3.2.0"])
    _assert_ascending("upstream", ["2.0-beta7", "2.0-beta9", "2.0-rc1", "2.0-rc2", "2.0", "2.0.1", "2.3.2",
                                   "2.4", "2.12.4", "2.13.0", "2.17.1"])
    _assert_ascending("upstream", ["3.12.0a1", "3.12.0b2", "3.12.0rc1", "3.12.0", "3.12.0.post1"])
    _assert_ascending("upstream", ["9.8", "9.8p1", "9.8p7", "9.9"])
    _assert_ascending("upstream", ["7.0.9", "7.0.14", "7.0.15", "7.2.8", "7.881"])  # NVD's "7.881" typo
    s = scheme_for("CPE")
    assert s.name == "upstream"
    assert compare(s, "7.0", "7.0.0") == 0
    assert compare(s, "v20.18.0", "20.18.0") == 0
    assert compare(s, "17.0.21.1+2", "17.0.21.1") == 0  # build metadata
    assert compare(s, "2.6.0-rc1", "2.6.0rc1") == 0
    for bad in ("r22", "R27-p1", "1.2.3-4", "", "*", "-", "(devel)", "1.x", "x" * 300):
        assert s.key(bad) is None, bad
