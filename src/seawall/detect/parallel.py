"""Large plain files evaluated by worker processes.

The stateless part of detection (decoding the lines, the prefilter, testing every rule on every
event: nearly all of the CPU time) runs in worker processes, one part of a file (about
PART_BYTES, cut at a line end) per task. Each worker reads its part itself and sends back only
the events some rule matched, with their lines. The stateful part (finding windows,
thresholds, sequences, first-seen and its store) stays in this process and takes the parts in
file order, so the findings are the same as those of a single-process run.

Used for regular, uncompressed JSON-lines files of at least PARALLEL_MIN_BYTES when more than
one CPU is available; stdin, gzip, whole-file documents and --follow run in one process.
Workers are fresh interpreters (Polars' thread pool does not survive a fork), run Polars on
one thread each, and ignore Ctrl-C: this process stops them.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import stat
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import BinaryIO, cast

from seawall.bounded import CappedReader
from seawall.core.errors import SeawallError
from seawall.core.system import usable_cpus
from seawall.detect.engine import Engine
from seawall.detect.model import RuleProblem, RuleSet
from seawall.detect.program import SAMPLE_LINES, Evaluation, SourceProgram
from seawall.telemetry.base import ReadStats
from seawall.telemetry.lines import GZIP_MAGIC, LineChunk, LineLimits, is_document_head, stream_chunks

PARALLEL_MIN_BYTES = 256 << 20  # below this, starting the workers costs about what they save
PART_BYTES = 32 << 20
SAMPLE_BYTES = 4 << 20  # read from the start of the first file to plan the prefilter
MAX_WORKERS = 8


@dataclass(frozen=True, slots=True)
class Part:
    path: str
    offset: int
    length: int
    budget: int = PART_BYTES  # the size parts were cut to (a longer one holds a long line)


@dataclass(slots=True)
class PartBatch:
    first_lineno: int  # of the batch's first line, counted from the part's first line (1)
    evaluation: Evaluation
    lines: dict[int, bytes]  # row -> line, for the events in the evaluation


@dataclass(slots=True)
class PartResult:
    lines: int  # lines in the part
    stats: ReadStats
    batches: list[PartBatch] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)


def default_workers() -> int:
    cpus = usable_cpus()
    return 0 if cpus < 2 else min(cpus, MAX_WORKERS)


def splittable(path: str, min_bytes: int = PARALLEL_MIN_BYTES) -> bool:
    """A regular, uncompressed file of JSON lines, large enough to be worth the workers."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size < max(min_bytes, 1):
            return False
        with open(path, "rb") as f:
            head = f.read(64 << 10)
    except OSError:
        return False  # the single-process path reports it
    return head[:2] != GZIP_MAGIC and not is_document_head(head)


