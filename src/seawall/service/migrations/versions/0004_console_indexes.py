"""Two indexes on findings for the console with a million findings: an incident's timeline page in
order (incident_id, first_seen, id), and counts per kind, severity and source from an index scan.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_findings_incident_time", "findings", ["incident_id", "first_seen", "id"])
    op.create_index("ix_findings_kind_severity", "findings", ["kind", "severity", "source"])


def downgrade() -> None:
    op.drop_index("ix_findings_kind_severity", "findings")
    op.drop_index("ix_findings_incident_time", "findings")
