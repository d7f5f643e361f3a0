"""A workload's image vulnerabilities and posture in the console, from the service's own jobs:
a `scan` job over a real registry (Debian's docker-registry, TLS + htpasswd) holding the demo image
as shop/frontend:1, an `audit` job of its Deployment (privileged), and an exec into one of its pods.
The image's history and labels are the attacker's text: the step that added the Python packages
carries a script payload, which the finding page shows as text, and so does a label, which the
incident and workload pages show as text (over HTTP and in Debian's chromium)."""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.registry import Registry, available, push, running_registry
from tests.conftest import REPO
from tests.console.test_browser import CHROMIUM, Watch, shot
from tests.scan.conftest import demo, demo_db  # noqa: F401 (session fixtures)
from tests.service.conftest import (
    Service,
    all_pages,
    audit_items,
    event_list,
    make_token,
    source_row,
    wait_for,
    write_config,
)

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.toolchain]

FRONTEND = "k8s/shop/Deployment/frontend"
XSS_HISTORY = "<img src=z onerror=alert(5)>"
XSS_LABEL = "<img src=w onerror=alert(6)>"
LABEL_KEY_ID = "AKIAZ7Q3RT5WLKM2XN4P"  # an AWS access key id a careless author left in a label
LABELS = {
    "org.opencontainers.image.title": XSS_LABEL,
    "org.example.deploy": f"aws_access_key_id={LABEL_KEY_ID}",
}
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      containers:
        - name: web
          image: IMAGE
          securityContext: {privileged: true}
