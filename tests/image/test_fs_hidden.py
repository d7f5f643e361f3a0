"""The single top-down pass also offers hidden files (deleted or replaced by an upper layer) to
visitors that opt in, and serves hardlinks whose target is in a lower layer — without reading
any layer twice."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from seawall.image import EntryKind, FileEntry, Limits, open_image
from seawall.image.base import Hidden, HiddenHow, ImageSource, LayerInfo
from seawall.image.fs import FileIndex, walk
from tests.image.builder import E, Layer, build, write_oci
from tests.image.visitors import Recorder


def _image(tmp_path: Path, layers: list[Layer]) -> str:
    root = tmp_path / "layout"
    write_oci(root, [(build(layers), "t")])
    return f"oci:{root}:t"


class HiddenRecorder(Recorder):
    """Wants every regular file, final or hidden."""

    wants_hidden = True

    def __init__(self) -> None:
        super().__init__(lambda e: e.kind == EntryKind.FILE)
        self.hidden: list[tuple[str, bytes, int | None, Hidden]] = []

    def visit_hidden(self, entry: FileEntry, content: IO[bytes], hidden: Hidden) -> None:
        self.hidden.append((entry.path, content.read(), entry.layer.index if entry.layer else None, hidden))


class CountingSource:
    """Counts how often each layer is opened (decompressed)."""

    def __init__(self, inner: ImageSource) -> None:
        self.inner = inner
        self.opened: list[int] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def open_layer(self, layer: LayerInfo) -> IO[bytes]:
        self.opened.append(layer.index)
        return self.inner.open_layer(layer)


LAYERS = [
    Layer([E("etc/", type="dir"), E("etc/os-release", b"ID=debian\n"), E("app/", type="dir"),
           E("app/cache/", type="dir"), E("app/cache/token", b"cache-token"), E("app/keep", b"keep")],
          created_by="ADD base"),
    Layer([E("app/.env", b"SECRET=layer1"), E("app/conf", b"conf-v1")], created_by="COPY . /app"),
    Layer([E("app/.wh..env"), E("app/cache/.wh..wh..opq"), E("app/conf", b"conf-v2")],
          created_by="RUN rm /app/.env && rm -rf /app/cache/* && edit /app/conf"),
]


def test_hidden_files_go_only_to_visitors_that_ask(tmp_path: Path) -> None:
    ref = _image(tmp_path, LAYERS)
    plain = Recorder(lambda e: e.kind == EntryKind.FILE)  # a cataloger: final files only
    hid = HiddenRecorder()
    with open_image(ref) as src:
        counting = CountingSource(src)
        layers = src.layers()
        index = walk(counting, [plain, hid], Limits())  # type: ignore[arg-type]
    assert counting.opened == [2, 1, 0]  # one pass, top-down, no second read
    # the final view is unchanged: the deleted files are absent for everyone
    assert "/app/.env" not in index and "/app/cache/token" not in index
    assert set(plain.seen) == set(hid.seen) == {"/etc/os-release", "/app/keep", "/app/conf"}
    assert plain.content("/app/conf") == b"conf-v2"
    got = {(path, data, layer, h.how, h.by.index) for path, data, layer, h in hid.hidden}
    assert got == {
        ("/app/.env", b"SECRET=layer1", 1, HiddenHow.DELETED, 2),  # whiteout
        ("/app/cache/token", b"cache-token", 0, HiddenHow.DELETED, 2),  # opaque dir
        ("/app/conf", b"conf-v1", 1, HiddenHow.REPLACED, 2),  # overwritten
    }
    assert all(h.by is layers[2] for *_, h in hid.hidden)


def test_a_file_deleted_with_its_parent_directory_replaced(tmp_path: Path) -> None:
    layers = [Layer([E("srv/", type="dir"), E("srv/id_rsa", b"key")]),
              Layer([E("srv", b"now a file")], created_by="RUN rm -r /srv && touch /srv")]
    hid = HiddenRecorder()
    with open_image(_image(tmp_path, layers)) as src:
        walk(src, [hid], Limits())
    assert [(p, d, h.how, h.by.index) for p, d, _, h in hid.hidden] == [
        ("/srv/id_rsa", b"key", HiddenHow.DELETED, 1)]


def _walk(ref: str, visitors: list[Recorder]) -> tuple[FileIndex, list[int]]:
    with open_image(ref) as src:
        counting = CountingSource(src)
        return walk(counting, visitors, Limits()), counting.opened  # type: ignore[arg-type]


def test_hardlink_to_a_lower_layer_gets_its_content_in_the_same_pass(tmp_path: Path) -> None:
    layers = [
        Layer([E("usr/", type="dir"), E("usr/bin/", type="dir"), E("usr/bin/python3.11", b"old python"),
               E("etc/", type="dir"), E("etc/motd", b"hello")]),
        Layer([E("usr/bin/python3.11", b"new python")], created_by="RUN upgrade"),
        Layer([E("usr/bin/python3", type="hardlink", link="usr/bin/python3.11"),
               E("etc/motd.link", type="hardlink", link="etc/motd"),
               E("etc/motd.sym", type="symlink", link="motd.link")], created_by="RUN ln"),
        Layer([E("opt/", type="dir"), E("opt/py", type="hardlink", link="usr/bin/python3")],
              created_by="RUN ln (a chain)"),
    ]
    rec = Recorder({"/usr/bin/python3", "/etc/motd.link", "/opt/py", "/etc/motd.sym"})
    index, opened = _walk(_image(tmp_path, layers), [rec])
    # every layer once (the hardlinks' targets came later in the same pass); then, as for any
    # symlinked path a visitor wants, layer 0 again for /etc/motd.sym only
    assert opened == [3, 2, 1, 0, 0]
    # the version of the target the hardlink's layer saw: layer 1's, not the base's
    assert rec.content("/usr/bin/python3") == b"new python"
    assert rec.content("/opt/py") == b"new python"  # hardlink -> hardlink -> lower file
    assert rec.content("/etc/motd.link") == b"hello"
    entry = index["/usr/bin/python3"]
    assert entry.kind == EntryKind.HARDLINK and entry.size == len(b"new python") and entry.layer is not None
    assert entry.layer.index == 2  # the layer that wrote the path
    assert not index.warnings
    # after the pass: symlink -> lower hardlink, served from the layer that holds the bytes
    assert rec.content("/etc/motd.sym") == b"hello"


def test_hardlink_to_nothing_is_a_warning(tmp_path: Path) -> None:
    layers = [Layer([E("etc/", type="dir"), E("etc/a", b"a")]),
              Layer([E("etc/b", type="hardlink", link="etc/missing")])]
    rec = Recorder({"/etc/b"})
    index, _ = _walk(_image(tmp_path, layers), [rec])
    assert not rec.seen
    assert any("/etc/b: hardlink to /etc/missing" in w for w in index.warnings)


def test_many_dangling_hardlinks_are_counted_not_listed(tmp_path: Path) -> None:
    links = [E(f"etc/l{i:02d}", type="hardlink", link=f"etc/missing{i}") for i in range(25)]
    layers = [Layer([E("etc/", type="dir"), E("etc/a", b"a")]), Layer(links)]
    index, _ = _walk(_image(tmp_path, layers), [])
    assert len(index.warnings) == 21 and index.warnings[-1].startswith("5 more hardlinks")
    assert index["/etc/l00"].size == 0  # no bytes to give it
