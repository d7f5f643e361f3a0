"""Go binaries: real binaries built here with Debian's Go (a module with a Debian-packaged
dependency vendored, a versioned and a local replacement), the Debian-built Go tools on the
machine, and a Go < 1.18 (pointer format) binary written here — `go version -m` is the oracle
for all of them."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import struct
import subprocess
from pathlib import Path

import pytest

from seawall.catalog.golang import INFO_END, INFO_START, MAGIC, read_buildinfo
from tests.catalog.conftest import CAT_CACHE, apt_download, publish
from tests.catalog.helpers import catalog_dir

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="needs Debian's golang-go")

GO_MOD = """module example.com/seawall/gobin

go 1.19

require (
\texample.com/localdep v0.0.0
\tgithub.com/google/uuid v1.2.0
\tgithub.com/pkg/errors v0.9.1
)

replace example.com/localdep => ./localdep

replace github.com/google/uuid => github.com/google/uuid v1.3.0
"""
MODULES_TXT = """# example.com/localdep v0.0.0 => ./localdep
## explicit; go 1.19
example.com/localdep
# github.com/google/uuid v1.2.0 => github.com/google/uuid v1.3.0
## explicit
github.com/google/uuid
# github.com/pkg/errors v0.9.1
## explicit
github.com/pkg/errors
# example.com/localdep => ./localdep
# github.com/google/uuid => github.com/google/uuid v1.3.0
"""
MAIN_GO = """package main

import (
\t"fmt"

\t"example.com/localdep"
\t"github.com/google/uuid"
\t"github.com/pkg/errors"
)

