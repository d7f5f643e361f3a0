"""apk: /lib/apk/db/installed.

No Alpine mirror is reachable from here or from CI, so the installed database is written in apk's
own format from the real Alpine 3.11 secdb that seawall ships (src/seawall/data/advisories/alpine,
public data of the Alpine Linux project: real package names and fixed versions), the way
`apk add` records them (P/V/A/o/L/U/D/p/F/R lines, one stanza per package). A small installed
database in tests/catalog/data/apk/ is parsed by `parse_apk_installed` directly."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from tests.catalog.helpers import catalog_dir
from tests.catalog.test_os_release import ALPINE_318, WOLFI

STANZA = """C:Q1{checksum}=
P:{name}
V:{version}
A:x86_64
S:100
I:200
T:{name} package
U:https://example.invalid/{origin}
L:{license}
o:{origin}
m:Natanael Copa <ncopa@alpinelinux.org>
t:1600000000
c:0123456789abcdef
D:so:libc.musl-x86_64.so.1
F:usr/lib
R:lib{name}.so.1
a:0:0:755
Z:Q1abc=
"""


def _secdb_packages(limit: int = 25) -> list[tuple[str, str]]:
    secdb = resources.files("seawall.data").joinpath("advisories/alpine/v3_11/main.json")
    data = json.loads(secdb.read_text(encoding="utf-8"))
    out = []
    for item in data["packages"][:limit]:
        pkg = item["pkg"]
        versions = sorted(pkg["secfixes"])
        out.append((pkg["name"], versions[-1]))
    return out


def _write_db(root: Path, pkgs: list[tuple[str, str, str, str]]) -> None:
    db = root / "lib/apk/db"
    db.mkdir(parents=True)
    text = "\n".join(STANZA.format(checksum=i, name=n, version=v, origin=o, license=lic)
                     for i, (n, v, o, lic) in enumerate(pkgs))
    (db / "installed").write_text(text)


def test_installed_db(tmp_path: Path) -> None:
    real = _secdb_packages()
    pkgs = [(name, version, name, "MIT") for name, version in real]
    pkgs.append(("libcrypto1.1", "1.1.1g-r0", "openssl", "OpenSSL"))
    pkgs.append(("busybox-suid", "1.31.1-r19", "busybox", "GPL-2.0-only AND bzip2-1.0.6"))
    _write_db(tmp_path, pkgs)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(ALPINE_318)
    cat = catalog_dir(tmp_path, names=["apk"])
    assert [(p.name, p.version) for p in cat.packages] == [(n, v) for n, v, _, _ in pkgs]
    crypto = cat.one("libcrypto1.1")
    assert crypto.ecosystem == "Alpine"
    assert (crypto.source_name, crypto.source_version, crypto.arch) == ("openssl", "1.1.1g-r0", "x86_64")
    assert crypto.purl == ("pkg:apk/alpine/libcrypto1.1@1.1.1g-r0?arch=x86_64&distro=alpine-3.18.4"
                           "&upstream=openssl")
    assert crypto.licenses == ["OpenSSL"]
    assert cat.one("busybox-suid").licenses == ["GPL-2.0-only AND bzip2-1.0.6"]
    first_name, first_version = real[0]
    first = cat.one(first_name)
    assert first.purl == f"pkg:apk/alpine/{first_name}@{first_version}?arch=x86_64&distro=alpine-3.18.4"
    assert first.locations[0].path == "/lib/apk/db/installed"


def test_wolfi_and_alpine_release_fallback(tmp_path: Path) -> None:
    _write_db(tmp_path, [("glibc", "2.38-r5", "glibc", "LGPL-2.1-or-later")])
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(WOLFI)
    cat = catalog_dir(tmp_path, names=["apk"])
    p = cat.one("glibc")
    assert p.ecosystem == "Wolfi"
    assert p.purl == "pkg:apk/wolfi/glibc@2.38-r5?arch=x86_64&distro=wolfi-20230201"


def test_truncated_and_garbage(tmp_path: Path) -> None:
    db = tmp_path / "lib/apk/db"
    db.mkdir(parents=True)
    (db / "installed").write_bytes(b"P:only-name\n\nV:1.0\n\n\xff\xfe\x00\nP:ok\nV:1-r0\nA:x86")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/alpine-release").write_text("3.12.0\n")
    cat = catalog_dir(tmp_path, names=["apk"])
    assert [(p.name, p.version, p.arch) for p in cat.packages] == [("ok", "1-r0", "x86")]
    assert cat.one("ok").purl == "pkg:apk/alpine/ok@1-r0?arch=x86&distro=alpine-3.12.0"
    # the two stanzas without P: or V: are one skip with its count, never silence
    assert [(s.subject, s.count, s.category) for s in cat.skips] == [
        ("apk records in /lib/apk/db/installed", 2, "damaged")]


def test_files_owned_by_apk_packages(tmp_path: Path) -> None:
    """apk's F:/R: lines say which package installed a file: a Python package apk installed is
    marked with it (metadata os_package), a pip-installed one is not."""
    import zipfile

    from tests.catalog.test_python import WHEELS, pip_download

    whl = next(pip_download(WHEELS).glob("urllib3-*.whl"))
    with zipfile.ZipFile(whl) as zf:
        meta_name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = zf.read(meta_name)
    dist_info = meta_name.split("/")[0]
    for site in ("usr/lib/python3.11/site-packages", "usr/local/lib/python3.11/site-packages"):
        (tmp_path / site / dist_info).mkdir(parents=True)
        (tmp_path / site / dist_info / "METADATA").write_bytes(meta)
    _write_db(tmp_path, [("musl", "1.2.4-r2", "musl", "MIT")])
    db = tmp_path / "lib/apk/db/installed"
    db.write_text(db.read_text() + "\nC:Q1xyz=\nP:py3-urllib3\nV:1.26.4-r0\nA:noarch\no:py3-urllib3\n"
                  f"F:usr/lib/python3.11/site-packages/{dist_info}\nR:METADATA\nZ:Q1abc=\nR:RECORD\n\n")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(ALPINE_318)
    cat = catalog_dir(tmp_path, names=["apk", "python"])
    owned = {p.locations[0].path: p.metadata.get("os_package") for p in cat.by_name("urllib3")}
    assert owned == {f"/usr/lib/python3.11/site-packages/{dist_info}/METADATA": "apk:py3-urllib3",
                     f"/usr/local/lib/python3.11/site-packages/{dist_info}/METADATA": None}
    assert cat.one("py3-urllib3").version == "1.26.4-r0"