def parts(path: str, part_bytes: int = PART_BYTES) -> Iterator[Part]:
    """The file cut into parts of about `part_bytes`, each ending at a line end."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        offset = 0
        while offset < size:
            end = offset + part_bytes
            if end >= size:
                yield Part(path, offset, size - offset, part_bytes)
                return
            f.seek(end)
            while True:  # to the end of the line (a long line makes a longer part)
                block = f.read(1 << 20)
                if not block:
                    end = size
                    break
                newline = block.find(b"\n")
                if newline >= 0:
                    end += newline + 1
                    break
                end += len(block)
            yield Part(path, offset, end - offset, part_bytes)
            offset = end


def sample_lines(path: str) -> list[bytes]:
    with open(path, "rb") as f:
        head = f.read(SAMPLE_BYTES)
    lines = [line for line in head.split(b"\n")[:-1] if line.strip()]
    step = max(1, len(lines) // SAMPLE_LINES)
    return lines[::step][:SAMPLE_LINES]


# -- in the workers ---------------------------------------------------------------------------
_program: SourceProgram | None = None
_limits = LineLimits()


def _start(ruleset: RuleSet, source: str, prefilter: bool, sample: list[bytes], limits: LineLimits) -> None:
    global _program, _limits
    _program = SourceProgram(source, ruleset.rules, [], prefilter=prefilter)
    if sample:
        _program.plan_tiers(sample)
    _limits = limits


def _no_document(data: bytes) -> list[bytes] | None:
    return None


def part_chunks(part: Part, limits: LineLimits, stats: ReadStats) -> Iterator[LineChunk]:
    """The part's lines in batches. A part of ordinary size is read and split at once; one
    that holds an enormous line is streamed, so that memory stays bounded by the line limit."""
    with open(part.path, "rb") as f:
        f.seek(part.offset)
        if part.length > part.budget + limits.max_line:
            bounded = cast(BinaryIO, CappedReader(f, part.length))
            yield from stream_chunks(
                bounded, part.path, limits, stats, _no_document, False, None, None, documents=False
            )
            return
        lines = f.read(part.length).split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # (the part ends at a line end)
    if lines and max(map(len, lines)) > limits.max_line:
        for i, line in enumerate(lines):
            if len(line) > limits.max_line:
                stats.overlong += 1
                lines[i] = b""  # (keeps the line numbers)
    step = limits.batch_lines
    for start in range(0, len(lines), step):
        yield LineChunk(part.path, start + 1, lines[start : start + step])


def _work(part: Part) -> PartResult:
    program = _program
    assert program is not None, "worker not started"
    stats = ReadStats()
    result = PartResult(0, stats)
    try:
        for chunk in part_chunks(part, _limits, stats):
            result.lines = chunk.first_lineno + len(chunk.lines) - 1
            evaluation = program.evaluate(
                chunk.lines, chunk.first_lineno, part.path, stats, result.problems, compact=True
            )
            if evaluation is None:
                continue
            rows = evaluation.df.get_column("_row").to_list()
            lines = {r: chunk.lines[r] for r in rows}
            result.batches.append(PartBatch(chunk.first_lineno, evaluation, lines))
    except OSError as exc:
        where = f"bytes {part.offset}-{part.offset + part.length}"
        stats.warnings.append(f"{part.path}: cannot read {where}: {exc}")
    return result


def serve(read_fd: int, write_fd: int) -> None:
    """A worker process: start from the first message, then one PartResult per Part. Any
    failure is one WorkerError to the main process (which reports it and stops), never a
    traceback on the user's terminal."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the main process
    inbox = Connection(read_fd, writable=False)
    outbox = Connection(write_fd, readable=False)
    try:
        _start(*inbox.recv())
        while (part := inbox.recv()) is not None:
            outbox.send(_work(part))
    except (EOFError, OSError):
        pass  # the main process went away
    except Exception as exc:  # a bug, or a broken installation
        with contextlib.suppress(OSError):
            outbox.send(WorkerError(f"{type(exc).__name__}: {exc}", traceback.format_exc()))


@dataclass(frozen=True, slots=True)
class WorkerError:
    message: str
    trace: str


