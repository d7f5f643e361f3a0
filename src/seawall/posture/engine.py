"""Run every target module over a set of parsed documents; read files with bounded, safe loaders."""

from __future__ import annotations

import gc
import os
import pickle
import signal
import struct
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from seawall.core import Report, Target
from seawall.core.errors import InputError, SeawallError
from seawall.core.system import usable_cpus
from seawall.posture.base import Check, Context, Policy, TargetModule, load_checks, open_stream
from seawall.posture.loader import MAX_FILE_BYTES, Document, iter_file, iter_files
from seawall.posture.registry import MODULES, known_kinds

if TYPE_CHECKING:
    from seawall.posture.aws import AwsOptions


@dataclass(slots=True)
class AuditOptions:
    policy: Policy = field(default_factory=Policy)
    only: set[str] | None = None  # restrict to these check ids
    max_file_bytes: int = MAX_FILE_BYTES
    workers: int | None = None  # processes reading files; None = 2 for many files and an idle core
    aws: AwsOptions | None = None  # target `aws`: profile, regions, endpoint
    root: Path = Path("/")  # target `host`: the root filesystem to read


# Below this many files a second process costs more (fork, pickling the documents back) than it saves.
PARALLEL_MIN_FILES = 64


def all_checks() -> list[Check]:
    out: list[Check] = []
    for module in MODULES:
        out.extend(load_checks(module.NAME).values())
    return out


def audit_documents(docs: Iterable[Document], ctx: Context,
                    modules: tuple[TargetModule, ...] | None = None) -> None:
    """Hand each module the documents it accepts, one at a time; joins are made at `finish`."""
    feeder = Feeder(ctx, modules or MODULES)
    for doc in docs:
        feeder.feed(doc)
    feeder.finish()


UNRECOGNISED = ("not a recognised configuration document (Kubernetes, ECS, EKS, ECR, Dockerfile, "
                "kube-apiserver/kubelet flags, Docker daemon)")


class Feeder:
    """Documents in, findings out: every module's stream, and what no module reads, as skips."""

    def __init__(self, ctx: Context, modules: tuple[TargetModule, ...]) -> None:
        self.ctx = ctx
        self.modules = modules
        self.streams = [open_stream(m, ctx) for m in modules]
        self.kinds = known_kinds()
        self.unread: dict[tuple[str, str], int] = {}  # (path, kind or "") -> documents no module reads
        self.documents = 0

    def feed(self, doc: Document) -> None:
        self.documents += 1
        accepted = False
        for module, stream in zip(self.modules, self.streams, strict=True):
            if module.accepts(doc):
                stream.feed(doc)
                accepted = True
        # the objects built for this document refer back to it: drop them so that the document is
        # freed as soon as nothing else holds it (the cyclic collector is paused during an audit)
        doc.objects = None
        if doc.fmt not in ("yaml", "json"):
            return
        data = doc.data
        if isinstance(data, dict) and isinstance(data.get("kind"), str) and "apiVersion" in data:
            kind = data["kind"]
            if kind not in self.kinds and not kind.endswith("List"):
                self.unread[(doc.path, kind)] = self.unread.get((doc.path, kind), 0) + 1
        elif not accepted:
            self.unread[(doc.path, "")] = self.unread.get((doc.path, ""), 0) + 1

    def finish(self) -> None:
        for stream in self.streams:
            stream.finish()
        for (path, kind), count in self.unread.items():
            if kind:
                self.ctx.skip(f"{kind} object(s) in {path}", "no posture check reads this kind", count,
                              "unsupported")
            else:
                self.ctx.skip(f"document(s) in {path}", UNRECOGNISED, count, "unsupported")


class FileDocs:
    """One file's documents as they are read and, once they are, why reading stopped early (if it
    did): `error`. Iterating never raises a SeawallError: the documents before a problem count."""

    def __init__(self, shown: str, docs: Iterable[Document], error: str | None = None) -> None:
        self.shown = shown
        self._docs = docs
        self.error = error
        self.count = 0

    def __iter__(self) -> Iterator[Document]:
        try:
            for doc in self._docs:
                self.count += 1
                yield doc
        except SeawallError as exc:
            self.error = exc.message


def _read_serial(files: list[tuple[Path, str]], max_bytes: int) -> Iterator[FileDocs]:
    for path, shown in files:
        yield FileDocs(shown, iter_file(path, shown, max_bytes))


def _idle_cpus() -> int:
    """Usable CPUs that nothing is running on right now, from the kernel's instantaneous count of
    runnable tasks (which includes this process). On a busy machine a second process only
    time-shares a core with someone else's work and makes the read slower, not faster."""
    cpus = usable_cpus()
    try:
        with open("/proc/loadavg", "rb") as fh:
            running = int(fh.read().split()[3].split(b"/")[0])
    except (OSError, ValueError, IndexError):
        return cpus - 1
    return cpus - running


