"""Defects of issue 18 in detect's input handling, each reproduced: invalid UTF-8 in Falco and
Tetragon lines is counted; a CloudTrail file shaped `[{"Records": [...]}]` is its records and one
whose `Records` is not a list is damage (exit 2 when nothing else was read), not one event; an
unreadable directory is a warning (exit 2 when nothing could be read), not "0 findings"; a large
CloudTrail document is read record by record (memory does not grow with the file); SIGTERM stops
the worker processes."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from devtools.detectgen import audit as synth
from devtools.detectgen import ecs_day
from tests.conftest import REPO, run_cli


def detect(*args: str) -> tuple[int, dict, str]:
    proc = run_cli("detect", *args, "--format", "json", "--no-state")
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
    return proc.returncode, report, proc.stderr


def test_invalid_utf8_is_counted_in_falco_and_tetragon(tmp_path: Path) -> None:
    falco = tmp_path / "falco.json"
    falco.write_bytes(
        b'{"rule":"Terminal shell in container","priority":"Warning","time":"2026-03-03T10:00:00Z",'
        b'"output":"shell \xff\xfe spawned",'
        b'"output_fields":{"container.id":"3ad7b26ded6d","proc.cmdline":"bash"}}\n'
        b'{"rule":"Terminal shell in container","priority":"Warning","time":"2026-03-03T10:00:01Z",'
        b'"output":"fine","output_fields":{"container.id":"3ad7b26ded6d","proc.cmdline":"bash"}}\n'
    )
    code, report, _ = detect("--source", "falco", str(falco))
    assert code == 0 and report["target"]["metadata"]["events"] == 2
    assert any("1 line(s) with invalid UTF-8" in w for w in report["warnings"])
    tetragon = tmp_path / "tetragon.log"
    tetragon.write_bytes(
        b'{"time":"2026-03-03T10:00:00Z","node_name":"n\xc3","process_exec":{"process":{"binary":"/bin/sh",'
        b'"arguments":"-c id","pod":{"namespace":"web","name":"api"}}}}\n'
    )
    code, report, _ = detect("--source", "tetragon", str(tetragon))
    assert code == 0 and any("1 line(s) with invalid UTF-8" in w for w in report["warnings"])


def _record(name: str) -> dict:
    return {
        "eventTime": "2026-03-03T10:00:00Z",
        "eventSource": "ecs.amazonaws.com",
        "eventName": name,
        "eventID": name,
        "requestParameters": {"cluster": "prod", "task": "0f9d", "container": "web"},
    }


def test_cloudtrail_document_shapes(tmp_path: Path) -> None:
    listed = tmp_path / "listed.json"
    listed.write_bytes(
        orjson.dumps(
            [
                {"Records": [_record("ExecuteCommand"), _record("ListTasks")]},
                {"Records": [_record("DescribeTasks")]},
            ]
        )
    )
    code, report, _ = detect("--source", "cloudtrail", str(listed))
    assert code == 0 and report["target"]["metadata"]["events"] == 3
    assert [f["rule"] for f in report["findings"]] == ["SW-AWS-ECS-EXEC"]
    broken = tmp_path / "broken.json"
    broken.write_bytes(orjson.dumps({"Records": {"eventName": "ExecuteCommand"}}))
    code, report, err = detect("--source", "cloudtrail", str(broken))
    assert code == 2 and '"Records" is not a list' in err.strip().splitlines()[-1]
    # beside a good file: the good one is analyzed, the bad one is a warning
    code, report, err = detect("--source", "cloudtrail", str(broken), str(listed))
    assert code == 0 and report["target"]["metadata"]["events"] == 3
    assert any('"Records" is not a list' in w for w in report["warnings"])


def test_an_object_over_several_lines_is_one_document_and_a_cut_first_line_is_not(tmp_path: Path) -> None:
    # `{"eventVersion": "1.08",` on the first line and the rest below: one event (it was read as
    # JSON lines: two malformed lines, nothing read)
    text = json.dumps(_record("ExecuteCommand"), indent=1)
    spread = tmp_path / "spread.json"
    spread.write_text(text.replace("{\n ", "{", 1))
    assert not spread.read_text().splitlines()[0].endswith(("{", "}"))
    code, report, _ = detect("--source", "cloudtrail", str(spread))
    assert code == 0 and report["target"]["metadata"]["events"] == 1
    assert [f["rule"] for f in report["findings"]] == ["SW-AWS-ECS-EXEC"]
    # JSON lines whose first line was cut (rotation): that line is counted, the others are read
    line = orjson.dumps(_record("ExecuteCommand"))
    cut = tmp_path / "cut.json"
    cut.write_bytes(b"\n".join([line[: len(line) // 2], line, orjson.dumps(_record("ListTasks"))]) + b"\n")
    code, report, err = detect("--source", "cloudtrail", str(cut))
    assert code == 0 and report["target"]["metadata"]["events"] == 2
    assert [f["rule"] for f in report["findings"]] == ["SW-AWS-ECS-EXEC"]
    assert "1 malformed line" in err


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_an_unreadable_directory_is_never_a_clean_result() -> None:
    """Run as `nobody` (root reads everything): a directory it cannot list, and one it cannot enter."""
    import tempfile

    top = Path(tempfile.mkdtemp(prefix="seawall-unreadable-", dir="/tmp"))
    try:
        top.chmod(0o755)
        root = top / "logs"
        (root / "locked").mkdir(parents=True)
        (root / "locked" / "audit.log").write_bytes(b"\n".join(synth.generate(10, story_at=2)) + b"\n")
        (root / "locked").chmod(0)
        root.chmod(0o755)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        base = [
            *nobody,
            sys.executable,
            "-m",
            "seawall",
            "detect",
            "-s",
            "k8s-audit",
            "--no-state",
            "-f",
            "json",
        ]
        for target in (root, root / "locked" / "deeper"):
            proc = subprocess.run(
                [*base, str(target)], capture_output=True, text=True, timeout=300, cwd=REPO, check=False
            )
            assert proc.returncode == 2, proc.stdout
            assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
            assert "Permission denied" in proc.stderr
        readable = top / "audit.log"
        readable.write_bytes(b"\n".join(synth.generate(10, story_at=2)) + b"\n")
        readable.chmod(0o644)
        proc = subprocess.run(
            [*base, str(root), str(readable)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        assert report["findings"] and any("cannot read the directory" in w for w in report["warnings"])
    finally:
        (top / "logs" / "locked").chmod(0o755)
        shutil.rmtree(top, ignore_errors=True)


def _peak_rss_mib(path: Path) -> float:
    code = (
        "import resource, runpy, sys; sys.argv = ['seawall', 'detect', '-s', 'cloudtrail', sys.argv[1], "
        "'--no-state', '-q', '-f', 'json', '-o', '/dev/null']\n"
        "try:\n    runpy.run_module('seawall', run_name='__main__')\nexcept SystemExit:\n    pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return int(proc.stdout.strip().splitlines()[-1]) / 1024


def test_a_large_cloudtrail_file_is_read_record_by_record(tmp_path: Path) -> None:
    records = ecs_day.records()
    small, large = tmp_path / "small.json.gz", tmp_path / "large.json.gz"
    # both beyond one batch (32 MiB of records): ~55 MB and ~145 MB once decompressed
    small.write_bytes(gzip.compress(orjson.dumps({"Records": records * 3}), compresslevel=1))
    large.write_bytes(gzip.compress(orjson.dumps({"Records": records * 8}), compresslevel=1))
    before, after = _peak_rss_mib(small), _peak_rss_mib(large)
    assert after - before < 60, f"peak memory {before:.0f} -> {after:.0f} MiB for 2.7x the records"


def test_sigterm_stops_the_worker_processes(tmp_path: Path) -> None:
    log = synth.write(tmp_path / "audit.log", 60_000, story_at=100)
    script = (
        "import signal, sys\n"
        "from seawall.cli import app\n"
        "from seawall.detect import DetectOptions, run\n"
        "signal.signal(signal.SIGTERM, app._on_sigterm)\n"
        "try:\n"
        "    while True:  # until terminated\n"
        "        run(DetectOptions(source='k8s-audit', paths=[sys.argv[1]], workers=2,\n"
        "                          parallel_min_bytes=1 << 20,\n"
        "                          part_bytes=1 << 20, state_path=None))\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(143)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(log)], cwd=REPO)
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while not workers and time.monotonic() < deadline:
        time.sleep(0.2)
        workers = _children(proc.pid)
    assert workers, "no worker process started"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=180) == 143
    time.sleep(0.5)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists() and _state(pid) != "Z"]
    assert not alive, f"worker processes still running: {alive}"


def _children(pid: int) -> set[int]:
    out = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        out.update(int(p) for p in task.read_text().split())
    return out


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_events_of_another_source_are_a_skip_not_silence(tmp_path: Path) -> None:
    trail = tmp_path / "trail.json"
    trail.write_bytes(orjson.dumps({"Records": [_record("ExecuteCommand"), _record("ListTasks")]}))
    code, report, _ = detect("--source", "k8s-audit", str(trail))
    assert code == 0 and not report["findings"]
    assert report["skipped"] == [
        {
            "subject": "event(s) of the k8s-audit input",
            "count": 2,
            "category": "unsupported",
            "reason": "none of the fields of a k8s-audit event (another kind of input? check --source)",
        }
    ]
    assert any("2 event(s) of the k8s-audit input not analyzed" in w for w in report["warnings"])