func main() {
\tfmt.Println(localdep.Hello(), uuid.NewString(), errors.New("x"))
}
"""


def _go_version_m(path: Path) -> str:
    return subprocess.run(["go", "version", "-m", str(path)], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="session")
def go_binaries() -> Path:
    """bin/gobin (cgo, dynamic), bin/gobin-static (CGO_ENABLED=0, -s -w), bin/gobin-nonote (-buildid=)."""
    go_version = subprocess.run(["go", "version"], capture_output=True, text=True, check=True).stdout
    variants = "gobin gobin-static gobin-nonote"
    key = hashlib.sha256((GO_MOD + MODULES_TXT + MAIN_GO + go_version + variants).encode()).hexdigest()[:16]
    final = CAT_CACHE / f"gobin-{key}"
    if final.is_dir():
        return final
    debs = apt_download(["golang-github-pkg-errors-dev", "golang-github-google-uuid-dev"])
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    src = tmp / "src"
    (src / "localdep").mkdir(parents=True)
    for deb in debs.values():
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "debs")], check=True)
    gocode = tmp / "debs/usr/share/gocode/src"
    for mod in ("github.com/pkg/errors", "github.com/google/uuid"):
        shutil.copytree(gocode / mod, src / "vendor" / mod,
                        ignore=shutil.ignore_patterns("*_test.go", "testdata"))
    (src / "go.mod").write_text(GO_MOD)
    (src / "main.go").write_text(MAIN_GO)
    (src / "localdep/go.mod").write_text("module example.com/localdep\n\ngo 1.19\n")
    local_go = 'package localdep\n\nfunc Hello() string { return "hello" }\n'
    (src / "localdep/local.go").write_text(local_go)
    (src / "vendor/example.com/localdep").mkdir(parents=True)
    (src / "vendor/example.com/localdep/local.go").write_text(local_go)
    (src / "vendor/modules.txt").write_text(MODULES_TXT)
    env = {**os.environ, "GOFLAGS": "-mod=vendor", "GOPROXY": "off", "GOCACHE": str(CAT_CACHE / "gocache"),
           "GOPATH": str(tmp / "gopath"), "GOTOOLCHAIN": "local"}
    (tmp / "bin").mkdir()
    subprocess.run(["go", "build", "-o", str(tmp / "bin/gobin"), "."], cwd=src, env=env, check=True)
    subprocess.run(["go", "build", "-ldflags=-s -w", "-o", str(tmp / "bin/gobin-static"), "."], cwd=src,
                   env={**env, "CGO_ENABLED": "0"}, check=True)
    # reproducible-build style: no build id, so no .note.go.buildid either
    subprocess.run(["go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o",
                    str(tmp / "bin/gobin-nonote"), "."], cwd=src, env={**env, "CGO_ENABLED": "0"}, check=True)
    shutil.rmtree(tmp / "debs")
    shutil.rmtree(tmp / "gopath", ignore_errors=True)
    return publish(tmp, final)


def _old_format_binary(size: int = 3 * 1024 * 1024) -> bytes:
    """An ELF64 laid out as Go < 1.18 wrote it: version and module info strings in .rodata, the
    .go.buildinfo header at the start of the writable segment with two pointers to Go string
    headers that come after it."""
    va = 0x400000
    data_off = size - 0x20000
    buf = bytearray(size)
    buf[0:16] = b"\x7fELF\x02\x01\x01" + b"\x00" * 9
    struct.pack_into("<HHIQQQIHHHHHH", buf, 16, 2, 62, 1, va + 0x1000, 64, 0, 0, 64, 56, 2, 64, 0, 0)
    struct.pack_into("<IIQQQQQQ", buf, 64, 1, 5, 0, va, va, data_off, data_off, 0x1000)
    struct.pack_into("<IIQQQQQQ", buf, 120, 1, 6, data_off, va + data_off, va + data_off,
                     size - data_off, size - data_off, 0x1000)
    note = struct.pack("<III", 4, 8, 4) + b"Go\x00\x00" + b"abcdefgh"
    buf[0x200:0x200 + len(note)] = note
    version = b"go1.16.5"
    rodata = size // 3 + 5  # split across stream chunks on purpose
    buf[rodata:rodata + len(version)] = version
    modinfo = (b"path\texample.com/old/cmd\nmod\texample.com/old\tv1.0.0\th1:xyz=\n"
               b"dep\tgolang.org/x/text\tv0.3.5\th1:abc=\nbuild\tGOOS=linux\n")
    mi = INFO_START + modinfo + INFO_END
    buf[rodata + 0x1003:rodata + 0x1003 + len(mi)] = mi
    hdr = MAGIC + bytes([8, 0]) + struct.pack("<QQ", va + data_off + 0x10100, va + data_off + 0x10110)
    buf[data_off:data_off + len(hdr)] = hdr
    struct.pack_into("<QQ", buf, data_off + 0x10100, va + rodata, len(version))
    struct.pack_into("<QQ", buf, data_off + 0x10110, va + rodata + 0x1003, len(mi))
    return bytes(buf)


class _Trickle(io.RawIOBase):
    """A stream that returns few bytes per read, like a decompressor near a block edge."""

    def __init__(self, data: bytes, step: int = 7919) -> None:
        self._buf = io.BytesIO(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._buf.read(self._step if size < 0 else min(size, self._step))


def _image_with(tmp_path: Path, binaries: dict[str, Path | bytes]) -> Path:
    for dest, src in binaries.items():
        p = tmp_path / dest.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(src, bytes):
            p.write_bytes(src)
        else:
            shutil.copy(src, p)
        p.chmod(0o755)
    return tmp_path


def test_built_binary_matches_go_version_m(tmp_path: Path, go_binaries: Path) -> None:
    for name in ("gobin", "gobin-static", "gobin-nonote"):
        out = _go_version_m(go_binaries / "bin" / name)
        assert "dep\tgithub.com/pkg/errors\tv0.9.1" in out
    root = _image_with(tmp_path, {"/usr/local/bin/gobin": go_binaries / "bin/gobin",
                                  "/app/gobin-static": go_binaries / "bin/gobin-static",
                                  "/app/gobin-nonote": go_binaries / "bin/gobin-nonote",
                                  "/app/not-executable": go_binaries / "bin/gobin"})
    (root / "app/not-executable").chmod(0o644)
    cat = catalog_dir(root, names=["go-binary"])
    by_loc: dict[str, dict[str, str]] = {}
    for p in cat.packages:
        by_loc.setdefault(p.locations[0].path, {})[p.name] = p.version
    expected = {"example.com/seawall/gobin": "(devel)", "example.com/localdep": "(devel)",
                "github.com/google/uuid": "v1.3.0", "github.com/pkg/errors": "v0.9.1",
                "stdlib": _go_version_m(go_binaries / "bin/gobin").split()[1].removeprefix("go")}
    assert by_loc == {"/usr/local/bin/gobin": expected, "/app/gobin-static": expected,
                      "/app/gobin-nonote": expected}
    assert b"Go\x00\x00" not in (go_binaries / "bin/gobin-nonote").read_bytes()[:65536]
    errors = next(p for p in cat.packages if p.name == "github.com/pkg/errors")
    assert errors.purl == "pkg:golang/github.com/pkg/errors@v0.9.1"
    assert errors.ecosystem == "Go" and errors.arch == "amd64"
    main = next(p for p in cat.packages if p.name == "example.com/seawall/gobin")
    assert (main.purl, main.metadata["main_module"]) == ("pkg:golang/example.com/seawall/gobin", True)
    uuid = next(p for p in cat.packages if p.name == "github.com/google/uuid")
    assert uuid.metadata["replaced"] == "github.com/google/uuid v1.2.0"
    std = next(p for p in cat.packages if p.name == "stdlib")
    assert std.purl == f"pkg:golang/stdlib@{expected['stdlib']}"
    assert std.metadata["go_version"] == "go" + expected["stdlib"]
    assert not cat.warnings


@pytest.mark.parametrize("binary", ["/usr/bin/umoci", "/usr/bin/skopeo", "/usr/bin/docker-registry"])
def test_debian_built_go_tools(binary: str) -> None:
    path = Path(binary)
    if not path.is_file():
        pytest.skip(f"{binary} not installed")
    lines = [line.split("\t") for line in _go_version_m(path).splitlines()[1:]]
    with path.open("rb") as fh:
        info = read_buildinfo(_Trickle(fh.read(), step=1 << 20), 1 << 30)  # type: ignore[arg-type]
    assert info is not None
    assert info.go_version == _go_version_m(path).split()[1]
    assert info.path == next(f[2] for f in lines if f[1] == "path")
    assert [(d[0], d[1]) for d in info.deps] == [(f[2], f[3]) for f in lines if f[1] == "dep"]
    assert info.settings == {f[2].split("=", 1)[0]: f[2].split("=", 1)[1] for f in lines if f[1] == "build"}


def test_pointer_format_go_before_1_18(tmp_path: Path) -> None:
    data = _old_format_binary()
    p = tmp_path / "old"
    p.write_bytes(data)
    p.chmod(0o755)
    out = _go_version_m(p)  # Go's own reader agrees with the layout
    assert out.splitlines()[0].endswith("go1.16.5")
    assert "dep\tgolang.org/x/text\tv0.3.5\th1:abc=" in out
    info = read_buildinfo(_Trickle(data), 1 << 30)  # type: ignore[arg-type]
    assert info is not None
    assert (info.go_version, info.path, info.main) == ("go1.16.5", "example.com/old/cmd",
                                                       ("example.com/old", "v1.0.0", "h1:xyz="))
    assert info.deps == [("golang.org/x/text", "v0.3.5", "h1:abc=", None)]
    cat = catalog_dir(_image_with(tmp_path / "root", {"/bin/old": data}), names=["go-binary"])
    assert sorted((p.name, p.version, p.purl) for p in cat.packages) == [
        ("example.com/old", "v1.0.0", "pkg:golang/example.com/old@v1.0.0"),
        ("golang.org/x/text", "v0.3.5", "pkg:golang/golang.org/x/text@v0.3.5"),
        ("stdlib", "1.16.5", "pkg:golang/stdlib@1.16.5"),
    ]


def test_non_go_and_hostile_files(tmp_path: Path) -> None:
    sh = Path("/bin/sh").resolve()
    broken = bytearray(_old_format_binary(256 * 1024))
    broken[-0x20000 + 14] = 8  # keep the magic, point everything out of bounds
    struct.pack_into("<QQ", broken, len(broken) - 0x20000 + 16, 2**63, 2**62)
    inline_bomb = bytearray(_old_format_binary(256 * 1024))
    off = len(inline_bomb) - 0x20000
    inline_bomb[off + 15] = 2  # inline flag with a varint claiming an enormous length
    inline_bomb[off + 32:off + 42] = b"\xff" * 9 + b"\x01"
    root = _image_with(tmp_path, {"/bin/sh": sh, "/bin/broken": bytes(broken),
                                  "/bin/bomb": bytes(inline_bomb),
                                  "/bin/script": b"#!/bin/sh\necho hi\n" + b"#" * 70000})
    cat = catalog_dir(root, names=["go-binary"])
    assert cat.packages == []
    mode = stat.S_IMODE((root / "bin/script").stat().st_mode)
    assert mode & 0o111


def test_real_go_1_15_and_1_16_binaries(tmp_path: Path, dep_parser_testdata: Path) -> None:
    """Go < 1.18 binaries built by others (Trivy's go-dep-parser test data, shipped by Debian)."""
    binaries = {f"/app/{n}": dep_parser_testdata / n for n in ("test.elf", "replace.elf")}
    root = _image_with(tmp_path / "root", binaries)
    expected: dict[str, dict[str, str]] = {}
    for dest, src in binaries.items():
        shutil.copy(src, tmp_path / src.name)
        (tmp_path / src.name).chmod(0o755)
        out = _go_version_m(tmp_path / src.name)
        rows = [line.split("\t") for line in out.splitlines()[1:]]
        mods: dict[str, str] = {"stdlib": out.split()[1].removeprefix("go")}
        for i, row in enumerate(rows):
            if row[1] == "mod":
                mods[row[2]] = row[3]
            elif row[1] == "dep":
                nxt = rows[i + 1] if i + 1 < len(rows) else []
                if len(nxt) > 3 and nxt[1] == "=>":
                    mods[nxt[2]] = nxt[3]
                else:
                    mods[row[2]] = row[3]
        expected[dest] = mods
    cat = catalog_dir(root, names=["go-binary"])
    by_loc: dict[str, dict[str, str]] = {}
    for p in cat.packages:
        by_loc.setdefault(p.locations[0].path, {})[p.name] = p.version
    assert by_loc == expected
    assert expected["/app/test.elf"]["stdlib"] == "1.15.2"
    assert expected["/app/replace.elf"]["github.com/go-sql-driver/mysql"] == "v1.5.0"
    mysql = cat.one("github.com/go-sql-driver/mysql")
    assert mysql.purl == "pkg:golang/github.com/go-sql-driver/mysql@v1.5.0"
    assert mysql.metadata["replaced"] == "github.com/go-sql-driver/mysql v0.0.0-00010101000000-000000000000"


LDFLAGS_MOD = "module github.com/example/cli\n\ngo 1.19\n"
LDFLAGS_MAIN = """package main

import (
\t"fmt"

\tclivers "github.com/example/cli/cli/version"
)

var (
\tversion = "dev"
\tcommit  = "none"
)

func main() {
\tfmt.Println(clivers.Version, clivers.GitCommit, version, commit)
}
"""
LDFLAGS_VERSION = """package version

var (
\tVersion   = "unknown-version"
\tGitCommit = "unknown-commit"
)
"""
LDFLAGS_BUILDS = {
    # docker's CLI: -X github.com/docker/cli/cli/version.Version=28.2.2 (hack/make/.binary)
    "docker-style": ("-X github.com/example/cli/cli/version.Version=28.2.2 "
                     "-X github.com/example/cli/cli/version.GitCommit=e6534b4", "v28.2.2"),
    # GoReleaser's defaults: main.version without the v of the tag, main.commit, main.date
    "goreleaser": ("-s -w -X main.version=1.4.0 -X main.commit=0123abc -X main.date=2024-01-01T00:00:00Z",
                   "v1.4.0"),
    "dev": ("-X main.version=dev", "(devel)"),  # not a version
    "foreign": ("-X github.com/other/lib.Version=9.9.9", "(devel)"),  # another module's variable
    # Go does not record -ldflags in the build info of a -trimpath build: nothing to read
    "trimpath": ("-X main.version=3.0.0", "(devel)"),
}


@pytest.fixture(scope="session")
def ldflags_binaries(cat_cache: Path) -> Path:
    """The same small module built with Debian's Go and four -ldflags conventions."""
    go_version = subprocess.run(["go", "version"], capture_output=True, text=True, check=True).stdout
    key = hashlib.sha256((LDFLAGS_MOD + LDFLAGS_MAIN + LDFLAGS_VERSION + go_version
                          + repr(sorted(LDFLAGS_BUILDS.items()))).encode()).hexdigest()[:16]
    final = CAT_CACHE / f"goldflags-{key}"
    if final.is_dir():
        return final
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    src = tmp / "src"
    (src / "cli/version").mkdir(parents=True)
    (src / "go.mod").write_text(LDFLAGS_MOD)
    (src / "main.go").write_text(LDFLAGS_MAIN)
    (src / "cli/version/version.go").write_text(LDFLAGS_VERSION)
    env = {**os.environ, "GOPROXY": "off", "GOCACHE": str(CAT_CACHE / "gocache"), "CGO_ENABLED": "0",
           "GOPATH": str(tmp / "gopath"), "GOTOOLCHAIN": "local", "GOFLAGS": "-buildvcs=false"}
    for name, (flags, _) in LDFLAGS_BUILDS.items():
        trim = ["-trimpath"] if name == "trimpath" else []
        subprocess.run(["go", "build", *trim, f"-ldflags={flags}", "-o", str(tmp / name), "."],
                       cwd=src, env=env, check=True)
    shutil.rmtree(tmp / "gopath", ignore_errors=True)
    return publish(tmp, final)


def test_main_module_version_from_ldflags(tmp_path: Path, ldflags_binaries: Path) -> None:
    """`go version -m` shows the -ldflags build setting; the main module's version comes from
    its -X version variable (as Syft reads it), `v` prefixed as Go module versions are."""
    root = _image_with(tmp_path, {f"/usr/local/bin/{n}": ldflags_binaries / n for n in LDFLAGS_BUILDS})
    cat = catalog_dir(root, names=["go-binary"])
    mains = {p.locations[0].path.rsplit("/", 1)[-1]: p for p in cat.packages if p.metadata.get("main_module")}
    for name, (flags, version) in LDFLAGS_BUILDS.items():
        assert (flags in _go_version_m(ldflags_binaries / name)) == (name != "trimpath")
        main = mains[name]
        assert (main.name, main.version) == ("github.com/example/cli", version), name
        assert (main.metadata.get("version_from") == "ldflags") == (version != "(devel)")
    assert mains["docker-style"].purl == "pkg:golang/github.com/example/cli@v28.2.2"
    std = next(p for p in cat.packages if p.name == "stdlib")
    assert std.purl in mains["docker-style"].dependencies  # the main module depends on stdlib


def test_ldflags_forms() -> None:
    from seawall.catalog.golang import version_from_ldflags

    main = "github.com/docker/cli"
    assert version_from_ldflags("-w -X github.com/docker/cli/cli/version.Version=28.2.2 -X "
                                "'github.com/docker/cli/cli/version.BuildTime=2025-05-30'", main) == "v28.2.2"
    assert version_from_ldflags("-X 'main.Version=v2.1.0-rc.1'", main) == "v2.1.0-rc.1"
    assert version_from_ldflags("-X=main.version=1.2.3", main) == "v1.2.3"
    assert version_from_ldflags("-X main.version=1.2", main) is None  # not semver
    assert version_from_ldflags("-X k8s.io/component-base/version.gitVersion=v1.30.2", main) == "v1.30.2"
    assert version_from_ldflags("-X main.commit=1.2.3", main) is None  # not a version variable


def test_go_toolchain_package(tmp_path: Path) -> None:
    """The go command copied into /usr/local/go (as the golang images do) is a Go toolchain
    package; the same binary installed by an OS package is not reported twice."""
    go = Path(shutil.which("go") or "").resolve()
    version = subprocess.run([str(go), "env", "GOVERSION"], capture_output=True, text=True,
                             check=True).stdout.strip().removeprefix("go")
    root = _image_with(tmp_path, {"/usr/local/go/bin/go": go, "/usr/lib/go-x/bin/go": go})
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / "golang-x-go.list").write_text("/usr/lib/go-x\n/usr/lib/go-x/bin\n/usr/lib/go-x/bin/go\n")
    cat = catalog_dir(root, names=["dpkg", "go-binary"])
    tools = [p for p in cat.packages if p.cataloger == "binary"]
    assert [(p.name, p.version, p.purl, p.locations[0].path) for p in tools] == [
        ("go", version, f"pkg:generic/go@{version}", "/usr/local/go/bin/go")]
    assert tools[0].cpes == [f"cpe:2.3:a:golang:go:{version}:*:*:*:*:*:*:*"]
