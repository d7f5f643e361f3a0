"""Go binaries: the build info the Go linker embeds (`go version -m` shows the same).

The file is read once as a stream, never whole into memory:
- the first 64 KiB tell an ELF file; anything else stops there. The `.note.go.buildid` note is
  not a reliable sign (`-ldflags=-buildid=` drops it), so every ELF executable is searched for
  the build info header; only those with the note are also searched for the strings Go < 1.18
  points back to (a note-less pre-1.18 binary is missed);
- the stream is scanned for the 16-byte aligned header `\\xff Go buildinf:` (section
  .go.buildinfo). Go >= 1.18 writes the toolchain version and the module info inline after it
  (varint-prefixed); older Go writes two pointers to Go string headers, resolved through the ELF
  program headers: the string headers lie after the build info header (captured as the stream
  passes), the version string in .rodata before it (remembered from `go1.` occurrences on the
  way), and the module info is found by its 16-byte sentinels.

Packages: the main module, every `dep` (a `=>` replacement gives the module that was really
built: its path and version), and the toolchain as `stdlib` with the version without the `go`
prefix (`go1.19.8` -> `1.19.8`, what OSV's Go advisories for the standard library use; purl
pkg:golang/stdlib@1.19.8). The main module of a local build is `(devel)`, unless the build set
a version the usual way, `-ldflags "-X <pkg>.Version=28.2.2"` (docker's CLI, GoReleaser's
`main.version`): that version is taken from the `-ldflags` build setting (`v` prefixed, as Go
module versions are; `metadata.version_from = "ldflags"`). The main module depends on every
`dep` and on `stdlib`. The go command itself (`cmd/go`) is also a Go toolchain package
(`pkg:generic/go@1.19.8`, cataloger `binary`) when no OS package installed it.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import IO, Any

from seawall.catalog._common import BaseCataloger, Ownership, location, purl
from seawall.catalog.base import CatalogContext
from seawall.catalog.cpe import cpe23
from seawall.catalog.limits import CatalogLimits
from seawall.core import Location, Package
from seawall.image.base import EntryKind, FileEntry, Limits

MAGIC = b"\xff Go buildinf:"
INFO_START = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
INFO_END = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"
HEAD = 64 * 1024
CHUNK = 1024 * 1024
MAX_MODINFO = 4 * 1024 * 1024
MIN_SIZE = 64 * 1024  # the smallest Go executables are over 1 MB
_GO_VERSION = re.compile(rb"go1\.\d+(?:\.\d+)?(?:(?:rc|beta)\d+)?")
_MAX_MEMO = 4096
# -X <import path>.<Var>=<value>: the variable names builds use for their own version
_LDFLAG_X = re.compile(r"""-X[=\s]+['"]?(?P<key>[\w./\-]+)\.(?P<var>[A-Za-z_]\w*)=(?P<value>[^\s'"]+)""")
_VERSION_VARS = frozenset({"version", "ver", "gitversion", "buildversion", "releaseversion", "appversion"})
_SEMVER = re.compile(r"^v?(?P<v>\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.\-+]*)?)$")
_OVERLAP = 64  # bytes kept between chunks so a pattern split over two chunks is still found


@dataclass(slots=True)
class BuildInfo:
    go_version: str
    path: str | None = None
    main: tuple[str, str, str | None] | None = None
    deps: list[tuple[str, str, str | None, tuple[str, str] | None]] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)


def parse_modinfo(go_version: str, modinfo: str) -> BuildInfo:
    """The text `go version -m` prints: path/mod/dep/=>/build lines, tab separated."""
    if len(modinfo) >= 33 and modinfo[-17] == "\n":
        modinfo = modinfo[16:-16]
    info = BuildInfo(go_version=go_version)
    for line in modinfo.splitlines():
        parts = line.split("\t")
        kind = parts[0]
        if kind == "path" and len(parts) >= 2:
            info.path = parts[1]
        elif kind == "mod" and len(parts) >= 3:
            info.main = (parts[1], parts[2], parts[3] if len(parts) > 3 else None)
        elif kind == "dep" and len(parts) >= 3:
            info.deps.append((parts[1], parts[2], parts[3] if len(parts) > 3 else None, None))
        elif kind == "=>" and len(parts) >= 2 and info.deps:
            path, version, summ, _ = info.deps[-1]
            info.deps[-1] = (path, version, summ, (parts[1], parts[2] if len(parts) > 2 else ""))
        elif kind == "build" and len(parts) >= 2 and "=" in parts[1]:
            key, _, value = parts[1].partition("=")
            info.settings[key] = value
    return info


