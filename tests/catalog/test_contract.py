"""The cataloger contract: fresh instances from one registry, path-only wants(), a broken file
is a Skip (never a crash, never silence), errors of the image itself still stop the scan."""

from __future__ import annotations

import io

import pytest

from seawall.catalog import CATALOGERS, CatalogContext, new_catalogers
from seawall.core import InputError, SeawallError
from seawall.core.errors import IntegrityError
from seawall.image.base import EntryKind, FileEntry, LayerInfo, Limits

LAYER = LayerInfo(index=0, digest="sha256:" + "0" * 64)


def _entry(path: str, kind: EntryKind = EntryKind.FILE, size: int = 100, mode: int = 0o644) -> FileEntry:
    return FileEntry(path=path, kind=kind, size=size, mode=mode, layer=LAYER)


def test_registry_and_fresh_instances() -> None:
    assert list(CATALOGERS) == ["dpkg", "apk", "rpm", "python", "npm", "java-archive", "go-binary", "binary"]
    a, b = new_catalogers(), new_catalogers()
    assert [c.name for c in a] == list(CATALOGERS)
    assert all(x is not y for x, y in zip(a, b, strict=True))
    with pytest.raises(InputError, match="unknown cataloger"):
        new_catalogers(names=["cobol"])


@pytest.mark.parametrize(("path", "kind", "size", "mode", "wanted_by"), [
    ("/var/lib/dpkg/status", EntryKind.FILE, 10, 0o644, {"dpkg"}),
    ("/var/lib/dpkg/status.d/libssl3", EntryKind.FILE, 10, 0o644, {"dpkg"}),
    ("/var/lib/dpkg/status.d/libssl3.md5sums", EntryKind.FILE, 10, 0o644, {"dpkg"}),
    ("/var/lib/dpkg/info/libssl3:amd64.list", EntryKind.FILE, 10, 0o644, {"dpkg"}),
    ("/var/lib/dpkg/info/libssl3:amd64.postinst", EntryKind.FILE, 10, 0o755, set()),
    ("/usr/share/doc/libssl3/copyright", EntryKind.FILE, 10, 0o644, {"dpkg"}),
    ("/usr/share/doc/libssl3/examples/copyright", EntryKind.FILE, 10, 0o644, set()),
    ("/lib/apk/db/installed", EntryKind.FILE, 10, 0o644, {"apk"}),
    ("/var/lib/rpm/Packages", EntryKind.FILE, 10, 0o644, {"rpm"}),
    ("/usr/lib/sysimage/rpm/rpmdb.sqlite", EntryKind.FILE, 10, 0o644, {"rpm"}),
    ("/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", EntryKind.FILE, 10, 0o644, {"python"}),
    ("/usr/lib/python3/dist-packages/foo.egg-info/PKG-INFO", EntryKind.FILE, 10, 0o644, {"python"}),
    ("/usr/lib/python3/dist-packages/foo-1.0.egg-info", EntryKind.FILE, 10, 0o644, {"python"}),
    ("/app/node_modules/lodash/package.json", EntryKind.FILE, 10, 0o644, {"npm"}),
    ("/app/node_modules/@babel/core/package.json", EntryKind.FILE, 10, 0o644, {"npm"}),
    ("/app/node_modules/lodash/fp/package.json", EntryKind.FILE, 10, 0o644, set()),
    ("/app/package.json", EntryKind.FILE, 10, 0o644, set()),
    ("/app/package-lock.json", EntryKind.FILE, 10, 0o644, {"npm"}),
    ("/app/node_modules/x/package-lock.json", EntryKind.FILE, 10, 0o644, set()),
    ("/app/node_modules/.package-lock.json", EntryKind.FILE, 10, 0o644, {"npm"}),
    ("/opt/app.JAR", EntryKind.FILE, 10, 0o644, {"java-archive"}),
    ("/opt/app.war", EntryKind.SYMLINK, 10, 0o777, set()),
    ("/usr/bin/tool", EntryKind.FILE, 2_000_000, 0o755, {"go-binary"}),
    ("/usr/bin/tiny", EntryKind.FILE, 1000, 0o755, set()),
    ("/usr/local/bin/node", EntryKind.FILE, 2_000_000, 0o755, {"go-binary", "binary"}),
    ("/usr/local/lib/libpython3.11.so.1.0", EntryKind.FILE, 2_000_000, 0o644, {"binary"}),
    ("/usr/local/bin/python3.11-config", EntryKind.FILE, 3000, 0o755, {"binary"}),
    ("/opt/java/openjdk/release", EntryKind.FILE, 1500, 0o644, {"binary"}),
    ("/usr/local/bin/node", EntryKind.SYMLINK, 2_000_000, 0o777, set()),
    ("/usr/share/data.bin", EntryKind.FILE, 2_000_000, 0o644, set()),
])
def test_wants_is_path_and_mode_only(path: str, kind: EntryKind, size: int, mode: int,
                                     wanted_by: set[str]) -> None:
    entry = _entry(path, kind, size, mode)
    assert {c.name for c in new_catalogers() if c.wants(entry)} == wanted_by


class _Exploding(io.RawIOBase):
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise self.exc


def test_broken_file_is_a_skip_image_errors_propagate() -> None:
    candidates = ["/var/lib/dpkg/status", "/lib/apk/db/installed", "/var/lib/rpm/Packages",
                  "/x/a-1.dist-info/METADATA", "/app/node_modules/a/package.json", "/x/a.jar",
                  "/usr/local/bin/x", "/usr/local/bin/node"]
    for cataloger in new_catalogers():
        entry = next(e for e in (_entry(p, size=2_000_000, mode=0o755) for p in candidates)
                     if cataloger.wants(e))
        cataloger.visit(entry, _Exploding(RuntimeError("decoder bug")))  # type: ignore[arg-type]
        assert [(s.subject.endswith(" " + entry.path), s.reason, s.category) for s in cataloger.skips] == [
            (True, "unexpected RuntimeError: decoder bug", "unreadable")], cataloger.name
        with pytest.raises(SeawallError):
            cataloger.visit(entry, _Exploding(IntegrityError("layer digest mismatch")))  # type: ignore[arg-type]
        assert cataloger.packages(CatalogContext(os=None, limits=Limits())) == []
