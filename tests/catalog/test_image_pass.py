"""All catalogers in one real image pass: an OCI image written by devtools.imagebuild from real
parts (Debian control data, PyPI wheels, Debian's log4j jar, a Go binary built here), read by
`open_image("oci:...")` + `fs.walk`. Locations carry the layer that last wrote each file and its
history line; a whiteout in an upper layer removes a package."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

from devtools.imagebuild import FileSpec, Image, Layer
from tests.catalog.conftest import apt_download
from tests.catalog.helpers import catalog_ref
from tests.catalog.java_fixtures import log4j_jars
from tests.catalog.test_golang import go_binaries  # noqa: F401  (session fixture)
from tests.catalog.test_python import WHEELS, pip_download


def _status(debs: dict[str, Path]) -> bytes:
    stanzas = []
    for name in sorted(debs):
        control = subprocess.run(["dpkg-deb", "-f", str(debs[name])], capture_output=True, text=True,
                                 check=True).stdout.strip()
        lines = control.splitlines()
        lines.insert(1, "Status: install ok installed")
        stanzas.append("\n".join(lines))
    return ("\n\n".join(stanzas) + "\n").encode()


def test_layers_and_whiteouts(tmp_path: Path, go_binaries: Path) -> None:  # noqa: F811
    debs = apt_download(["libssl3", "openssl", "base-files", "tzdata"])
    site = "usr/local/lib/python3.11/site-packages"
    dist_infos: dict[str, bytes | FileSpec] = {}
    for whl in pip_download(WHEELS).glob("*.whl"):
        with zipfile.ZipFile(whl) as zf:
            for member in zf.namelist():
                if member.endswith(".dist-info/METADATA"):
                    dist_infos[f"{site}/{member}"] = zf.read(member)
    urllib3_dir = next(k for k in dist_infos if k.split("/")[-2].startswith("urllib3-")).rsplit("/", 1)[0]
    jar = log4j_jars(apt_download(["liblog4j2-java"])["liblog4j2-java"], tmp_path / "jars")
    image = Image(work=tmp_path / "work")
    base = image.add(Layer.files("ADD rootfs.tar /", {
        "usr/lib/os-release": Path("/usr/lib/os-release").read_bytes(),
        "etc/os-release": FileSpec(symlink="../usr/lib/os-release"),
        "var/lib/dpkg/status": _status(debs),
    }))
    pip = image.add(Layer.files("RUN pip install django urllib3 ...", dist_infos))
    app = image.add(Layer.files("COPY app /", {
        "app/lib/log4j-core.jar": jar["log4j-core.jar"],
        "usr/local/bin/gobin": FileSpec((go_binaries / "bin/gobin-static").read_bytes(), mode=0o755),
    }, whiteouts=(urllib3_dir,)))
    image.step('CMD ["/usr/local/bin/gobin"]')
    image.write_oci(tmp_path / "oci", "test")
    cat = catalog_ref(f"oci:{tmp_path / 'oci'}:test")
    assert cat.os is not None and cat.os.id == "debian"
    assert not cat.warnings

    libssl = cat.one("libssl3")
    assert libssl.locations[0].layer == base.diff_id  # layers are named by diff_id
    assert libssl.locations[0].layer_created_by == "ADD rootfs.tar /"
    assert libssl.purl.startswith("pkg:deb/debian/libssl3@") and "distro=debian-12" in libssl.purl

    django = cat.one("django")
    assert (django.version, django.locations[0].layer) == ("3.2", pip.diff_id)
    assert django.locations[0].layer_created_by == "RUN pip install django urllib3 ..."
    assert cat.by_name("urllib3") == []  # removed by the whiteout in the top layer

    log4j = cat.one("org.apache.logging.log4j:log4j-core")
    assert (log4j.locations[0].path, log4j.locations[0].layer) == ("/app/lib/log4j-core.jar", app.diff_id)
    assert log4j.purl == f"pkg:maven/org.apache.logging.log4j/log4j-core@{log4j.version}"
    errors = cat.one("github.com/pkg/errors")
    assert (errors.version, errors.locations[0].layer) == ("v0.9.1", app.diff_id)
    assert cat.one("stdlib").locations[0].path == "/usr/local/bin/gobin"
    assert {p.cataloger for p in cat.packages} == {"dpkg", "python", "java-archive", "go-binary"}
    shutil.rmtree(tmp_path / "work")
