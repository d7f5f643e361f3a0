"""The store's tables (SQLAlchemy Core). The schema itself is made by the Alembic migrations
(service/migrations/versions); a test checks that they and these definitions agree.

Times are fixed-width ISO 8601 UTC strings (timeutil): they sort as text on SQLite and PostgreSQL.
Lists that filters search (ATT&CK techniques, sources) are stored as `|a|b|` strings.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

TIME = String(32)

findings = Table(
    "findings",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("rule", String(255), nullable=False),
    Column("title", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("severity_rank", Integer, nullable=False),
    Column("workload", String(512), nullable=False),
    Column("namespace", String(255)),
    Column("source", String(64), nullable=False),
    Column("incident_id", Integer),
    Column("count", BigInteger, nullable=False),
    Column("first_seen", TIME, nullable=False),
    Column("last_seen", TIME, nullable=False),
    Column("attack", Text, nullable=False),
    Column("suppressed", Boolean, nullable=False),
    Column("doc", Text, nullable=False),
    Column("created_at", TIME, nullable=False),
    Column("updated_at", TIME, nullable=False),
    Index("ix_findings_last_seen", "last_seen", "id"),
    Index("ix_findings_workload", "workload", "last_seen"),
    Index("ix_findings_incident", "incident_id"),
    Index("ix_findings_severity", "severity_rank", "last_seen"),
    # migration 0004 (the console): an incident's timeline in order; counts per kind, severity, source
    Index("ix_findings_incident_time", "incident_id", "first_seen", "id"),
    Index("ix_findings_kind_severity", "kind", "severity", "source"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workload", String(512), nullable=False),
    Column("namespace", String(255)),
    Column("title", Text, nullable=False),
    Column("state", String(24), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("severity_rank", Integer, nullable=False),
    Column("first_seen", TIME, nullable=False),
    Column("last_seen", TIME, nullable=False),
    Column("findings", Integer, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("techniques", Text, nullable=False),
    Column("tactics", Text, nullable=False),
    Column("sources", Text, nullable=False),
    Column("state_by", String(255)),
    Column("state_at", TIME),
    Column("state_note", Text),
    Column("created_at", TIME, nullable=False),
    Column("updated_at", TIME, nullable=False),
    Index("ix_incidents_last_seen", "last_seen", "id"),
    Index("ix_incidents_workload", "workload", "last_seen"),
    Index("ix_incidents_state", "state", "last_seen"),
)

workloads = Table(
    "workloads",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("namespace", String(255)),
    Column("name", String(512), nullable=False),
    Column("images", Text, nullable=False),  # JSON list of {"ref", "digest"}
    Column("first_seen", TIME, nullable=False),
    Column("last_seen", TIME, nullable=False),
)

sources = Table(
    "sources",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("checkpoint", Text, nullable=False),  # JSON: offsets, keys, tokens, spool position
    Column("snapshot", LargeBinary),  # the streaming analyzer's state at that checkpoint
    Column("events_in", BigInteger, nullable=False),
    Column("findings_out", BigInteger, nullable=False),
    Column("malformed", BigInteger, nullable=False),
    Column("dropped", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("last_event_at", TIME),
    Column("last_error", Text),
    Column("updated_at", TIME, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", TIME, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("revoked_at", TIME),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", TIME, nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(512), nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_audit_log_at", "at"),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(255), nullable=False),
    Column("workload", String(512), nullable=False),  # '*' for every workload
    Column("reason", Text, nullable=False),
    Column("created_by", String(255), nullable=False),
    Column("created_at", TIME, nullable=False),
    Column("expires_at", TIME),
    Column("incident_id", Integer),
)

# -- stored SBOMs by digest (seawall.runtime.sbomstore; migration 0002) -------------------------

runtime_images = Table(
    "runtime_images",
    metadata,
    Column("digest", String(80), primary_key=True),  # manifest digest (or image id when none)
    Column("image_id", String(80)),  # config digest
    Column("name", Text, nullable=False),  # a reference it was seen under
    Column("os", Text, nullable=False),  # JSON
    Column("sbom", LargeBinary, nullable=False),  # zstd(JSON list of packages)
    Column("files", LargeBinary),  # zstd(JSON file manifest) for drift; None for imported SBOMs
    Column("origin", String(32), nullable=False),  # scan | registry | cyclonedx
    Column("packages", Integer, nullable=False),
    Column("db_fingerprint", String(64)),  # advisory DB the vulns below were matched against
    Column("vulns", Text),  # JSON list of vulnerability ids at that match
    Column("created_at", TIME, nullable=False),
    Column("updated_at", TIME, nullable=False),
    Index("ix_runtime_images_image_id", "image_id"),
)

runtime_refs = Table(
    "runtime_refs",
    metadata,
    Column("reference", String(767), primary_key=True),  # registry/repo:tag
    Column("digest", String(80), nullable=False),
    Column("registry", String(255), nullable=False),
    Column("seen_at", TIME, nullable=False),
    Index("ix_runtime_refs_digest", "digest"),
)

runtime_running = Table(
    "runtime_running",
    metadata,
    Column("container", String(255), primary_key=True),  # runtime:id
    Column("digest", String(80), nullable=False),
    Column("workload", String(512), nullable=False),
    Column("name", String(512), nullable=False),
    Column("seen_at", TIME, nullable=False),
    Index("ix_runtime_running_digest", "digest"),
)

# -- the console, notifications and exports (issue 12; migration 0003) -------------------------

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 of the session cookie's secret
    Column("token_id", Integer, nullable=False),  # the token that logged in (revoked -> session ends)
    Column("csrf", String(64), nullable=False),  # the session's CSRF token (forms, X-CSRF-Token)
    Column("created_at", TIME, nullable=False),
    Column("expires_at", TIME, nullable=False),
    Column("ended_at", TIME),  # logout
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel", String(64), nullable=False),
    Column("incident_id", Integer),
    Column("event", String(32), nullable=False),  # opened | state | escalated | update | test
    Column("payload", Text, nullable=False),  # JSON: the message, built (and redacted) when enqueued
    Column("state", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", TIME, nullable=False),
    Column("last_error", Text),
    Column("created_at", TIME, nullable=False),
    Column("updated_at", TIME, nullable=False),
    Column("delivered_at", TIME),
    Index("ix_outbox_due", "state", "next_attempt_at"),
    Index("ix_outbox_channel", "channel", "state"),
)

notify_state = Table(
    "notify_state",
    metadata,
    Column("incident_id", Integer, primary_key=True, autoincrement=False),
    Column("seen_updated_at", TIME, nullable=False),  # the incident's updated_at last looked at
    Column("state", String(24), nullable=False),  # as last notified
    Column("severity_rank", Integer, nullable=False),
    Column("findings", Integer, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("techniques", Text, nullable=False),
    Column("notified_at", TIME, nullable=False),
)

export_state = Table(
    "export_state",
    metadata,
    Column("target", String(32), primary_key=True),  # securityhub
    Column("finding_id", String(64), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # of what was sent (minus UpdatedAt)
    Column("record_state", String(16), nullable=False),  # ACTIVE | ARCHIVED
    Column("workflow", String(16), nullable=False),  # NEW | NOTIFIED | RESOLVED | SUPPRESSED
    Column("exported_at", TIME, nullable=False),
)

export_runs = Table(
    "export_runs",
    metadata,
    Column("name", String(32), primary_key=True),  # securityhub | securitylake
    Column("watermark", TIME),  # findings and incidents changed after this are exported next
    Column("runs", Integer, nullable=False),
    Column("exported", BigInteger, nullable=False),
    Column("last_run_at", TIME),
    Column("last_ok_at", TIME),
    Column("last_error", Text),
    Column("last_result", Text),  # JSON summary of the last run
)
