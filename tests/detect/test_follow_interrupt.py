"""`--follow` runs until the user stops it: Ctrl-C must end it at once (exit 130, no traceback),
although lines are read by a read-ahead thread that may be waiting for the file to grow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from devtools.detectgen import audit as synth


def test_ctrl_c_ends_follow_promptly(tmp_path: Path) -> None:
    log = tmp_path / "live.log"
    env = {**os.environ, "SEAWALL_CACHE_DIR": str(tmp_path / "cache")}  # first-seen state here
    log.write_bytes(b"\n".join(synth.generate(200, story_at=100)) + b"\n")  # with the attack story
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
        first = json.loads(proc.stdout.readline())  # the story's findings: reading has started
        assert first["rule"]
        time.sleep(1)  # now waiting for the file to grow
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        elapsed = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert elapsed < 3, elapsed
    assert "Traceback" not in err.decode()
    assert err.decode().strip().splitlines()[-1] == "seawall: interrupted"