"""


def _blob(root: Path, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256" / digest.split(":", 1)[1]).write_bytes(data)
    return digest


def hostile_copy(oci_dir: Path, tag: str, dest: Path) -> str:
    """The demo image with the history step of its pip layer ending in a script payload (a
    Dockerfile's RUN line is whatever its author wrote) and labels holding another one and an AWS
    key (`LABEL` is the author's text too). The layers are hard links to the cached
    image's (read only here); every file written is a new file of the copy."""
    (dest / "blobs" / "sha256").mkdir(parents=True)
    for blob in (oci_dir / "blobs" / "sha256").iterdir():
        os.link(blob, dest / "blobs" / "sha256" / blob.name)
    shutil.copyfile(oci_dir / "oci-layout", dest / "oci-layout")
    index = json.loads((oci_dir / "index.json").read_text())
    (desc,) = [m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == tag]
    blobs = oci_dir / "blobs" / "sha256"
    manifest = json.loads((blobs / desc["digest"].split(":", 1)[1]).read_bytes())
    config = json.loads((blobs / manifest["config"]["digest"].split(":", 1)[1]).read_bytes())
    steps = [h for h in config["history"] if "pip install" in h.get("created_by", "")]
    assert steps, [h.get("created_by") for h in config["history"]]
    steps[0]["created_by"] += f" # {XSS_HISTORY}"
    config.setdefault("config", {})
    config["config"]["Labels"] = {**(config["config"].get("Labels") or {}), **LABELS}
    raw_config = json.dumps(config).encode()
    manifest["config"].update(digest=_blob(dest, raw_config), size=len(raw_config))
    raw_manifest = json.dumps(manifest).encode()
    desc.update(digest=_blob(dest, raw_manifest), size=len(raw_manifest))
    (dest / "index.json").write_text(json.dumps(index))
    return str(steps[0]["created_by"])


@pytest.fixture(scope="module")
def registry(demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, str]]:  # noqa: F811
    reason = available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    layout = tmp_path_factory.mktemp("hostile") / "oci"
    created_by = hostile_copy(demo.oci_dir, demo.tag, layout)
    with running_registry() as reg:
        push(reg, f"oci:{layout}:{demo.tag}", "shop/frontend:1")
        yield reg, created_by


def test_the_incident_shows_its_workloads_scanned_image_and_posture(
    tmp_path: Path,
    registry: tuple[Registry, str],
    demo_db: Path,  # noqa: F811
) -> None:
    reg, created_by = registry
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "frontend.yaml").write_text(DEPLOYMENT.replace("IMAGE", f"{reg.host}/shop/frontend:1"))
    config = write_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'store.db'}",
        sources=[
            {"name": "audit", "type": "k8s-audit-webhook"},
            {
                "name": "nightly",
                "type": "scan",
                "registry": reg.host,
                "ca_cert": str(reg.ca_cert),
                "username": reg.username,
                "password_env": "TEST_REGISTRY_PASSWORD",
                "db": str(demo_db),
                "offline": True,
                "interval": "1d",
                "workloads": {"shop/frontend": [FRONTEND]},
            },
            {"name": "manifests", "type": "audit", "paths": [str(manifests)], "interval": 3},
        ],
        # isolation planned from a kubectl dump of the same cluster (shop/frontend and its pods)
        respond={"from": [str(REPO / "devtools/samples/respond/k8s-shop.json")]},
    )
    tokens = {role: make_token(config, role) for role in ("viewer", "admin")}
    home = tmp_path / "home"
    home.mkdir()
    svc = Service(
        config, {"TEST_REGISTRY_PASSWORD": reg.password, "HOME": str(home), "TMPDIR": str(home)}
    ).start()
    try:
        ev = dict(audit_items()[0])
        ev.update(
            verb="create",
            stage="ResponseStarted",
            objectRef={
                "resource": "pods",
                "subresource": "exec",
                "namespace": "shop",
                "name": "frontend-6f7d9c8b4-x2kqz",
                "apiVersion": "v1",
            },
            requestURI="/api/v1/namespaces/shop/pods/frontend-6f7d9c8b4-x2kqz/exec?command=sh",
        )
        with svc.client(tokens["admin"]) as c:
            assert c.post("/api/v1/ingest/k8s-audit/audit", content=event_list([ev])).status_code == 200
            wait_for(lambda: source_row(c, "nightly").get("runs", 0) >= 1, timeout=600, what="the scan")
            wait_for(lambda: source_row(c, "manifests").get("runs", 0) >= 1, timeout=120, what="the audit")
            wait_for(lambda: source_row(c, "audit")["events_in"] == 1, what="the exec event")
            inc = next(i for i in all_pages(c, "/api/v1/incidents") if i["workload"] == FRONTEND)
            vulns = all_pages(
                c, "/api/v1/findings", source="nightly", workload=FRONTEND, kind="vulnerability"
            )
        django = [f for f in vulns if (f.get("package") or {}).get("name", "").lower() == "django"]
        assert django and all(f["location"].get("layer_created_by") == created_by for f in django)

        with svc.client(tokens["viewer"]) as v:
            page = v.get(f"/incidents/{inc['id']}").text
            known = page.split('id="known"', 1)[1].split("</table>", 1)[0]
            assert re.search(r"<td>[Dd]jango 3\.2(\.0)?</td>", known), known[:2000]
            # the most severe first; the posture findings of the workload one click away
            assert "All of them" in page or "privileged" in known.lower()
            posture = v.get("/findings", params={"workload": FRONTEND, "kind": "misconfiguration"}).text
            assert "privileged" in posture.lower()
            wl = v.get("/workload", params={"key": FRONTEND}).text
            assert f"{reg.host}/shop/frontend:1" in wl and "sha256:" in wl
            last_scan = re.search(r"<dt>Last scan</dt><dd>([^<]+)</dd>", wl)
            assert last_scan and last_scan.group(1) != "never"
            # the image's labels of its last scan: escaped, the AWS key redacted (scan/labels.py)
            incident = v.get(f"/incidents/{inc['id']}").text
            for text in (wl, incident):
                shown_labels = text.split('class="image-labels"', 1)[1].split("</table>", 1)[0]
                assert html.escape(XSS_LABEL, quote=False) in shown_labels and XSS_LABEL not in text
                assert "aws_access_key_id=AKIA****" in shown_labels and LABEL_KEY_ID not in text
            # the per-source counts are served from a cache refreshed in the background (10 s)
            wait_for(lambda: "<td>nightly</td>" in v.get("/scans").text, 60, "the scan on /scans")
            scans = v.get("/scans").text
            row = re.search(r"<td>nightly</td><td><a[^>]*>vulnerability</a></td>(.*?)</tr>", scans, re.S)
            assert row and int(re.findall(r'<td class="num">(\d+)</td>', row.group(1))[-1]) == len(vulns)
            assert "<td>manifests</td>" in scans
            detail = v.get(f"/findings/{django[0]['id']}").text
            assert XSS_HISTORY not in detail
            shown = re.search(r'<code id="created-by">([^<]*)</code>', detail)
            assert shown and html.unescape(shown.group(1)) == created_by
            assert "/shop/frontend:1</code>" in detail
        with svc.client(tokens["admin"]) as c:  # isolate: the `seawall respond` plan for the Deployment
            plan = c.get(f"/incidents/{inc['id']}/isolate").text
            assert '<code id="ref">k8s:shop/pod/frontend-6f7d9c8b4-x2kqz</code>' in plan
            # the dump's own policies still let traffic in: the plan says so, and what stays open
            assert 'id="plan"' in plan and '<b id="isolated">NO: traffic is still allowed' in plan
            assert (
                "create NetworkPolicy seawall-quarantine-" in plan
                and "patch Pod frontend-6f7d9c8b4-x2kqz" in plan
            )
            residual = plan.split("What stays reachable", 1)[1].split("What it costs", 1)[0]
            assert "shop/allow-same-namespace" in residual and "shop/allow-dns" in residual
            assert "NetworkPolicy" in plan and 'id="apply"' in plan

        if not Path(CHROMIUM).exists():
            pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (devtools/system-deps.sh)")
        sync_api = pytest.importorskip("playwright.sync_api")
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page_: Any = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            watch = Watch(page_)
            page_.goto(svc.url + "/login")
            page_.fill("#token", tokens["viewer"])
            page_.click("#login")
            page_.wait_for_url(svc.url + "/")
            page_.goto(f"{svc.url}/incidents/{inc['id']}")
            assert "django" in page_.locator("#known").inner_text().lower()
            assert XSS_LABEL in page_.locator(".image-labels").inner_text()  # the label, as text
            assert page_.locator("img[src=w]").count() == 0
            shot(page_, "08-incident-with-scanned-image")
            page_.goto(f"{svc.url}/workload?key={FRONTEND}")
            assert XSS_LABEL in page_.locator(".image-labels").inner_text()
            assert page_.locator("img[src=w]").count() == 0
            shot(page_, "10-workload-image-labels")
            page_.goto(f"{svc.url}/findings/{django[0]['id']}")
            assert page_.locator("#created-by").inner_text() == created_by  # the payload, as text
            assert page_.locator("img[src=z]").count() == 0
            shot(page_, "09-finding-hostile-history")
            assert watch.dialogs == [] and watch.csp == []
            browser.close()
    finally:
        svc.kill()