_RECORD = struct.Struct("<Q")


def _load_forked(files: list[tuple[Path, str]], max_bytes: int) -> Iterator[FileDocs]:
    """Read the last 45% of `files` in a forked child while this process reads the rest.

    The child writes one record per file (its documents and the reason reading stopped, pickled:
    our own data, our own process image) to an unnamed temporary file; this process reads its own
    files first, as the caller consumes them, then the child's records one at a time, so memory
    holds one file's documents, not half of the input. Results are exactly those of a serial read,
    in file order; if the child fails in any way, the files it did not deliver are read here."""
    # the child also pickles its half (~25% of parsing it), the parent only unpickles (~12%):
    # the parent takes 55% of the files so that both finish together
    split = len(files) * 11 // 20
    with tempfile.TemporaryFile(prefix="seawall-audit-") as spool:
        try:
            pid = os.fork()
        except OSError:
            yield from _read_serial(files, max_bytes)
            return
        if pid == 0:  # child: never returns, never runs the parent's atexit handlers or flushes buffers
            code = 1
            try:
                for path, shown in files[split:]:
                    result = FileDocs(shown, iter_file(path, shown, max_bytes))
                    docs = list(result)
                    data = pickle.dumps((docs, result.error), protocol=pickle.HIGHEST_PROTOCOL)
                    spool.write(_RECORD.pack(len(data)) + data)
                spool.flush()
                code = 0
            finally:
                os._exit(code)
        delivered = 0
        try:
            yield from _read_serial(files[:split], max_bytes)
            _, status = os.waitpid(pid, 0)
            pid = 0
            if os.waitstatus_to_exitcode(status) == 0:
                spool.seek(0)
                for _path, shown in files[split:]:
                    head = spool.read(_RECORD.size)
                    if len(head) != _RECORD.size:
                        break
                    (size,) = _RECORD.unpack(head)
                    try:
                        docs, error = pickle.loads(spool.read(size))  # noqa: S301 - our forked child's
                    except Exception:  # a damaged record: read this file and the rest here
                        break
                    delivered += 1
                    yield FileDocs(shown, docs, error)
            yield from _read_serial(files[split + delivered:], max_bytes)
        finally:
            if pid:  # the caller stopped early (or failed): the child's work is not needed
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)


def load_files(files: list[tuple[Path, str]], max_bytes: int = MAX_FILE_BYTES,
               workers: int | None = None) -> Iterator[FileDocs]:
    """Every file's documents (and why reading stopped, if it did), in the order given."""
    if workers is None:
        workers = 2 if len(files) >= PARALLEL_MIN_FILES and _idle_cpus() >= 1 else 1
    # fork only a single-threaded process: another thread could hold a lock the child would need
    if workers > 1 and len(files) > 1 and hasattr(os, "fork") and threading.active_count() == 1:
        return _load_forked(files, max_bytes)
    return _read_serial(files, max_bytes)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The parsed trees are acyclic and all live until the report is built: the cyclic collector
    would only re-walk them over and over (~10% of an audit's time), so it waits until the end."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def audit_paths(paths: list[Path], options: AuditOptions | None = None) -> Report:
    options = options or AuditOptions()
    with _gc_paused():
        return _audit_paths(paths, options)


def _audit_paths(paths: list[Path], options: AuditOptions) -> Report:
    ctx = Context(policy=options.policy, only=options.only)
    files = list(iter_files(paths))
    if not files:
        raise InputError("no files to audit under " + ", ".join(str(p) for p in paths))
    feeder = Feeder(ctx, MODULES)
    read_ok = 0
    first_problem = ""
    for result in load_files(files, options.max_file_bytes, options.workers):
        for doc in result:
            feeder.feed(doc)
        if result.error is None:
            read_ok += 1
        elif result.count:
            read_ok += 1
            ctx.skip(f"rest of {result.shown} (after {result.count} document(s))", result.error,
                     category="damaged")
        else:
            ctx.skip(f"file {result.shown}", result.error, category="unreadable")
            first_problem = first_problem or f"{result.shown}: {result.error}"
    if read_ok == 0:
        raise InputError(f"none of the {len(files)} file(s) could be read (first: {first_problem})")
    feeder.finish()
    target = Target(kind="files", name=", ".join(str(p) for p in paths), metadata={
        "files": len(files), "documents": feeder.documents, "suppressed": ctx.suppressed})
    report = Report(target=target, findings=ctx.findings, warnings=ctx.warnings, skips=ctx.skips)
    sort_findings(report)
    return report


def sort_findings(report: Report) -> None:
    report.findings.sort(key=lambda f: (f.location.path or "", f.location.line or 0, f.rule,
                                        f.resource.name))
