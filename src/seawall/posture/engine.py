"""Run every target module over a set of parsed documents; read files with bounded, safe loaders."""

from __future__ import annotations

import gc
import os
import pickle
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from seawall.core import Report, Target
from seawall.core.errors import InputError, SeawallError
from seawall.core.system import usable_cpus
from seawall.posture.base import Check, Context, Policy, TargetModule, load_checks
from seawall.posture.loader import MAX_FILE_BYTES, Document, iter_files, load_file
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


def audit_documents(docs: list[Document], ctx: Context,
                    modules: tuple[TargetModule, ...] | None = None) -> None:
    """Hand each module the documents it accepts (modules see all of them at once: joins)."""
    for module in modules or MODULES:
        selected = [d for d in docs if module.accepts(d)]
        if selected:
            module.run(selected, ctx)


def _unrecognised(docs: list[Document], ctx: Context) -> None:
    """Warn about documents no module reads (unknown kinds, stray YAML), once per file."""
    kinds = known_kinds()
    per_file: dict[str, Counter[str]] = {}
    for doc in docs:
        if doc.fmt not in ("yaml", "json"):
            continue
        data = doc.data
        if isinstance(data, dict) and isinstance(data.get("kind"), str) and "apiVersion" in data:
            kind = data["kind"]
            if kind in kinds or kind.endswith("List"):
                continue
            per_file.setdefault(doc.path, Counter())[f"kind {kind}"] += 1
        elif not any(m.accepts(doc) for m in MODULES):
            per_file.setdefault(doc.path, Counter())["not a recognised configuration document"] += 1
    for path, reasons in per_file.items():
        what = ", ".join(sorted(reasons))
        ctx.warn(f"{path}: skipped ({what}: no checks apply)")


Loaded = list[tuple[list[Document], str | None]]  # per file: (documents, warning or None)


def _load_range(files: list[tuple[Path, str]], max_bytes: int) -> Loaded:
    out: Loaded = []
    for path, shown in files:
        try:
            out.append((load_file(path, shown, max_bytes), None))
        except SeawallError as exc:
            out.append(([], f"{shown}: {exc.message}"))
    return out


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


def _load_forked(files: list[tuple[Path, str]], max_bytes: int) -> Loaded:
    """Read the last 45% of `files` in a forked child while this process reads the rest.

    The child sends its results back pickled through a pipe (our own data, our own process image).
    Results are exactly those of a serial read, in file order; if the child fails in any way, its
    half is read again here (so an unexpected error surfaces exactly as it would serially)."""
    # the child also pickles its half (~25% of parsing it), the parent only unpickles (~12%):
    # the parent takes 55% of the files so that both finish together
    split = len(files) * 11 // 20
    rfd, wfd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(rfd)
        os.close(wfd)
        return _load_range(files, max_bytes)
    if pid == 0:  # child: never returns, never runs the parent's atexit handlers or flushes its buffers
        code = 1
        try:
            os.close(rfd)
            data = pickle.dumps(_load_range(files[split:], max_bytes), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(wfd, "wb") as out:
                out.write(data)
            code = 0
        finally:
            os._exit(code)
    os.close(wfd)
    reader = os.fdopen(rfd, "rb")
    try:
        head = _load_range(files[:split], max_bytes)
        data = reader.read()
    finally:
        reader.close()  # a child still writing gets EPIPE and exits; then reap it
        _, status = os.waitpid(pid, 0)
    tail: Loaded | None = None
    if os.waitstatus_to_exitcode(status) == 0:
        try:
            tail = pickle.loads(data)  # noqa: S301 - written by our own forked child just now
        except Exception:  # a truncated stream: read that half here instead
            tail = None
    if tail is None or len(tail) != len(files) - split:
        tail = _load_range(files[split:], max_bytes)
    return head + tail


def load_files(files: list[tuple[Path, str]], max_bytes: int = MAX_FILE_BYTES,
               workers: int | None = None) -> Loaded:
    """Every file's documents (or the warning why not), in the order given."""
    if workers is None:
        workers = 2 if len(files) >= PARALLEL_MIN_FILES and _idle_cpus() >= 1 else 1
    # fork only a single-threaded process: another thread could hold a lock the child would need
    if workers > 1 and len(files) > 1 and hasattr(os, "fork") and threading.active_count() == 1:
        return _load_forked(files, max_bytes)
    return _load_range(files, max_bytes)


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
    docs: list[Document] = []
    read_ok = 0
    for loaded, warning in load_files(files, options.max_file_bytes, options.workers):
        if warning is not None:
            ctx.warn(warning)
            continue
        read_ok += 1
        docs.extend(loaded)
    if read_ok == 0:
        first = ctx.warnings[0] if ctx.warnings else "unknown reason"
        raise InputError(f"none of the {len(files)} file(s) could be read (first: {first})")
    audit_documents(docs, ctx)
    _unrecognised(docs, ctx)
    target = Target(kind="files", name=", ".join(str(p) for p in paths), metadata={
        "files": len(files), "documents": len(docs), "suppressed": ctx.suppressed})
    report = Report(target=target, findings=ctx.findings, warnings=ctx.warnings)
    sort_findings(report)
    return report


def sort_findings(report: Report) -> None:
    report.findings.sort(key=lambda f: (f.location.path or "", f.location.line or 0, f.rule,
                                        f.resource.name))
