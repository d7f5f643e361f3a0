"""The console's sessions, the notifications' outbox and per-incident notification state, and
the exports' state (what each Security Hub finding was last sent as; each export's watermark).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

T = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("token_id", sa.Integer, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", T, nullable=False),
        sa.Column("expires_at", T, nullable=False),
        sa.Column("ended_at", T),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("incident_id", sa.Integer),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", T, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
        sa.Column("delivered_at", T),
    )
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"])
    op.create_index("ix_outbox_channel", "outbox", ["channel", "state"])
    op.create_table(
        "notify_state",
        sa.Column("incident_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seen_updated_at", T, nullable=False),
        sa.Column("state", sa.String(24), nullable=False),
        sa.Column("severity_rank", sa.Integer, nullable=False),
        sa.Column("findings", sa.Integer, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("techniques", sa.Text, nullable=False),
        sa.Column("notified_at", T, nullable=False),
    )
    op.create_table(
        "export_state",
        sa.Column("target", sa.String(32), primary_key=True),
        sa.Column("finding_id", sa.String(64), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("record_state", sa.String(16), nullable=False),
        sa.Column("workflow", sa.String(16), nullable=False),
        sa.Column("exported_at", T, nullable=False),
    )
    op.create_table(
        "export_runs",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("watermark", T),
        sa.Column("runs", sa.Integer, nullable=False),
        sa.Column("exported", sa.BigInteger, nullable=False),
        sa.Column("last_run_at", T),
        sa.Column("last_ok_at", T),
        sa.Column("last_error", sa.Text),
        sa.Column("last_result", sa.Text),
    )


def downgrade() -> None:
    for name in ("export_runs", "export_state", "notify_state", "outbox", "console_sessions"):
        op.drop_table(name)
