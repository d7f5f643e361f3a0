"""The first schema: findings, incidents, workloads, sources, tokens, audit_log, suppressions.

Revision ID: 0001
Revises:
Create Date: 2026-03-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

T = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("severity_rank", sa.Integer, nullable=False),
        sa.Column("workload", sa.String(512), nullable=False),
        sa.Column("namespace", sa.String(255)),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.Integer),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("first_seen", T, nullable=False),
        sa.Column("last_seen", T, nullable=False),
        sa.Column("attack", sa.Text, nullable=False),
        sa.Column("suppressed", sa.Boolean, nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
    )
    op.create_index("ix_findings_last_seen", "findings", ["last_seen", "id"])
    op.create_index("ix_findings_workload", "findings", ["workload", "last_seen"])
    op.create_index("ix_findings_incident", "findings", ["incident_id"])
    op.create_index("ix_findings_severity", "findings", ["severity_rank", "last_seen"])

    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workload", sa.String(512), nullable=False),
        sa.Column("namespace", sa.String(255)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("severity_rank", sa.Integer, nullable=False),
        sa.Column("first_seen", T, nullable=False),
        sa.Column("last_seen", T, nullable=False),
        sa.Column("findings", sa.Integer, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("techniques", sa.Text, nullable=False),
        sa.Column("tactics", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("state_by", sa.String(255)),
        sa.Column("state_at", T),
        sa.Column("state_note", sa.Text),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
    )
    op.create_index("ix_incidents_last_seen", "incidents", ["last_seen", "id"])
    op.create_index("ix_incidents_workload", "incidents", ["workload", "last_seen"])
    op.create_index("ix_incidents_state", "incidents", ["state", "last_seen"])

    op.create_table(
        "workloads",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("namespace", sa.String(255)),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("images", sa.Text, nullable=False),
        sa.Column("first_seen", T, nullable=False),
        sa.Column("last_seen", T, nullable=False),
    )

    op.create_table(
        "sources",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("checkpoint", sa.Text, nullable=False),
        sa.Column("snapshot", sa.LargeBinary),
        sa.Column("events_in", sa.BigInteger, nullable=False),
        sa.Column("findings_out", sa.BigInteger, nullable=False),
        sa.Column("malformed", sa.BigInteger, nullable=False),
        sa.Column("dropped", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
        sa.Column("last_event_at", T),
        sa.Column("last_error", sa.Text),
        sa.Column("updated_at", T, nullable=False),
    )

    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("revoked_at", T),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", T, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])

    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("workload", sa.String(512), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("expires_at", T),
        sa.Column("incident_id", sa.Integer),
    )

    # the audit trail is append-only, in the database itself
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )
    elif dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for name in ("suppressions", "audit_log", "tokens", "sources", "workloads", "incidents", "findings"):
        op.drop_table(name)