# -- in this process --------------------------------------------------------------------------
class Workers:
    """Worker processes feeding one engine: start once, feed files, close.

    Workers are plain `python -m seawall.detect.worker` processes talking over pipes (not
    multiprocessing's spawn, which re-imports the caller's main module in every worker). Part
    i goes to worker i mod n, and each worker answers in order, so results come back in file
    order; each worker has DEPTH parts queued so that it never waits. Messages go out through
    a sending thread (a worker takes its first message only once it has started), and this
    process reads the first part itself while the workers start."""

    DEPTH = 2

    def __init__(
        self, engine: Engine, ruleset: RuleSet, workers: int, limits: LineLimits, prefilter: bool, first: str
    ) -> None:
        self.engine = engine
        self.limits = limits
        self.known = {(p.rule_id, p.reason) for p in engine.problems}
        self.procs: list[subprocess.Popen[bytes]] = []
        self.inboxes: list[Connection] = []  # theirs: we send
        self.outboxes: list[Connection] = []  # theirs: we receive
        self.outgoing: queue.SimpleQueue[tuple[int, object] | None] = queue.SimpleQueue()
        self.sender = threading.Thread(target=self._send_all, name="seawall-detect-sender", daemon=True)
        self.starting = True  # the workers have not answered yet
        sample = sample_lines(first) if engine.program.use_tiers else []
        env = dict(os.environ, POLARS_MAX_THREADS="1")  # one core per worker
        try:
            for _ in range(workers):
                their_read, our_write = os.pipe()
                our_read, their_write = os.pipe()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "seawall.detect.worker", str(their_read), str(their_write)],
                    pass_fds=(their_read, their_write),
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
                os.close(their_read)
                os.close(their_write)
                self.procs.append(proc)
                self.inboxes.append(Connection(our_write, readable=False))
                self.outboxes.append(Connection(our_read, writable=False))
        except BaseException:
            self.close(finished=False)
            raise
        self.sender.start()
        start = (ruleset, engine.program.source, prefilter, sample, limits)
        for i in range(workers):
            self.outgoing.put((i, start))

    def _send_all(self) -> None:
        while (item := self.outgoing.get()) is not None:
            worker, message = item
            try:
                self.inboxes[worker].send(message)
            except OSError:
                # a worker is gone: stop them all (each answers EOF to this process's reading,
                # which reports it) rather than leave one waiting for a part that never comes
                for inbox in self.inboxes:
                    inbox.close()
                return

    def _results(self, path: str, part_bytes: int) -> Iterator[Part | PartResult]:
        """The parts of `path` in order: a Part that this process reads itself, or a worker's
        PartResult."""
        n = len(self.procs)
        todo = parts(path, part_bytes)
        local = next(todo, None) if self.starting else None
        sent = 0
        for part in todo:  # fill the queues
            self.outgoing.put((sent % n, part))
            sent += 1
            if sent == n * self.DEPTH:
                break
        if local is not None:
            yield local
        received = 0
        while received < sent:
            worker = received % n
            try:
                result = self.outboxes[worker].recv()
            except EOFError:
                raise SeawallError(f"a detect worker process stopped while reading {path}") from None
            if isinstance(result, WorkerError):
                if os.environ.get("SEAWALL_DEBUG"):
                    print(result.trace, file=sys.stderr)
                raise SeawallError(f"a detect worker process failed on {path}: {result.message}")
            self.starting = False
            received += 1
            more = next(todo, None)
            if more is not None:
                self.outgoing.put((sent % n, more))
                sent += 1
            yield result

    def feed(self, path: str, stats: ReadStats, part_bytes: int = PART_BYTES) -> None:
        """Every part of one `splittable` file, through the workers, into the engine in order."""
        engine = self.engine
        stats.inputs += 1
        base = 1  # line number of the part's first line
        for item in self._results(path, part_bytes):
            if isinstance(item, Part):  # read here, while the workers start
                lines = 0
                for chunk in part_chunks(item, self.limits, stats):
                    engine.process(chunk.lines, base + chunk.first_lineno - 1, path, stats)
                    lines = chunk.first_lineno + len(chunk.lines) - 1
                base += lines
                continue
            result = item
            result.stats.shift_lines(base - 1)
            stats.merge(result.stats)
            for problem in result.problems:
                if (problem.rule_id, problem.reason) not in self.known:
                    self.known.add((problem.rule_id, problem.reason))
                    engine.problems.append(problem)
            for batch in result.batches:
                engine.apply(batch.evaluation, (batch.lines, base + batch.first_lineno - 1, path, False))
            base += result.lines

    def close(self, finished: bool = True) -> None:
        """Stop the workers: they finish what they do when `finished`, else at once."""
        if not finished:
            for proc in self.procs:
                proc.terminate()
        if self.sender.is_alive():
            for i in range(len(self.inboxes)):
                self.outgoing.put((i, None))  # (a worker stops on None)
            self.outgoing.put(None)
            self.sender.join(timeout=5)
        for inbox in self.inboxes:
            inbox.close()
        for outbox in self.outboxes:
            outbox.close()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