def _uvarint(buf: bytes | bytearray, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(buf) and shift < 64:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7
    raise ValueError("bad varint")


@dataclass(slots=True)
class _Elf:
    little: bool
    ptr_size: int
    loads: list[tuple[int, int, int]]  # (vaddr, offset, filesz)

    def offset(self, vaddr: int) -> int | None:
        for va, off, size in self.loads:
            if va <= vaddr < va + size:
                return off + (vaddr - va)
        return None


def _parse_elf(head: bytes) -> _Elf | None:
    if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    is64, little = head[4] == 2, head[5] == 1
    e = "<" if little else ">"
    try:
        if is64:
            phoff, = struct.unpack_from(e + "Q", head, 32)
            phentsize, phnum = struct.unpack_from(e + "HH", head, 54)
        else:
            phoff, = struct.unpack_from(e + "I", head, 28)
            phentsize, phnum = struct.unpack_from(e + "HH", head, 42)
        loads: list[tuple[int, int, int]] = []
        for i in range(min(phnum, 128)):
            base = phoff + i * phentsize
            if base + (56 if is64 else 32) > len(head):
                break
            if is64:
                ptype, _flags, off, vaddr, _pa, filesz = struct.unpack_from(e + "IIQQQQ", head, base)
            else:
                ptype, off, vaddr, _pa, filesz = struct.unpack_from(e + "IIIII", head, base)
            if ptype == 1:  # PT_LOAD
                loads.append((vaddr, off, filesz))
    except struct.error:
        return None
    return _Elf(little=little, ptr_size=8 if is64 else 4, loads=loads)


class _Scanner:
    """One pass over the rest of the stream, finding the build info as described above."""

    def __init__(self, elf: _Elf, max_bytes: int, memo: bool) -> None:
        self.elf = elf
        self.max_bytes = max_bytes
        self.memo = memo  # remember go1.x strings and module info on the way (Go < 1.18 needs them)
        self.go_strings: dict[int, bytes] = {}
        self.modinfo: dict[int, bytes] = {}
        self.header: bytes | None = None
        self.header_offset = -1
        self.inline: BuildInfo | None = None
        self.wants: dict[int, int] = {}  # offset -> size, captured as the stream passes
        self.captured: dict[int, bytes] = {}
        self.failed = False
        self.scanned = 0  # file offset up to which the window has been searched
        self.open_info = -1  # offset of a module-info start sentinel whose end is not seen yet

    def run(self, head: bytes, content: IO[bytes]) -> None:
        window = bytearray(head)  # deleting from the front of a bytearray does not copy
        base = 0  # file offset of window[0]
        read = len(head)
        while True:
            self._scan(window, base)
            if self.failed:
                return
            if self.inline is not None or (self.header is not None and self._pointer_done()):
                return
            if read >= self.max_bytes:
                return
            chunk = content.read(min(CHUNK, self.max_bytes - read))
            if not chunk:
                self._scan(window, base, final=True)
                return
            read += len(chunk)
            keep = self._keep_from(window, base)
            base += keep
            del window[:keep]
            window += chunk

    def _keep_from(self, window: bytearray, base: int) -> int:
        """How much of the window can be dropped (keep a tail for items split over chunks)."""
        keep_at = len(window) - _OVERLAP
        for off in self.wants:
            if off not in self.captured and base <= off < base + len(window):
                keep_at = min(keep_at, off - base)
        if self.header is not None and self.inline is None and self.header_offset >= base:
            keep_at = min(keep_at, self.header_offset - base)
        if self.open_info >= 0:
            if base + len(window) - self.open_info < MAX_MODINFO:
                keep_at = min(keep_at, self.open_info - base)
            else:
                self.open_info = -1  # a start sentinel without an end: not module info
        return max(0, keep_at)

    def _scan(self, window: bytearray, base: int, final: bool = False) -> None:
        # search only what was not searched yet (less the overlap a split pattern needs)
        lo = max(0, self.scanned - _OVERLAP - base)
        self.scanned = base + len(window)
        if self.memo and len(self.go_strings) < _MAX_MEMO:
            pos = lo
            while True:
                i = window.find(b"go1.", pos)
                if i < 0:
                    break
                m = _GO_VERSION.match(window, i)
                if m and m.end() < len(window):
                    self.go_strings.setdefault(base + i, bytes(m.group()))
                pos = i + 4
        if self.open_info >= 0:
            end = window.find(INFO_END, self.open_info - base)
            if end >= 0:
                self.modinfo.setdefault(self.open_info, bytes(window[self.open_info - base:end + 16]))
                self.open_info = -1
        pos = lo
        while self.memo and self.open_info < 0:
            start = window.find(INFO_START, pos)
            if start < 0:
                break
            end = window.find(INFO_END, start)
            if end < 0:
                self.open_info = base + start
                break
            self.modinfo.setdefault(base + start, bytes(window[start:end + 16]))
            pos = end
        for off, size in self.wants.items():
            if off not in self.captured and base <= off and off + size <= base + len(window):
                self.captured[off] = bytes(window[off - base: off - base + size])
        if self.header is None:
            pos = lo
            while True:
                i = window.find(MAGIC, pos)
                if i < 0:
                    break
                if (base + i) % 16 == 0 and i + 32 <= len(window):
                    self.header = bytes(window[i:i + 32])
                    self.header_offset = base + i
                    if self.header[15] & 2 == 0:
                        self._request_pointers()
                        for off, size in self.wants.items():
                            if base <= off and off + size <= base + len(window):
                                self.captured[off] = bytes(window[off - base: off - base + size])
                    break
                pos = i + 1
        if self.header is not None and self.header[15] & 2 and self.inline is None:
            self._parse_inline(window, self.header_offset - base, final)

    def _parse_inline(self, window: bytearray, at: int, final: bool) -> None:
        try:
            n, p = _uvarint(window, at + 32)
            if n > MAX_MODINFO:
                raise ValueError("version string too long")
            if p + n > len(window):
                raise IndexError
            version = window[p:p + n].decode("utf-8", "replace")
            m, q = _uvarint(window, p + n)
            if m > MAX_MODINFO:
                raise ValueError("module info too long")
            if q + m > len(window):
                raise IndexError
            modinfo = window[q:q + m].decode("utf-8", "replace")
        except IndexError:
            if final:
                self.failed = True
            return
        except ValueError:
            self.failed = True
            return
        self.inline = parse_modinfo(version, modinfo)

    # --- Go < 1.18: pointers to string headers
    def _fmt(self) -> str:
        order = "<" if (self.header is not None and self.header[15] & 1 == 0) else ">"
        return order + ("Q" if self.elf.ptr_size == 8 else "I")

    def _request_pointers(self) -> None:
        assert self.header is not None
        ps = self.header[14]
        if ps != self.elf.ptr_size:
            return
        fmt = self._fmt()
        for slot in (16, 16 + ps):
            vaddr, = struct.unpack_from(fmt, self.header, slot)
            off = self.elf.offset(vaddr)
            if off is not None:
                self.wants[off] = 2 * ps

    def _pointer_done(self) -> bool:
        return bool(self.wants) and all(off in self.captured for off in self.wants)

    def pointer_result(self) -> BuildInfo | None:
        if self.failed or self.header is None or self.header[15] & 2:
            return None
        ps = self.header[14]
        if ps != self.elf.ptr_size:
            return None
        fmt = self._fmt()
        strings: list[tuple[int | None, int]] = []
        for slot in (16, 16 + ps):
            vaddr, = struct.unpack_from(fmt, self.header, slot)
            off = self.elf.offset(vaddr)
            raw = self.captured.get(off) if off is not None else None
            if raw is None or len(raw) < 2 * ps:
                return None
            data_va, length = struct.unpack_from(fmt[0] + fmt[1] * 2, raw, 0)
            strings.append((self.elf.offset(data_va), length))
        (ver_off, ver_len), (mod_off, _mod_len) = strings
        version = self.go_strings.get(ver_off) if ver_off is not None else None
        if version is None or len(version) != ver_len:
            return None
        mod = self.modinfo.get(mod_off) if mod_off is not None else None
        if mod is None and self.modinfo:
            mod = next(iter(self.modinfo.values()))
        return parse_modinfo(version.decode(), mod.decode("utf-8", "replace") if mod else "")


def read_buildinfo(content: IO[bytes], max_bytes: int) -> BuildInfo | None:
    """The build info of a Go ELF binary streamed from `content`, or None if it is not one."""
    head = content.read(HEAD)
    elf = _parse_elf(head)
    if elf is None:
        return None
    # The Go build id note marks a Go binary: only then is the stream searched for the strings an
    # old (pointer format) build info points back to; other ELF files get one search, for MAGIC.
    scanner = _Scanner(elf, max_bytes, memo=b"Go\x00\x00" in head)
    scanner.run(head, content)
    return scanner.inline or scanner.pointer_result()


def version_from_ldflags(ldflags: str, main_path: str | None) -> str | None:
    """The main module's version set with `-X`, as a Go module version (`v28.2.2`), or None.

    Only variables named like a version (Version, version, GitVersion ...) in package `main`,
    in the main module's own packages, or in a package named `version`, and only values that
    look like semantic versions ('dev', commit hashes and dates are not versions)."""
    best: tuple[int, str] | None = None
    for m in _LDFLAG_X.finditer(ldflags[:65536]):
        key, var, value = m.group("key"), m.group("var"), m.group("value")
        if var.lower() not in _VERSION_VARS:
            continue
        sem = _SEMVER.match(value)
        if not sem:
            continue
        if main_path and (key == main_path or key.startswith(main_path + "/")):
            rank = 0
        elif key == "main":
            rank = 1
        elif key.rsplit("/", 1)[-1] == "version":
            rank = 2
        else:
            continue
        if best is None or rank < best[0]:
            best = (rank, "v" + sem.group("v"))
    return best[1] if best else None


def _go_purl(path: str, version: str) -> str:
    """pkg:golang/<path>@<version>; a local build's `(devel)` is no version, so none is written."""
    namespace, _, name = path.rpartition("/")
    return purl("golang", namespace or None, name, None if version == "(devel)" else version)


class GoBinaryCataloger(BaseCataloger):
    name = "go-binary"

    what = "Go binary"

    def __init__(self, limits: Limits | None = None, ownership: Ownership | None = None,
                 catalog_limits: CatalogLimits | None = None) -> None:
        super().__init__(limits, ownership, catalog_limits)
        self._found: list[tuple[BuildInfo, Location]] = []

    def wants(self, entry: FileEntry) -> bool:
        return (entry.kind is EntryKind.FILE and entry.mode & 0o111 != 0
                and MIN_SIZE <= entry.size <= self.limits.max_file_size)

    def _visit(self, entry: FileEntry, content: IO[bytes]) -> None:
        try:
            info = read_buildinfo(content, self.limits.max_file_size)
        except (ValueError, struct.error, UnicodeDecodeError) as exc:
            self.skip(entry, f"unreadable Go build info: {exc}")
            return
        if info is not None:
            self._found.append((info, location(entry)))

    def packages(self, ctx: CatalogContext) -> list[Package]:
        out: list[Package] = []
        for info, loc in self._found:
            out.extend(buildinfo_packages(info, loc))
        out = self.ownership.mark(out)
        # the go command as a toolchain package, unless an OS package installed it
        return [p for p in out if not (p.cataloger == "binary" and p.metadata.get("os_package"))]


def buildinfo_packages(info: BuildInfo, loc: Location) -> list[Package]:
    """The packages of one Go binary's build info (see the module docstring)."""
    out: list[Package] = []
    common: dict[str, Any] = {"go_version": info.go_version}
    for key in ("GOOS", "GOARCH", "vcs.revision"):
        if key in info.settings:
            common[key] = info.settings[key]
    arch = info.settings.get("GOARCH")
    deps: list[Package] = []
    for path, version, summ, repl in info.deps:
        meta: dict[str, Any] = dict(common)
        if summ:
            meta["h1"] = summ
        name = path
        if repl is not None:
            rpath, rversion = repl
            meta["replaced"] = f"{path} {version}"
            if rpath.startswith(("./", "../", "/")) or not rversion:
                version = "(devel)"  # replaced by a local directory
                meta["replacement_dir"] = rpath
            else:
                name, version = rpath, rversion
        deps.append(Package(name=name, version=version, ecosystem="Go", purl=_go_purl(name, version),
                            locations=[loc], arch=arch, cataloger="go-binary", metadata=meta))
    token = info.go_version.split()[0] if info.go_version.split() else info.go_version
    std_version = token[2:] if token.startswith("go") else token
    std = None
    if std_version:
        std = Package(name="stdlib", version=std_version, ecosystem="Go",
                      purl=purl("golang", None, "stdlib", std_version), locations=[loc],
                      arch=arch, cataloger="go-binary", metadata=dict(common))
    if info.main is not None:
        path, version, _ = info.main
        meta = {**common, "main_module": True}
        if version == "(devel)":
            found = version_from_ldflags(info.settings.get("-ldflags", ""), path)
            if found:
                version = found
                meta["version_from"] = "ldflags"
        main = Package(name=path, version=version, ecosystem="Go", purl=_go_purl(path, version),
                       locations=[loc], arch=arch, cataloger="go-binary", metadata=meta)
        main.dependencies = list(dict.fromkeys(p.purl for p in [*deps, *([std] if std else [])]))
        out.append(main)
    out.extend(deps)
    if std is not None:
        out.append(std)
        if info.path == "cmd/go":  # the go command: a Go toolchain
            out.append(Package(name="go", version=std_version, ecosystem="Binary",
                               purl=purl("generic", None, "go", std_version), locations=[loc],
                               arch=arch, cataloger="binary", cpes=[cpe23("golang", "go", std_version)],
                               metadata={"class": "go-toolchain", "evidence": f"build info: {token}"}))
    return out


def parse_go_binary(content: IO[bytes], loc: Location, max_bytes: int = 512 * 1024 * 1024) -> list[Package]:
    """The packages of a Go ELF binary read from a stream (none if it is not one)."""
    info = read_buildinfo(content, max_bytes)
    return buildinfo_packages(info, loc) if info is not None else []
