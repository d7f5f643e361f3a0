"""Stored SBOMs by digest for runtime rescans: images, the references they were seen under,
and the containers running them (seawall.runtime.sbomstore).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

T = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "runtime_images",
        sa.Column("digest", sa.String(80), primary_key=True),
        sa.Column("image_id", sa.String(80)),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("os", sa.Text, nullable=False),
        sa.Column("sbom", sa.LargeBinary, nullable=False),
        sa.Column("files", sa.LargeBinary),
        sa.Column("origin", sa.String(32), nullable=False),
        sa.Column("packages", sa.Integer, nullable=False),
        sa.Column("db_fingerprint", sa.String(64)),
        sa.Column("vulns", sa.Text),
        sa.Column("created_at", T, nullable=False),
        sa.Column("updated_at", T, nullable=False),
    )
    op.create_index("ix_runtime_images_image_id", "runtime_images", ["image_id"])
    op.create_table(
        "runtime_refs",
        sa.Column("reference", sa.String(767), primary_key=True),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("registry", sa.String(255), nullable=False),
        sa.Column("seen_at", T, nullable=False),
    )
    op.create_index("ix_runtime_refs_digest", "runtime_refs", ["digest"])
    op.create_table(
        "runtime_running",
        sa.Column("container", sa.String(255), primary_key=True),
        sa.Column("digest", sa.String(80), nullable=False),
        sa.Column("workload", sa.String(512), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("seen_at", T, nullable=False),
    )
    op.create_index("ix_runtime_running_digest", "runtime_running", ["digest"])


def downgrade() -> None:
    op.drop_table("runtime_running")
    op.drop_table("runtime_refs")
    op.drop_table("runtime_images")
