"""The layered view: whiteouts, opaque dirs, layer attribution, links, limits, dir: sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seawall.core.errors import InputError, LimitExceeded
from seawall.image import EntryKind, Limits, open_image
from seawall.image.fs import FileIndex, normalize, walk
from tests.image.builder import E, Layer, build, write_oci
from tests.image.visitors import Recorder


def _image(tmp_path: Path, layers: list[Layer], **kw: object) -> str:
    root = tmp_path / "layout"
    write_oci(root, [(build(layers, **kw), "t")])  # type: ignore[arg-type]
    return f"oci:{root}:t"


def _walk(ref: str, visitors: list[Recorder] | None = None, limits: Limits | None = None) -> FileIndex:
    with open_image(ref) as src:
        return walk(src, visitors or [], limits or Limits())


BASE = Layer(
    [
        E("etc/", type="dir"),
        E("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
        E("etc/hosts", b"127.0.0.1 localhost\n"),
        E("app/", type="dir"),
        E("app/cache/", type="dir"),
        E("app/cache/a", b"a"),
        E("app/cache/b", b"b"),
        E("app/keep", b"keep"),
        E("usr/lib/os-release", b'ID=debian\nVERSION_ID="12"\n'),
        E("etc/os-release", type="symlink", link="../usr/lib/os-release"),
        E("bin/su", b"\x7fELF", mode=0o4755),
    ],
    created_by="/bin/sh -c #(nop) ADD file:base in /",
)


def test_whiteout_and_opaque_semantics(tmp_path: Path) -> None:
    layers = [
        BASE,
        Layer(
            [
                E("etc/.wh.hosts"),
                E("app/cache/.wh..wh..opq"),
                E("app/cache/c", b"c-own-layer"),
                E("etc/new", b"new"),
            ],
            created_by="RUN rm /etc/hosts && rm -rf /app/cache/*",
            compression="zstd",
        ),
        Layer([E("etc/passwd", b"root:x:0:0:changed\n")], created_by="RUN usermod root", compression="none"),
    ]
    rec = Recorder(lambda e: e.kind == EntryKind.FILE)
    index = _walk(_image(tmp_path, layers), [rec])
    assert "/etc/hosts" not in index  # whited out
    assert "/app/cache/a" not in index and "/app/cache/b" not in index  # opaque hides lower layers...
    assert index["/app/cache/c"].layer is not None  # ...but not its own layer
    assert rec.content("/app/cache/c") == b"c-own-layer"
    assert "/app/keep" in index  # outside the opaque dir
    assert not any(".wh." in p for p in index.entries)
    # the top layer's version of /etc/passwd wins, and only that one is delivered
    assert rec.content("/etc/passwd") == b"root:x:0:0:changed\n"
    assert rec.layer("/etc/passwd") == 2
    assert rec.calls == len(rec.seen)


def test_layer_attribution_maps_history_skipping_empty_layers(tmp_path: Path) -> None:
    layers = [BASE, Layer([E("opt/tool", b"t")], created_by="COPY tool /opt/tool")]
    ref = _image(tmp_path, layers, empty_history=2)
    with open_image(ref) as src:
        infos = src.layers()
        index = walk(src, [], Limits())
    assert [li.created_by for li in infos] == [BASE.created_by, "COPY tool /opt/tool"]
    assert index["/opt/tool"].layer == infos[1]
    assert index["/opt/tool"].layer.created_by == "COPY tool /opt/tool"  # type: ignore[union-attr]
    assert index["/etc/passwd"].layer == infos[0]
    assert infos[0].digest.startswith("sha256:") and infos[0].diff_id != infos[0].digest
    assert index["/bin/su"].mode & 0o4000


def test_upper_file_hides_lower_directory_tree(tmp_path: Path) -> None:
    layers = [BASE, Layer([E("app", b"now a file")])]
    index = _walk(_image(tmp_path, layers))
    assert index["/app"].kind == EntryKind.FILE
    assert not [p for p in index.entries if p.startswith("/app/")]


def test_symlinked_path_is_delivered_with_target_content(tmp_path: Path) -> None:
    rec = Recorder({"/etc/os-release"})
    index = _walk(_image(tmp_path, [BASE]), [rec])
    assert index["/etc/os-release"].kind == EntryKind.SYMLINK
    assert rec.content("/etc/os-release") == b'ID=debian\nVERSION_ID="12"\n'
    assert rec.seen["/etc/os-release"][1].link_target == "/usr/lib/os-release"


def test_resolve_stays_inside_the_image(tmp_path: Path) -> None:
    layers = [
        BASE,
        Layer(
            [
                E("etc/shadow", b"root:*:19000:0:99999:7:::\n"),
                E("evil/abs", type="symlink", link="/etc/shadow"),
                E("evil/up", type="symlink", link="../../../../../../etc/shadow"),
                E("evil/missing", type="symlink", link="/nonexistent/file"),
                E("evil/loop1", type="symlink", link="loop2"),
                E("evil/loop2", type="symlink", link="loop1"),
                E("lib", type="symlink", link="usr/lib"),
            ]
        ),
    ]
    rec = Recorder({"/evil/abs", "/evil/up"})
    index = _walk(_image(tmp_path, layers), [rec])
    assert index.resolve_path("/evil/abs") == "/etc/shadow"
    assert index.resolve_path("/evil/up") == "/etc/shadow"  # '..' clamped at the image root
    assert rec.content("/evil/abs") == b"root:*:19000:0:99999:7:::\n"  # the image's, never the host's
    assert rec.content("/evil/up") == b"root:*:19000:0:99999:7:::\n"
    assert index.resolve("/evil/missing") is None
    assert index.resolve("/evil/loop1") is None  # depth limit
    resolved = index.resolve("/lib/os-release")
    assert resolved is not None and resolved.path == "/usr/lib/os-release"


def test_symlink_to_host_file_absent_from_image_gives_nothing(tmp_path: Path) -> None:
    layers = [Layer([E("etc/", type="dir"), E("link", type="symlink", link="/etc/shadow")])]
    rec = Recorder({"/link"})
    index = _walk(_image(tmp_path, layers), [rec])
    assert index.resolve("/link") is None
    assert rec.seen == {}  # never the host's /etc/shadow
    assert any("/link" in w for w in index.warnings)


def test_hardlink_content_comes_from_same_layer_target(tmp_path: Path) -> None:
    layers = [
        Layer(
            [
                E("usr/bin/python3.11", b"PYTHON-BINARY"),
                E("usr/bin/python3", type="hardlink", link="usr/bin/python3.11"),
            ]
        ),
        Layer([E("usr/bin/python3.11", b"overwritten-above")]),
    ]
    rec = Recorder({"/usr/bin/python3"})
    index = _walk(_image(tmp_path, layers), [rec])
    entry = index["/usr/bin/python3"]
    assert entry.kind == EntryKind.HARDLINK and entry.link_target == "/usr/bin/python3.11"
    assert entry.size == len(b"PYTHON-BINARY")
    # the link's content is the one its own layer held, not the upper layer's file
    assert rec.content("/usr/bin/python3") == b"PYTHON-BINARY"


def test_devices_and_fifos_are_ignored(tmp_path: Path) -> None:
    layers = [Layer([E("dev/null", type="chr"), E("run/fifo", type="fifo"), E("ok", b"1")])]
    index = _walk(_image(tmp_path, layers))
    assert "/dev/null" not in index and "/run/fifo" not in index and "/ok" in index


def test_several_visitors_get_the_same_bytes(tmp_path: Path) -> None:
    a, b = Recorder({"/etc/passwd"}), Recorder({"/etc/passwd", "/etc/hosts"})
    _walk(_image(tmp_path, [BASE]), [a, b])
    assert a.content("/etc/passwd") == b.content("/etc/passwd") == b"root:x:0:0:root:/root:/bin/sh\n"
    assert b.content("/etc/hosts") == b"127.0.0.1 localhost\n"


@pytest.mark.parametrize(
    ("limits", "match"),
    [
        (Limits(max_entries=5), "max_entries"),
        (Limits(max_total_size=2048), "max_total_size"),
        (Limits(max_layers=1), "max_layers"),
    ],
)
def test_limits(tmp_path: Path, limits: Limits, match: str) -> None:
    layers = [BASE, Layer([E("big", b"x" * 4096)])]
    with pytest.raises(LimitExceeded, match=match):
        _walk(_image(tmp_path, layers), limits=limits)


def test_a_file_over_max_file_size_is_indexed_but_not_read(tmp_path: Path) -> None:
    rec = Recorder({"/big", "/etc/passwd"})
    layers = [BASE, Layer([E("big", b"x" * 4096)])]
    index = _walk(_image(tmp_path, layers), [rec], limits=Limits(max_file_size=1024))
    assert index["/big"].size == 4096
    assert rec.content("/etc/passwd") == b"root:x:0:0:root:/root:/bin/sh\n"
    assert "/big" not in rec.seen
    assert any("/big" in w and "max_file_size" in w for w in index.warnings)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("./etc/passwd", "/etc/passwd"),
        ("etc//x/", "/etc/x"),
        ("a/b/../c", "/a/c"),
        (".", "/"),
    ],
)
def test_normalize(name: str, expected: str) -> None:
    assert normalize(name) == expected


@pytest.mark.parametrize("name", ["../etc/passwd", "a/../../etc/passwd", "/etc/passwd", "a/\x00b"])
def test_normalize_rejects_escapes(name: str) -> None:
    with pytest.raises(InputError):
        normalize(name)


def test_dir_source_never_follows_symlinks_out_of_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("HOST SECRET")
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "usr" / "lib").mkdir(parents=True)
    (root / "usr" / "lib" / "os-release").write_text("ID=alpine\n")
    (root / "etc" / "os-release").symlink_to("../usr/lib/os-release")
    (root / "etc" / "shadow-link").symlink_to("/etc/shadow")
    (root / "escape").symlink_to(outside)
    (root / "escape-file").symlink_to(outside / "secret")
    os.mkfifo(root / "fifo")
    rec = Recorder(lambda e: True)
    with open_image(f"dir:{root}") as src:
        assert src.layers() == []
        index = walk(src, [rec], Limits())
    assert index["/etc/os-release"].layer is None
    assert rec.content("/etc/os-release") == b"ID=alpine\n"
    assert rec.content("/usr/lib/os-release") == b"ID=alpine\n"
    assert index["/escape"].kind == EntryKind.SYMLINK
    assert not any(p.startswith("/escape/") for p in index.entries)
    assert all(content != b"HOST SECRET" for content, _ in rec.seen.values())
    assert "/etc/shadow-link" not in rec.seen  # the host's /etc/shadow is never read
    assert "/fifo" not in index


def test_files_hardlinks_and_symlinks_in_one_pass(tmp_path: Path) -> None:
    layers = [
        BASE,
        Layer([E("etc/passwd", b"root:x:0:0:changed\n"), E("bin/link", type="hardlink", link="etc/passwd")]),
    ]
    rec = Recorder({"/etc/passwd", "/etc/os-release", "/bin/link", "/nope", "/etc"})
    with open_image(_image(tmp_path, layers)) as src:
        walk(src, [rec], Limits())
    assert {path: content for path, (content, _) in rec.seen.items()} == {
        "/etc/passwd": b"root:x:0:0:changed\n",
        "/etc/os-release": b'ID=debian\nVERSION_ID="12"\n',
        "/bin/link": b"root:x:0:0:changed\n",
    }
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("box\n")
    (root / "hn").symlink_to("/etc/hostname")
    rec = Recorder({"/hn", "/etc/missing"})
    with open_image(f"dir:{root}") as src:
        walk(src, [rec], Limits())
    assert {path: content for path, (content, _) in rec.seen.items()} == {"/hn": b"box\n"}



def test_dir_walk_skips_mounted_kernel_filesystems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A live host root: /proc, /sys, /dev are mount points and not walked; a plain directory of
    that name (an unpacked image) is walked."""
    import os

    root = tmp_path / "root"
    for d in ("etc", "proc", "sys"):
        (root / d).mkdir(parents=True)
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (root / "proc" / "1").write_text("x")
    (root / "sys" / "k").write_text("x")
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: str(p) == str(root / "proc") or real_ismount(p))
    with open_image(f"dir:{root}") as src:
        index = walk(src, [], Limits())
    assert "/etc/hosts" in index
    assert "/proc/1" not in index  # mounted: skipped
    assert "/sys/k" in index  # not a mount point: an ordinary directory


def test_dir_walk_error_while_listing_is_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """/proc/1/map_files and the like fail while being listed: a warning, the walk goes on."""
    import os

    root = tmp_path / "root"
    (root / "bad").mkdir(parents=True)
    (root / "bad" / "a").write_text("a")
    (root / "good").mkdir()
    (root / "good" / "b").write_text("b")
    real_scandir = os.scandir

    class Failing:
        def __init__(self, inner: object) -> None:
            self.inner = inner

        def __enter__(self) -> Failing:
            return self

        def __exit__(self, *exc: object) -> None:
            self.inner.close()  # type: ignore[attr-defined]

        def __iter__(self) -> Failing:
            return self

        def __next__(self) -> object:
            raise PermissionError(13, "Permission denied")

    def scandir(path: str) -> object:
        it = real_scandir(path)
        return Failing(it) if str(path).endswith("/bad") else it

    monkeypatch.setattr(os, "scandir", scandir)
    with open_image(f"dir:{root}") as src:
        index = walk(src, [], Limits())
    assert "/good/b" in index and "/bad/a" not in index
    assert any(w.startswith("/bad: cannot list") for w in index.warnings)
