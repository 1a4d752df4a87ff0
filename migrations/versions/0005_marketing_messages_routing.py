"""Marketing Messages API routing: each account's onboarding, each template's impending category

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("whatsapp_accounts") as batch:
        batch.add_column(
            sa.Column("marketing_messages", sa.String(16), nullable=False, server_default="unknown")
        )
        batch.add_column(
            sa.Column("marketing_messages_checked_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("whatsapp_templates") as batch:
        batch.add_column(sa.Column("pending_category", sa.String(20), nullable=True))
        batch.add_column(
            sa.Column("pending_category_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("whatsapp_templates") as batch:
        batch.drop_column("pending_category_at")
        batch.drop_column("pending_category")
    with op.batch_alter_table("whatsapp_accounts") as batch:
        batch.drop_column("marketing_messages_checked_at")
        batch.drop_column("marketing_messages")
