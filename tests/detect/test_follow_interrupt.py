"""`--follow` runs until the user stops it: Ctrl-C must end it at once (exit 130, no traceback),
although lines are read by a read-ahead thread that may be waiting for the file to grow."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from devtools.detectgen import audit as synth

READY_WITHIN = 180.0  # seconds for the first finding (a busy machine: imports, rules, first batch)
STOP_WITHIN = 15.0  # seconds from Ctrl-C to the exit (about 0.3 s when idle; a hang never ends)


def _line(stream: IO[bytes], deadline: float) -> bytes:
    """The next line of `stream`, or a failure once `deadline` (monotonic) has passed."""
    buf = b""
    fd = stream.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        assert left > 0, f"no complete output line in time (have {buf[:200]!r})"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1)
            assert chunk, f"output ended before a complete line (have {buf[:200]!r})"
            buf += chunk
    return buf


def test_ctrl_c_ends_follow_promptly(tmp_path: Path) -> None:
    log = tmp_path / "live.log"
    env = {**os.environ, "SEAWALL_CACHE_DIR": str(tmp_path / "cache")}  # first-seen state here
    # the attack story at the end: its findings are printed when the batch holding the last lines
    # is evaluated, which --follow does once it has read up to the end of the file
    log.write_bytes(b"\n".join(synth.generate(200, story_at=199)) + b"\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "seawall", "detect", "-s", "k8s-audit", str(log), "--follow", "-f", "jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # a shell may start background jobs with SIGINT ignored; a user's terminal does not
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        first = json.loads(_line(proc.stdout, time.monotonic() + READY_WITHIN))
        assert first["rule"]  # the end of the file was read: now waiting for it to grow
        time.sleep(1)
        assert proc.poll() is None, "--follow ended by itself"
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {STOP_WITHIN} s after Ctrl-C") from None
        elapsed = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    assert elapsed < STOP_WITHIN, elapsed
    assert "Traceback" not in err.decode()
    assert err.decode().strip().splitlines()[-1] == "seawall: interrupted"
