"""Reading many files in two processes gives exactly the report of reading them in one."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from seawall.posture import engine
from seawall.posture.engine import PARALLEL_MIN_FILES, AuditOptions, _load_forked, audit_paths, load_files
from seawall.posture.loader import Document, iter_files
from tests.conftest import REPO

SAMPLES = REPO / "devtools" / "samples" / "posture"


def _corpus(root: Path) -> Path:
    """The bundled samples copied several times over, plus files that cannot be read, spread out."""
    out = root / "many"
    for i in range(4):
        shutil.copytree(SAMPLES, out / f"copy{i}")
    (out / "copy1" / "broken.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n")
    (out / "copy3" / "latin1.yaml").write_bytes("kind: Pod\nname: caf\xe9\n".encode("latin-1"))
    (out / "copy3" / "unknown.yaml").write_text("apiVersion: x/v1\nkind: Gizmo\nmetadata: {name: g}\n")
    (out / "copy0" / "bomb.yaml").write_text(
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6)))
    return out


def _view(report: object) -> object:
    data = report.to_dict()  # type: ignore[attr-defined]
    return data["findings"], data["warnings"], data.get("skipped"), data["target"]


def _read(results: Iterable[engine.FileDocs]) -> list[tuple[list[Document], str | None]]:
    out = []
    for result in results:
        docs = list(result)
        out.append((docs, result.error))
    return out


def test_two_processes_give_the_serial_report(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    forks: list[int] = []
    real = engine._load_forked

    def counting(files: list[tuple[Path, str]], max_bytes: int) -> Iterator[engine.FileDocs]:
        forks.append(len(files))
        return real(files, max_bytes)

    monkeypatch.setattr(engine, "_load_forked", counting)
    corpus = _corpus(tmp_path)
    files = list(iter_files([corpus]))
    assert len(files) >= PARALLEL_MIN_FILES
    serial = audit_paths([corpus], AuditOptions(workers=1))
    forked = audit_paths([corpus], AuditOptions(workers=2))
    auto = audit_paths([corpus], AuditOptions())
    assert len(serial.findings) > 100
    warnings = serial.all_warnings()
    assert any("broken.yaml not analyzed: invalid YAML" in w for w in warnings)
    assert any("latin1.yaml not analyzed: not valid UTF-8" in w for w in warnings)
    assert any("bomb.yaml" in w and "YAML bomb" in w for w in warnings)
    assert any(w.startswith("Gizmo object(s) in ") and "unknown.yaml not analyzed" in w for w in warnings)
    assert _view(forked) == _view(serial)
    assert _view(auto) == _view(serial)
    if threading.active_count() == 1:  # else (a server thread left by another test) it reads serially
        assert forks and forks[0] == len(files)


def test_loaded_documents_keep_their_lines_across_the_process_boundary(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    files = list(iter_files([corpus]))
    serial = _read(load_files(files, workers=1))
    forked = _read(_load_forked(files, 1 << 20))  # directly: load_files forks only a single-threaded process
    assert len(forked) == len(serial) == len(files)
    for (docs_a, warn_a), (docs_b, warn_b) in zip(serial, forked, strict=True):
        assert warn_a == warn_b
        assert [(d.path, d.line, d.index, d.source) for d in docs_a] == \
            [(d.path, d.line, d.index, d.source) for d in docs_b]
        for a, b in zip(docs_a, docs_b, strict=True):
            assert a.data == b.data
            if isinstance(a.data, dict):
                assert type(b.data) is type(a.data)
                assert getattr(a.data, "key_lines", None) == getattr(b.data, "key_lines", None)


def test_a_failing_child_is_made_up_for_in_the_parent(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """If the child process dies (here: its pickling fails), its half is read again, same result."""
    corpus = _corpus(tmp_path)
    files = list(iter_files([corpus]))
    expected = _read(load_files(files, workers=1))

    def broken_dumps(*_args: object, **_kwargs: object) -> bytes:
        raise RuntimeError("child fails")

    monkeypatch.setattr(engine.pickle, "dumps", broken_dumps)
    got = _read(_load_forked(files, 1 << 20))
    assert [(len(d), w) for d, w in got] == [(len(d), w) for d, w in expected]
