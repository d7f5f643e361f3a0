"""`make demo`, the service part: `seawall serve` on 127.0.0.1 with the bundled logs flowing in
through the real receivers (audit webhook POSTs, Falco POSTs, container logs tailed, CloudTrail
from a moto S3 bucket), then the incidents it built, read through the API; then it stops."""

from __future__ import annotations

import gzip
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import yaml

REPO = Path(__file__).resolve().parent.parent
LOGS = REPO / "devtools/samples/logs"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_demo() -> int:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="seawall-serve-demo-"))
    moto_port = _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    moto_url = f"http://127.0.0.1:{moto_port}"
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="eu-west-1",
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )
    s3.create_bucket(Bucket="org-logs", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    trail = next((LOGS / "cloudtrail").glob("*.json.gz"))
    prefix = "AWSLogs/111122223333/CloudTrail/eu-west-1/"
    s3.put_object(Bucket="org-logs", Key=prefix + "2026/03/02/" + trail.name, Body=trail.read_bytes())
    config = work / "seawall.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "listen": "127.0.0.1:0",
                "data_dir": str(work / "data"),
                # the bundled logs are dated March 2026: with the default retention (findings
                # last seen more than 90 days ago deleted every minute) they would go mid-demo
                "retention": {"findings_days": 0, "archive_days": 0},
                "sources": [
                    {"name": "audit", "type": "k8s-audit-webhook"},
                    {"name": "falco", "type": "falco-http"},
                    {
                        "name": "pods",
                        "type": "file",
                        "format": "container-logs",
                        "paths": [str(LOGS / "container-logs")],
                    },
                    {
                        "name": "trail",
                        "type": "s3",
                        "format": "cloudtrail",
                        "bucket": "org-logs",
                        "prefix": prefix,
                        "region": "eu-west-1",
                        "endpoint_url": moto_url,
                        "poll_interval": 1,
                    },
                ],
            }
        )
    )
    seawall = [sys.executable, "-m", "seawall"]
    token = subprocess.run(
        [*seawall, "tokens", "create", "--config", str(config), "--role", "admin", "--name", "demo"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()[-1]
    proc = subprocess.Popen(
        [*seawall, "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url = ""
    ready = threading.Event()

    def pump() -> None:
        nonlocal url
        assert proc.stdout is not None
        for line in proc.stdout:
            if "serving on " in line and not url:
                url = line.split("serving on ", 1)[1].split()[0]
                print(line.rstrip(), flush=True)
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(120):
            print("demo: the service did not start", file=sys.stderr)
            return 1
        print(f"address: {url}\ntoken (admin): {token[:10]}... (full token in {config.parent}/token)")
        (config.parent / "token").write_text(token + "\n")
        headers = {"Authorization": f"Bearer {token}"}
        items = [
            orjson.loads(x)
            for x in gzip.decompress(
                (LOGS / "k8s-audit/kube-apiserver-audit.log.gz").read_bytes()
            ).splitlines()
            if x.strip()
        ]
        with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
            for i in range(0, len(items), 400):
                body = orjson.dumps(
                    {"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": items[i : i + 400]}
                )
                c.post("/api/v1/ingest/k8s-audit/audit", content=body).raise_for_status()
            for line in (LOGS / "falco/falco_events.json").read_bytes().splitlines():
                c.post("/api/v1/ingest/falco/falco", content=line).raise_for_status()
            print(
                f"posted {len(items)} audit events as EventLists of 400 and 3 Falco alerts; "
                "container logs tailed; CloudTrail read from s3://org-logs/" + prefix
            )
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                rows = {s["name"]: s for s in c.get("/api/v1/sources").json()["items"]}
                if (
                    rows["audit"]["events_in"] == len(items)
                    and rows["trail"]["events_in"]
                    and rows["pods"]["events_in"]
                ):
                    break
                time.sleep(0.5)
            for s in c.get("/api/v1/sources").json()["items"]:
                print(
                    f"  source {s['name']:<6} {s['type']:<18} events in {s['events_in']:>5}  "
                    f"findings {s['findings_out']:>3}  lag {s.get('lag_events', s.get('lag_bytes', 0))}"
                )
            incidents = c.get("/api/v1/incidents", params={"limit": 20}).json()["items"]
            print(f"\nincidents ({len(incidents)}), newest first:")
            for inc in incidents:
                print(
                    f"  #{inc['id']:<3} {inc['severity']:<8} {inc['workload'][:38]:<38} "
                    f"{inc['finding_count']:>2} findings, {inc['events']:>3} events; "
                    f"{', '.join(inc['tactics'][:4])}"
                )
            top = max(incidents, key=lambda i: (i["severity"] == "critical", i["finding_count"]))
            detail = c.get(f"/api/v1/incidents/{top['id']}").json()
            print(f"\nincident #{top['id']}: {detail['summary'][:400]}")
            for t in detail["timeline"][:8]:
                print(
                    f"  {t['time'][:19]}  {t['source']:<14} {t['severity']:<8} {t['title'][:60]}"
                    + (f"  ({t['summary']})" if t.get("summary") else "")
                )
        from devtools.demo_console import browse  # the web console, in a real (headless) browser

        print(f"\nconsole: {url}/ (log in with the token in {config.parent}/token)")
        browse(url, token, REPO / ".cache" / "demo", top["id"])
        return 0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        moto.stop()
        print("service stopped")


if __name__ == "__main__":
    raise SystemExit(service_demo())
