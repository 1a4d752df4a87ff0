"""campaigns: an offer to a saved segment, sent through the outbox

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-04 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("template_name", sa.String(512), nullable=False),
        sa.Column("segment", sa.JSON(), nullable=False),
        sa.Column("body_parameters", sa.JSON(), nullable=False),
        sa.Column("holdout_basis_points", sa.Integer(), nullable=False),
        sa.Column("coupon_code", sa.String(64), nullable=True),
        sa.Column("window_start", sa.String(5), nullable=False),
        sa.Column("window_end", sa.String(5), nullable=False),
        sa.Column("spread_hours", sa.Integer(), nullable=False),
        sa.Column("link_url", sa.String(2048), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_campaigns_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index(op.f("ix_campaigns_store_id"), "campaigns", ["store_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_campaigns_store_id"), table_name="campaigns")
    op.drop_table("campaigns")
