"""Load test (issue 11): 60 s of audit webhook batches of 400 events posted to a running
`seawall serve` on 127.0.0.1, then the end-to-end counts compared: every event posted is counted
in, none dropped, and the findings (rule, count) are those of `seawall detect` on a file holding
the same events in the order posted.

Bounded in time (60 s of posting, SEAWALL_LOAD_SECONDS to change it) and in count (at most
LIMIT events); the sender behaves like the API server's webhook backend (a batch that was not
answered 200 is sent again until it is), so a 503 under backpressure slows it, never loses.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter

import httpx
import pytest

from tests.conftest import run_cli
from tests.service.conftest import make_token, source_row, wait_for, write_config

pytestmark = pytest.mark.slow
SECONDS = float(os.environ.get("SEAWALL_LOAD_SECONDS", "60"))
BATCH = 400
LIMIT = 5_000_000
HEAD = b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":['


def test_sixty_seconds_of_webhook_batches_end_to_end(tmp_path, database, service_factory) -> None:
    from devtools.detectgen import audit as synth

    config = write_config(tmp_path, database, sources=[{"name": "audit", "type": "k8s-audit-webhook"}])
    token = make_token(config, "admin")
    svc = service_factory(config).start()
    posted = tmp_path / "posted.jsonl"
    # benign traffic, 3% of it matched by rules, and the attack story after event 2,000
    gen = synth.generate(LIMIT, seed=11, story_at=2_000, noisy=0.03, step_ms=5)
    n = batches = not_ok = 0
    with open(posted, "wb") as out, svc.client(token) as c:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline and n < LIMIT:
            lines = [line for _, line in zip(range(BATCH), gen, strict=False)]
            if not lines:
                break
            body = HEAD + b",".join(lines) + b"]}"
            for _attempt in range(600):
                try:
                    r = c.post(
                        "/api/v1/ingest/k8s-audit/audit",
                        content=body,
                        headers={"Content-Type": "application/json"},
                    )
                    if r.status_code == 200:
                        break
                    assert r.status_code == 503, r.text  # backpressure is the only refusal
                except httpx.TimeoutException:
                    pass
                not_ok += 1
                time.sleep(0.1)
            else:
                raise AssertionError("a batch was refused for a minute")
            out.write(b"\n".join(lines) + b"\n")
            n += len(lines)
            batches += 1
        assert batches >= 10, f"only {batches} batches in {SECONDS} s"
        wait_for(lambda: source_row(c, "audit")["events_in"] >= n, timeout=600, what="the catch-up")
        row = source_row(c, "audit")
        stored: Counter[tuple[str, int]] = Counter()
        cursor = None
        while True:
            page = c.get(
                "/api/v1/findings",
                params={"source": "audit", "limit": 500, **({"cursor": cursor} if cursor else {})},
            ).json()
            stored.update((f["rule"], f["count"]) for f in page["items"])
            cursor = page["next"]
            if not cursor:
                break
    # end to end: every event in once, nothing dropped, the findings of a one-shot run
    assert row["events_in"] == n, (row, n)
    assert row["dropped"] == 0 and row["malformed"] == 0, row
    out = run_cli("detect", "--source", "k8s-audit", str(posted), "--format", "json", "--no-state", "-q")
    assert out.returncode in (0, 1), out.stderr[-2000:]
    expected = Counter((f["rule"], f.get("count") or 1) for f in json.loads(out.stdout)["findings"])
    assert stored == expected, (stored - expected, expected - stored)
    assert "SW-K8S-EXEC" in {rule for rule, _ in stored}, sorted(stored)  # the story's exec
    print(f"load test [{database.split(':')[0]}]: {n} events in {batches} batches, {not_ok} retries")
