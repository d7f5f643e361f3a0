"""`seawall serve` end to end: real HTTP clients post to the running service, the API reads back."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.service.conftest import (
    AUDIT_LOG,
    FALCO_LOG,
    all_pages,
    audit_items,
    event_list,
    make_token,
    source_row,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.slow


def _detect_one_shot(source: str, path: str) -> list[tuple[str, int]]:
    out = run_cli("detect", "--source", source, path, "--format", "json", "--no-state")
    assert out.returncode in (0, 1), out.stderr
    return sorted((f["rule"], f["count"]) for f in json.loads(out.stdout)["findings"])


def test_webhook_to_findings_incidents_and_roles(tmp_path, database, service_factory) -> None:
    config = write_config(
        tmp_path,
        database,
        sources=[
            {"name": "audit", "type": "k8s-audit-webhook"},
            {"name": "falco", "type": "falco-http"},
        ],
    )
    admin, viewer, analyst = (
        make_token(config, "admin"),
        make_token(config, "viewer"),
        make_token(config, "analyst"),
    )
    ingest = make_token(config, "ingest")
    svc = service_factory(config).start()
    items = audit_items()
    with svc.client(ingest) as c:
        for i in range(0, len(items), 400):
            r = c.post(
                "/api/v1/ingest/k8s-audit/audit",
                content=event_list(items[i : i + 400]),
                headers={"Content-Type": "application/json"},
            )
            assert r.status_code == 200, r.text
        for line in FALCO_LOG.read_bytes().splitlines():
            assert c.post("/api/v1/ingest/falco", content=line).status_code == 200
        # an ingest token reads nothing
        assert c.get("/api/v1/findings").status_code == 403

    with svc.client(viewer) as c:
        wait_for(lambda: source_row(c, "audit")["events_in"] == len(items), what="audit events committed")
        wait_for(lambda: source_row(c, "falco")["events_in"] == 3, what="falco events committed")
        findings = all_pages(c, "/api/v1/findings", source="audit", limit=3)
        # the same findings, with the same counts, as `seawall detect` on the file
        assert sorted((f["rule"], f["count"]) for f in findings) == _detect_one_shot(
            "k8s-audit", str(AUDIT_LOG)
        )
        assert len({f["id"] for f in findings}) == len(findings)
        for f in findings:
            assert f["first_seen"] and f["last_seen"] and f["kind"] == "detection"
            assert f["location"]["path"] == "receiver:audit"
        falco = all_pages(c, "/api/v1/findings", source="falco")
        assert sorted((f["rule"], f["count"]) for f in falco) == _detect_one_shot("falco", str(FALCO_LOG))

        incidents = all_pages(c, "/api/v1/incidents")
        by_workload = {i["workload"]: i for i in incidents}
        pod = by_workload["k8s/data/Pod/etl-debug"]
        assert pod["severity"] == "critical"
        assert "T1611" in pod["techniques"] and "privilege-escalation" in pod["tactics"]
        frontend = by_workload["k8s/shop/Deployment/frontend"]  # Falco's pod, pinned to its Deployment
        assert frontend["sources"] == ["falco"]
        ids = {f["id"] for f in findings + falco}
        for inc in incidents:
            assert inc["finding_ids"] and set(inc["finding_ids"]) <= ids
        detail = c.get(f"/api/v1/incidents/{pod['id']}").json()
        assert [t["rule"] for t in detail["timeline"]]
        assert detail["summary"].startswith("k8s/data/Pod/etl-debug: ")
        # filters
        crit = all_pages(c, "/api/v1/findings", severity="critical")
        assert crit and all(f["severity"] == "critical" for f in crit)
        t1611 = all_pages(c, "/api/v1/findings", technique="T1611")
        assert t1611 and all(any(a.startswith("T1611") for a in f["attack"]) for f in t1611)
        assert all(i["namespace"] == "data" for i in all_pages(c, "/api/v1/incidents", namespace="data"))
        # a viewer cannot change state nor see the audit trail
        r = c.post(f"/api/v1/incidents/{pod['id']}/state", json={"state": "acknowledged"})
        assert r.status_code == 403
        assert c.get("/api/v1/audit").status_code == 403
        metrics = c.get("/metrics").text
        assert f'seawall_events_in_total{{source="audit"}} {len(items)}.0' in metrics

    with svc.client(analyst) as c:
        r = c.post(f"/api/v1/incidents/{pod['id']}/state", json={"state": "acknowledged", "note": "looking"})
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "acknowledged" and r.json()["state_by"].endswith(":test analyst")
        r = c.post(
            f"/api/v1/incidents/{by_workload['k8s/kube-system']['id']}/state",
            json={"state": "false_positive", "suppress": True, "suppress_days": 30},
        )
        assert r.status_code == 200
        sup = c.get("/api/v1/suppressions").json()["items"]
        assert sup and all(s["workload"] == "k8s/kube-system" for s in sup)
        assert c.post("/api/v1/tokens", json={"role": "admin", "name": "x"}).status_code == 403

    with svc.client(admin) as c:
        trail = c.get("/api/v1/audit").json()["items"]
        actions = [(e["action"], e["target"]) for e in trail]
        assert ("incident.state", f"incident:{pod['id']}") in actions
        assert any(a == "suppression.create" for a, _ in actions)
        assert any(a == "token.create" for a, _ in actions)
        created = c.post("/api/v1/tokens", json={"role": "viewer", "name": "temp"}).json()
        assert (
            c.get("/api/v1/findings", headers={"Authorization": f"Bearer {created['token']}"}).status_code
            == 200
        )
        assert c.delete(f"/api/v1/tokens/{created['id']}").status_code == 200
        assert (
            c.get("/api/v1/findings", headers={"Authorization": f"Bearer {created['token']}"}).status_code
            == 401
        )
        assert "/api/v1/incidents" in c.get("/api/v1/openapi.json").json()["paths"]

    # a restart changes nothing: no finding, count or incident moves
    before = sorted((f["id"], f["count"]) for f in findings)
    svc.stop()
    svc2 = service_factory(config).start()
    with svc2.client(viewer) as c:
        assert c.get("/healthz").status_code == 200
        again = all_pages(c, "/api/v1/findings", source="audit")
        assert sorted((f["id"], f["count"]) for f in again) == before
        assert len(all_pages(c, "/api/v1/incidents")) == len(incidents)


def test_bad_requests_are_4xx_counted_and_inert(tmp_path, service_factory) -> None:
    config = write_config(
        tmp_path, f"sqlite:///{tmp_path / 'store.db'}", limits={"max_request_bytes": 200_000}
    )
    token = make_token(config, "admin")
    svc = service_factory(config).start()
    with svc.client() as anon:
        assert anon.get("/healthz").status_code == 200
        assert anon.get("/api/v1/incidents").status_code == 401
        assert anon.post("/api/v1/ingest/k8s-audit", content=b"{}").status_code == 401
        assert anon.get("/api/v1/findings", headers={"Authorization": "Bearer sw_nope"}).status_code == 401
    script = "<script>alert(1)</script>'; DROP TABLE findings; --"
    with svc.client(token) as c:
        assert c.post("/api/v1/ingest/k8s-audit", content=b"{not json").status_code == 400
        assert c.post("/api/v1/ingest/k8s-audit", content=b'{"kind": "Pod"}').status_code == 400
        assert c.post("/api/v1/ingest/k8s-audit", content=b"[1,2]").status_code == 400
        assert c.post("/api/v1/ingest/k8s-audit", content=b"x" * 300_000).status_code == 413
        assert c.post("/api/v1/ingest/k8s-audit/nosuch", content=event_list([])).status_code == 404
        assert c.post("/api/v1/ingest/falco", content=b"{}").status_code == 404  # no falco source here
        # a hostile event: exec into a pod whose name is a script and SQL
        ev = dict(audit_items()[0])
        ev.update(
            verb="create",
            objectRef={
                "resource": "pods",
                "subresource": "exec",
                "namespace": "default",
                "name": script,
                "apiVersion": "v1",
            },
            requestURI=f"/api/v1/namespaces/default/pods/{script}/exec?command=sh",
        )
        assert c.post("/api/v1/ingest/k8s-audit", content=event_list([ev])).status_code == 200
        for params in (
            {"severity": script},
            {"kind": script},
            {"since": script},
            {"cursor": script},
            {"state": script},
            {"limit": "0"},
            {"limit": "x"},
        ):
            r = c.get("/api/v1/findings" if "state" not in params else "/api/v1/incidents", params=params)
            assert 400 <= r.status_code < 500, (params, r.status_code)
        for params in ({"workload": script}, {"namespace": script}, {"technique": script}, {"rule": script}):
            r = c.get("/api/v1/findings", params=params)
            assert r.status_code == 200 and r.json()["items"] == []
            assert c.get("/api/v1/incidents", params=params).status_code == 200
        wait_for(lambda: source_row(c, "default")["events_in"] == 1, what="the hostile event committed")
        found = all_pages(c, "/api/v1/findings")
        exec_ = [f for f in found if f["resource"].get("name") == script]
        assert exec_, "the exec into the hostile pod name must still be detected"
        assert all_pages(c, "/api/v1/findings", workload=exec_[0]["workload"])  # stored as data, found back
        metrics = c.get("/metrics").text
        assert 'seawall_requests_rejected_total{reason="bad_request"}' in metrics
        assert 'seawall_requests_rejected_total{reason="too_large"}' in metrics
        assert 'seawall_requests_rejected_total{reason="unauthenticated"}' in metrics
        # the same refusals per receiving source: 3 malformed, 1 oversized, 1 unauthenticated
        refused = source_row(c, "default")["refused"]
        assert refused == {"bad_request": 3, "too_large": 1, "unauthenticated": 1}, refused
        assert 'seawall_requests_refused_total{reason="bad_request",source="default"} 3.0' in metrics
        assert 'seawall_requests_refused_total{reason="too_large",source="default"} 1.0' in metrics
        with svc.client(make_token(config, "viewer")) as viewer:  # a viewer may not post events
            assert viewer.post("/api/v1/ingest/k8s-audit/default", content=event_list([])).status_code == 403
        assert source_row(c, "default")["refused"]["forbidden"] == 1
    assert svc.proc is not None and svc.proc.poll() is None  # still serving


def test_retention_deletes_findings_older_than_the_setting(tmp_path, database, service_factory) -> None:
    """`retention.findings_days`: findings last seen before it are deleted (and their incidents
    once empty) by the retention run (every minute); recent ones stay; the run is in the trail."""
    from datetime import UTC, datetime

    config = write_config(tmp_path, database, retention={"findings_days": 30, "archive_days": 30})
    token = make_token(config)
    svc = service_factory(config).start()
    old = audit_items()  # March 2026: older than 30 days when this runs
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fresh = dict(old[0])
    fresh.update(
        auditID="retention-fresh-0001",
        verb="create",
        stage="ResponseComplete",
        requestReceivedTimestamp=now,
        stageTimestamp=now,
        objectRef={"resource": "pods", "subresource": "exec", "namespace": "keep", "name": "recent"},
        requestURI="/api/v1/namespaces/keep/pods/recent/exec?command=sh",
    )
    with svc.client(token) as c:
        for i in range(0, len(old), 400):
            assert c.post("/api/v1/ingest/k8s-audit", content=event_list(old[i : i + 400])).status_code == 200
        assert c.post("/api/v1/ingest/k8s-audit", content=event_list([fresh])).status_code == 200
        wait_for(lambda: source_row(c, "default")["events_in"] == len(old) + 1, what="the events committed")
        # the first retention run is a minute after the start: it may already have passed
        wait_for(
            lambda: {f["workload"] for f in all_pages(c, "/api/v1/findings")} == {"k8s/keep/Pod/recent"},
            timeout=150,
            what="the old findings deleted, the recent one kept",
        )
        kept = all_pages(c, "/api/v1/findings")
        assert "SW-K8S-EXEC" in {f["rule"] for f in kept}  # (a Sigma rule on exec too)
        incidents = all_pages(c, "/api/v1/incidents")
        assert [i["workload"] for i in incidents] == ["k8s/keep/Pod/recent"]  # emptied ones gone
        runs = [a for a in c.get("/api/v1/audit").json()["items"] if a["action"] == "retention"]
        assert runs and sum(a["detail"]["deleted"] for a in runs) >= 1
