"""Python: real wheels from PyPI (their .dist-info/METADATA) and a real sdist's egg-info."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from tests.catalog.conftest import pip_download
from tests.catalog.helpers import catalog_dir

WHEELS = ["django==3.2", "urllib3==1.26.4", "Jinja2==2.11.2", "MarkupSafe==2.1.3",
          "typing_extensions==4.7.1", "zope.interface==6.0"]
SDISTS = ["requests==2.25.0"]


def _site_packages(tmp_path: Path) -> Path:
    site = tmp_path / "usr/local/lib/python3.11/site-packages"
    site.mkdir(parents=True)
    for whl in pip_download(WHEELS).glob("*.whl"):
        with zipfile.ZipFile(whl) as zf:
            for member in zf.namelist():
                if ".dist-info/" in member:
                    zf.extract(member, site)
    for sdist in pip_download(SDISTS, no_binary=True).glob("*.tar.gz"):
        with tarfile.open(sdist) as tf:
            for m in tf.getmembers():
                if ".egg-info/" in m.name and m.isfile():
                    m.name = m.name.split("/", 1)[1]  # requests-2.25.0/requests.egg-info/X
                    tf.extract(m, site, filter="data")
    return site


def test_wheels_and_egg_info(tmp_path: Path) -> None:
    _site_packages(tmp_path)
    cat = catalog_dir(tmp_path, names=["python"])
    got = {(p.name, p.version) for p in cat.packages}
    assert got == {("django", "3.2"), ("urllib3", "1.26.4"), ("jinja2", "2.11.2"),
                   ("markupsafe", "2.1.3"), ("typing-extensions", "4.7.1"),
                   ("zope-interface", "6.0"), ("requests", "2.25.0")}
    django = cat.one("django")
    assert django.purl == "pkg:pypi/django@3.2"
    assert django.ecosystem == "PyPI"
    assert django.licenses == ["BSD-3-Clause"]
    assert django.locations[0].path == ("/usr/local/lib/python3.11/site-packages/"
                                        "Django-3.2.dist-info/METADATA")
    assert django.metadata == {"name": "Django"}
    assert cat.one("zope-interface").purl == "pkg:pypi/zope-interface@6.0"
    assert cat.one("typing-extensions").purl == "pkg:pypi/typing-extensions@4.7.1"
    req = cat.one("requests")
    assert req.locations[0].path.endswith("/requests.egg-info/PKG-INFO")
    assert req.licenses == ["Apache-2.0"]  # "License: Apache 2.0", as an SPDX id
    assert cat.one("urllib3").licenses == ["MIT"]
    assert not cat.warnings


def test_egg_info_file_and_broken_metadata(tmp_path: Path) -> None:
    site = tmp_path / "usr/lib/python3/dist-packages"
    site.mkdir(parents=True)
    # an .egg-info *file* (distutils installs) in the real PKG-INFO format
    pkg_info = next(pip_download(SDISTS, no_binary=True).glob("*.tar.gz"))
    with tarfile.open(pkg_info) as tf:
        member = tf.extractfile("requests-2.25.0/PKG-INFO")
        assert member is not None
        (site / "requests-2.25.0.egg-info").write_bytes(member.read())
    (site / "broken-1.0.dist-info").mkdir()
    (site / "broken-1.0.dist-info/METADATA").write_bytes(b"\xff\xfe\x00garbage without headers")
    cat = catalog_dir(tmp_path, names=["python"])
    assert [(p.name, p.version) for p in cat.packages] == [("requests", "2.25.0")]
    assert any("broken-1.0.dist-info/METADATA" in w for w in cat.warnings)


def test_headers_longer_than_the_first_read(tmp_path: Path) -> None:
    """A real METADATA whose header block is pushed past 64 KiB (many classifiers) before Version."""
    whl = next(pip_download(WHEELS).glob("urllib3-*.whl"))
    with zipfile.ZipFile(whl) as zf:
        meta = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    lines = meta.split("\n")
    version_line = next(line for line in lines if line.startswith("Version:"))
    lines.remove(version_line)
    padding = [f"Classifier: Topic :: Padding :: {i}" for i in range(3000)]
    lines[1:1] = [*padding, version_line]
    site = tmp_path / "usr/lib/python3/site-packages/urllib3-1.26.4.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("\n".join(lines))
    assert (site / "METADATA").stat().st_size > 64 * 1024
    cat = catalog_dir(tmp_path, names=["python"])
    assert [(p.name, p.version) for p in cat.packages] == [("urllib3", "1.26.4")]
