"""The store on SQLite and PostgreSQL: migrations = table definitions, replays change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from seawall.core import Finding, FindingKind, Location, Resource, Severity
from seawall.service import queries
from seawall.service.store import Counters, Store


def _finding(
    rule: str,
    count: int,
    first: str,
    last: str,
    pod: str = "frontend-6f7d9c8b4-x2kqz",
    attack: list[str] | None = None,
    severity: Severity = Severity.HIGH,
) -> Finding:
    return Finding(
        kind=FindingKind.DETECTION,
        rule=rule,
        title=f"title of {rule}",
        severity=severity,
        resource=Resource(type="k8s:Pod", name=pod, namespace="shop", workload=f"Pod/{pod}"),
        location=Location(path="receiver:audit", line=7),
        count=count,
        first_seen=first,
        last_seen=last,
        attack=attack or ["T1609"],
        extra={"source": "k8s-audit"},
    )


@pytest.fixture()
def store(database: str):
    s = Store(database, incident_window=600)
    s.migrate()
    s.migrate()  # idempotent
    s.load_source("audit", "k8s-audit-webhook")
    yield s
    s.close()


def test_migrations_match_the_table_definitions(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from seawall.service.tables import metadata

    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_audit_trail_is_append_only(store: Store) -> None:
    with store.write() as conn:
        store.audit(conn, "test", "token.create", "token:1", {})
    with pytest.raises(SQLAlchemyError), store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone else'"))
    with pytest.raises(SQLAlchemyError), store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))


def test_counts_are_set_not_added_and_replays_change_nothing(store: Store) -> None:
    f1 = _finding("SW-K8S-EXEC", 3, "2026-03-02T09:00:00Z", "2026-03-02T09:01:00Z")
    f2 = _finding(
        "SW-RT-MINER",
        1,
        "2026-03-02T09:05:00Z",
        "2026-03-02T09:05:00Z",
        attack=["T1496"],
        severity=Severity.CRITICAL,
    )
    assert store.commit("audit", [f1, f2], {"n": 1}, b"snap", Counters(events_in=10)) == 2
    grown = _finding("SW-K8S-EXEC", 5, "2026-03-02T09:00:00Z", "2026-03-02T09:03:00Z")
    assert store.commit("audit", [grown], {"n": 2}, b"snap2", Counters(events_in=5)) == 0
    for _ in range(3):  # a replay of the same decisions
        store.commit("audit", [grown, f2], {"n": 2}, b"snap2", Counters())
    with store.read() as conn:
        found = queries.list_findings(conn, queries.Filters(), None, 10)["items"]
        incidents = queries.list_incidents(conn, queries.Filters(), None, 10)["items"]
    assert sorted((f["rule"], f["count"]) for f in found) == [("SW-K8S-EXEC", 5), ("SW-RT-MINER", 1)]
    assert len(incidents) == 1
    inc = incidents[0]
    assert inc["workload"] == "k8s/shop/Deployment/frontend"
    assert inc["events"] == 6 and inc["finding_count"] == 2 and inc["severity"] == "critical"
    assert inc["techniques"] == ["T1609", "T1496"] and inc["tactics"] == ["execution", "impact"]
    assert inc["last_seen"] == "2026-03-02T09:05:00.000000Z"
    state = store.load_source("audit", "k8s-audit-webhook")
    assert state.checkpoint == {"n": 2} and state.snapshot == b"snap2" and state.events_in == 15
    # a finding far later in time opens a second incident for the same workload
    late = _finding(
        "SW-K8S-EXEC", 1, "2026-03-02T12:00:00Z", "2026-03-02T12:00:00Z", pod="frontend-6f7d9c8b4-aaaaa"
    )
    store.commit("audit", [late], {"n": 3}, None, Counters())
    with store.read() as conn:
        assert len(queries.list_incidents(conn, queries.Filters(), None, 10)["items"]) == 2


def test_a_scan_keeps_the_image_labels_with_the_workloads_running_it(store: Store) -> None:
    """The labels of an image's last scan (digest -> labels, as the scan job hands them over) land
    in the workload's `images` JSON (no migration), which the workload page and the incident's
    image section read; a later scan with other labels replaces them, one without keeps them."""
    from seawall.service.console import data

    exec_ = _finding("SW-K8S-EXEC", 1, "2026-03-02T09:00:00Z", "2026-03-02T09:00:00Z")
    store.commit("audit", [exec_], {}, None, Counters())
    ref, digest = "registry.example:5000/shop/frontend:1", "sha256:" + "ab" * 32
    labels = {"org.opencontainers.image.title": "<img src=x onerror=alert(1)>", "v": "1"}
    store.store_report("nightly", [], {ref: digest}, labels={digest: labels})

    def shown() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        with store.read() as conn:
            wl = data.workload_detail(conn, "k8s/shop/Deployment/frontend")
            inc = queries.list_incidents(conn, queries.Filters(), None, 10)["items"][0]
            detail = queries.get_incident(conn, inc["id"])
        assert wl is not None and detail is not None
        return wl["images"], detail["images"]

    wl_images, inc_images = shown()
    assert wl_images == inc_images == [{"ref": ref, "digest": digest, "labels": labels}]
    store.store_report("nightly", [], {ref: digest}, labels={digest: {"v": "2"}})
    assert shown()[0] == [{"ref": ref, "digest": digest, "labels": {"v": "2"}}]
    store.store_report("nightly", [], {ref: digest})  # a job that carries no labels
    assert shown()[0] == [{"ref": ref, "digest": digest, "labels": {"v": "2"}}]
