"""Language packages that a distribution package installed are marked (metadata os_package), so
the matcher can prefer the distribution's advisories: real Debian packages (python3-urllib3,
go-rpmdb) unpacked with their real file lists, next to a pip-installed urllib3 that is not."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

from tests.catalog.conftest import apt_download
from tests.catalog.helpers import catalog_dir
from tests.catalog.test_python import WHEELS, pip_download


def _install_like_dpkg(root: Path, deb: Path) -> str:
    """Unpack a .deb and write what dpkg records: the status stanza and info/<pkg>.list."""
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    control = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()
    name = control[0].split(": ", 1)[1]
    control.insert(1, "Status: install ok installed")
    listing = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    names = subprocess.run(["tar", "-t"], input=listing, capture_output=True, check=True).stdout.decode()
    paths = ["/." if n in ("./", ".") else "/" + n.removeprefix("./").rstrip("/") for n in names.split()]
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True, exist_ok=True)
    (info / f"{name}.list").write_text("\n".join(paths) + "\n")
    status = root / "var/lib/dpkg/status"
    old = status.read_text() if status.exists() else ""
    status.write_text(old + "\n".join(control) + "\n\n")
    return name


def test_os_owned_language_packages(tmp_path: Path) -> None:
    debs = apt_download(["python3-urllib3", "go-rpmdb"])
    assert _install_like_dpkg(tmp_path, debs["python3-urllib3"]) == "python3-urllib3"
    assert _install_like_dpkg(tmp_path, debs["go-rpmdb"]) == "go-rpmdb"
    site = tmp_path / "usr/local/lib/python3.11/dist-packages"
    site.mkdir(parents=True)
    whl = next(pip_download(WHEELS).glob("urllib3-*.whl"))
    with zipfile.ZipFile(whl) as zf:
        for member in zf.namelist():
            if ".dist-info/" in member:
                zf.extract(member, site)
    cat = catalog_dir(tmp_path)
    deb_urllib3 = cat.one("python3-urllib3")
    pypi = {p.locations[0].path: p for p in cat.by_name("urllib3")}
    assert len(pypi) == 2
    debian_copy = next(p for path, p in pypi.items() if path.startswith("/usr/lib/python3/dist-packages/"))
    pip_copy = next(p for path, p in pypi.items() if path.startswith("/usr/local/"))
    assert debian_copy.metadata["os_package"] == "deb:python3-urllib3"
    assert deb_urllib3.version.startswith(debian_copy.version)  # 1.26.12 vs 1.26.12-1+deb12u1
    assert "os_package" not in pip_copy.metadata and pip_copy.version == "1.26.4"
    go = [p for p in cat.packages if p.cataloger == "go-binary"]
    assert go and all(p.locations[0].path == "/usr/bin/go-rpmdb" for p in go)
    assert {p.metadata.get("os_package") for p in go} == {"deb:go-rpmdb"}
