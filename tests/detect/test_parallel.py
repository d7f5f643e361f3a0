"""Worker processes give exactly what one process gives: the same findings (counts, times,
line numbers, evidence), the same counters and the same bad-line quotes."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from devtools.detectgen import audit as synth
from seawall.detect import DetectOptions, run
from seawall.detect.loader import load_rules
from seawall.detect.parallel import Workers, parts, splittable
from seawall.telemetry.lines import LineLimits
from tests.conftest import run_cli

SMALL_PARTS = 256 << 10  # many parts, so that both workers take turns many times


def _log(tmp_path: Path) -> Path:
    log = synth.write(tmp_path / "audit.log", 20_000, story_at=12_000, noisy=0.03)
    lines = log.read_bytes().split(b"\n")
    first = orjson.loads(lines[0])
    first.pop("stageTimestamp")
    first.pop("requestReceivedTimestamp")
    hostile = {
        3: b"this is not json",
        5_000: b'{"kind": "Event", "verb": ',
        9_000: orjson.dumps(first),  # no timestamp
        15_000: lines[15_000].replace(b'"userAgent":"', b'"userAgent":"\xff\xfe', 1),  # invalid UTF-8
    }
    for at, line in hostile.items():
        lines[at] = line
    log.write_bytes(b"\n".join(lines))
    return log


def _run(
    log: Path, workers: int, state: Path | None = None, limits: LineLimits | None = None
) -> tuple[list[dict], dict]:
    ruleset = load_rules([], builtin=True)
    options = DetectOptions(
        source="k8s-audit",
        paths=[str(log)],
        state_path=state,
        workers=workers,
        parallel_min_bytes=0,
        part_bytes=SMALL_PARTS,
        limits=limits or LineLimits(),
    )
    result = run(options, ruleset)
    stats = result.stats
    counters = {
        "lines": stats.lines,
        "events": stats.events,
        "malformed": stats.malformed,
        "repaired": stats.repaired_utf8,
        "overlong": stats.overlong,
        "no_timestamp": stats.no_timestamp,
        "quoted": stats.quoted,
        "warnings": result.warnings,
    }
    return [f.to_dict() for f in result.findings], counters


def test_workers_give_the_same_findings_and_counters(tmp_path: Path) -> None:
    log = _log(tmp_path)
    assert len(list(parts(str(log), SMALL_PARTS))) > 20
    one, one_counters = _run(log, workers=1)
    two, two_counters = _run(log, workers=2)
    assert two == one
    assert two_counters == one_counters
    assert one_counters["malformed"] == 2 and one_counters["repaired"] == 1
    assert one_counters["no_timestamp"] == 1
    quoted = " ".join(one_counters["quoted"])
    assert "audit.log:4: " in quoted and "audit.log:5001: " in quoted  # line numbers across parts
    rules = {f["rule"] for f in one}
    assert {"SW-K8S-EXEC", "SW-K8S-PRIVILEGED-POD", "SW-K8S-PRIV-POD-THEN-EXEC"} <= rules
    story_exec = [f for f in one if f["rule"] == "SW-K8S-EXEC" and synth.STORY_ACTOR in f["evidence"]]
    assert len(story_exec) == 1 and story_exec[0]["location"]["line"] > 12_000


def test_long_lines_are_skipped_alike_and_memory_stays_bounded(tmp_path: Path) -> None:
    log = _log(tmp_path)
    lines = log.read_bytes().split(b"\n")
    lines[2_000] = b'{"x": "' + b"A" * (100 << 10) + b'"}'  # over the line limit, in an ordinary part
    lines[10_000] = b'{"x": "' + b"B" * (2 << 20) + b'"}'  # makes a part far over its size: streamed
    log.write_bytes(b"\n".join(lines))
    limits = LineLimits(max_line=64 << 10)
    assert max(p.length for p in parts(str(log), SMALL_PARTS)) > SMALL_PARTS + limits.max_line
    one, one_counters = _run(log, workers=1, limits=limits)
    two, two_counters = _run(log, workers=2, limits=limits)
    assert two == one and two_counters == one_counters
    assert one_counters["overlong"] == 2
    story_exec = [f for f in two if f["rule"] == "SW-K8S-EXEC" and synth.STORY_ACTOR in f["evidence"]]
    assert story_exec and story_exec[0]["location"]["line"] > 12_000  # numbering kept past both


def test_workers_keep_first_seen_state_like_one_process(tmp_path: Path) -> None:
    log = _log(tmp_path)
    # two hours later (past the rule's learning hour): the same traffic, and two new actors
    later = log.read_bytes().replace(b"T09:0", b"T11:0").split(b"\n")
    for at, name in ((700, b"newcomer-a-"), (16_000, b"newcomer-b-")):
        later[at] = later[at].replace(b'"username":"', b'"username":"' + name, 1)
    log2 = tmp_path / "later.log"
    log2.write_bytes(b"\n".join(later))
    for workers in (1, 2):
        state = tmp_path / f"state-{workers}.db"
        first, _ = _run(log, workers=workers, state=state)
        second, _ = _run(log2, workers=workers, state=state)
        new_users = [f for f in second if f["rule"] == "SW-K8S-NEW-USER"]
        assert [f["extra"]["first_seen"]["key"][:11] for f in new_users] == ["newcomer-a-", "newcomer-b-"]
        assert [f["location"]["line"] for f in new_users] == [701, 16_001]
        if workers == 1:
            expected = (first, second)
        else:
            assert (first, second) == expected


def test_what_is_split_and_what_is_not(tmp_path: Path) -> None:
    log = _log(tmp_path)
    assert splittable(str(log), 0)
    assert not splittable(str(log), log.stat().st_size + 1)  # small files stay in one process
    gz = tmp_path / "audit.log.gz"
    import gzip

    gz.write_bytes(gzip.compress(log.read_bytes()))
    assert not splittable(str(gz), 0)
    doc = tmp_path / "eventlist.json"
    doc.write_text(json.dumps({"kind": "EventList", "items": []}, indent=1))
    assert not splittable(str(doc), 0)
    # parts end at line ends and cover the file exactly
    cut = list(parts(str(log), SMALL_PARTS))
    data = log.read_bytes()
    assert b"".join(data[p.offset : p.offset + p.length] for p in cut) == data
    assert all(data[p.offset + p.length - 1 : p.offset + p.length] == b"\n" for p in cut[:-1])


def test_a_failing_worker_is_one_clear_error(tmp_path: Path) -> None:
    from seawall.core.errors import SeawallError
    from seawall.detect.engine import Engine, SourceProgram
    from seawall.telemetry.base import ReadStats
    from seawall.telemetry.lines import LineLimits

    log = _log(tmp_path)
    ruleset = load_rules([], builtin=True)
    engine = Engine(SourceProgram("k8s-audit", ruleset.rules, []))
    pool = Workers(engine, ruleset, 2, LineLimits(), True, str(log))
    try:
        pool.procs[1].kill()
        with pytest.raises(SeawallError, match="worker process stopped while reading"):
            pool.feed(str(log), ReadStats(), SMALL_PARTS)
    finally:
        pool.close()


def test_cli_workers_option(tmp_path: Path) -> None:
    log = _log(tmp_path)
    proc = run_cli("detect", "-s", "k8s-audit", str(log), "--no-state", "-f", "json", "--workers", "0")
    assert proc.returncode == 2 and "--workers" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("detect", "-s", "k8s-audit", str(log), "--no-state", "-f", "json", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "SW-K8S-EXEC" in {f["rule"] for f in json.loads(proc.stdout)["findings"]}


SAMPLES = Path(__file__).resolve().parents[2] / "devtools" / "samples" / "logs"


@pytest.mark.parametrize(
    ("source", "sample"),
    [
        ("falco", "falco/falco_events.json"),
        ("tetragon", "tetragon/tetragon.log"),
        (
            "container-logs",
            "container-logs/var/log/pods/shop_frontend-6f7d9c8b4-x2kqz_0f6b1c1e-3a7d-4f59-9d0e-6b9c2f4e8a11/nginx/0.log",
        ),
        (
            "container-logs",
            "container-logs/var/lib/docker/containers/9c4d3b2a1f0e9d8c7b6a59483726150f0e1d2c3b4a5968778695a4b3c2d1e0f9/"
            "9c4d3b2a1f0e9d8c7b6a59483726150f0e1d2c3b4a5968778695a4b3c2d1e0f9-json.log",
        ),
    ],
)
def test_other_sources_alike_with_workers(source: str, sample: str, tmp_path: Path) -> None:
    # the sample many times over (the file keeps its path: container logs name the pod by it)
    text = (SAMPLES / sample).read_bytes().rstrip(b"\n") + b"\n"
    log = tmp_path / sample
    log.parent.mkdir(parents=True)
    log.write_bytes(text * max(1, (2 << 20) // len(text)))
    reports = []
    for workers in (1, 2):
        options = DetectOptions(
            source=source, paths=[str(log)], state_path=None, workers=workers, parallel_min_bytes=0,
            part_bytes=64 << 10,
        )
        result = run(options, load_rules([], builtin=True))
        reports.append(([f.to_dict() for f in result.findings], result.stats.events, result.warnings))
    assert reports[1] == reports[0]
    assert reports[0][0] and reports[0][1] > 1000


def test_no_interpreter_for_workers_reads_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _log(tmp_path)
    one, _ = _run(log, workers=1)
    monkeypatch.setattr("sys.executable", str(tmp_path / "no-such-python"))
    two, counters = _run(log, workers=2)
    assert two == one
    assert any("worker processes not started" in w for w in counters["warnings"])


def test_a_worker_that_fails_answers_with_one_error_not_a_traceback() -> None:
    import os
    import signal
    from multiprocessing.connection import Connection

    from seawall.detect.parallel import WorkerError, serve

    their_read, our_write = os.pipe()
    our_read, their_write = os.pipe()
    inbox, outbox = Connection(our_write, readable=False), Connection(our_read, writable=False)
    inbox.send((None, "no-such-source", True, [], LineLimits()))  # a start it cannot use
    before = signal.getsignal(signal.SIGINT)
    try:
        serve(their_read, their_write)  # (here, in this process: returns after answering)
    finally:
        signal.signal(signal.SIGINT, before)
    answer = outbox.recv()
    inbox.close()
    outbox.close()
    assert isinstance(answer, WorkerError) and answer.message
    assert "Traceback" in answer.trace  # kept for SEAWALL_DEBUG, not printed
