"""A rescan matches each distinct package once: the findings it reuses for another image are the
ones a direct match gives for that image (same advisories, that image's own package and location)."""

from __future__ import annotations

from pathlib import Path

from seawall import vulndb as vdb
from seawall.core import Location, OSInfo, Package
from seawall.runtime.rescan import CachedMatcher


def _image(layer: str, pyjwt: str) -> list[Package]:
    def pkg(name: str, version: str, ecosystem: str, purl: str, path: str) -> Package:
        return Package(name, version, ecosystem, purl, locations=[Location(path=path, layer=layer)])

    return [
        pkg("django", "3.2.0", "PyPI", "pkg:pypi/django@3.2.0", f"/srv/{layer}/django/METADATA"),
        pkg("pyjwt", pyjwt, "PyPI", f"pkg:pypi/pyjwt@{pyjwt}", f"/srv/{layer}/jwt/METADATA"),
        pkg("requests", "2.31.0", "PyPI", "pkg:pypi/requests@2.31.0", f"/srv/{layer}/requests/METADATA"),
        pkg("openssl", "3.0.0-r0", "Alpine", "pkg:apk/alpine/openssl@3.0.0-r0", "/lib/apk/db/installed"),
    ]


def _seen(findings: list) -> list[tuple[str, str, str, str | None, str | None, str]]:  # type: ignore[type-arg]
    return sorted(
        (f.rule, f.package.name, f.package.version, f.location.path, f.location.layer, f.title)
        for f in findings
    )


def test_reused_matches_equal_direct_matches(vulndb: Path) -> None:
    alpine = OSInfo("alpine", "3.18.0")
    images = [_image("sha256:aa", "1.5.0"), _image("sha256:bb", "1.5.0"), _image("sha256:cc", "2.4.0")]
    with vdb.open_db(vulndb) as db:
        direct = [_seen(db.match(packages, alpine)) for packages in images]
        calls: list[int] = []
        original = db.match

        def counting(packages, os):  # type: ignore[no-untyped-def]
            calls.append(len(packages))
            return original(packages, os)

        db.match = counting  # type: ignore[method-assign]
        matcher = CachedMatcher(db)
        cached = [_seen(matcher.match(packages, alpine)) for packages in images]
    assert cached == direct
    assert any(rule == "CVE-2017-11424" or name == "pyjwt" for rule, name, *_ in direct[0])
    assert all(path and "/srv/sha256:bb/" in path for _, name, _, path, *_ in cached[1] if name != "openssl")
    # the first image matched its 4 packages, the second none (all seen), the third its new PyJWT
    assert calls == [4, 1]
