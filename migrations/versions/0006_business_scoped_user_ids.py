"""Business-scoped user ids: at most one subscription per BSUID and shop, room for the longest

Meta's BSUID is a two-letter country code, a dot and up to 128 letters and digits (a parent
BSUID adds "ENT."), longer than the 128 characters the column had. Before the unique index is
built, a BSUID that two subscriptions of one shop share (possible before this revision) is
cleared from all but the one that received it last (the highest id): the next webhook that
carries it with a number sets it again where the number says.
https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids

Revision ID: 0006_bsuid
Revises: 0005
Create Date: 2026-12-04 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_bsuid"
down_revision = "0005"
branch_labels = None
depends_on = None

NOT_NULL = sa.text("whatsapp_user_id IS NOT NULL")


def upgrade() -> None:
    op.execute(
        "UPDATE subscriptions SET whatsapp_user_id = NULL WHERE whatsapp_user_id IS NOT NULL"
        " AND id < (SELECT MAX(other.id) FROM subscriptions AS other"
        " WHERE other.store_id = subscriptions.store_id"
        " AND other.whatsapp_user_id = subscriptions.whatsapp_user_id)"
    )
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_index("ix_subscriptions_whatsapp_user_id")
        batch.alter_column(
            "whatsapp_user_id",
            existing_type=sa.String(128),
            type_=sa.String(140),
            existing_nullable=True,
        )
        batch.create_index(
            "uq_subscriptions_store_whatsapp_user_id",
            ["store_id", "whatsapp_user_id"],
            unique=True,
            postgresql_where=NOT_NULL,
            sqlite_where=NOT_NULL,
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_index("uq_subscriptions_store_whatsapp_user_id")
        batch.alter_column(
            "whatsapp_user_id",
            existing_type=sa.String(140),
            type_=sa.String(128),
            existing_nullable=True,
        )
        batch.create_index("ix_subscriptions_whatsapp_user_id", ["whatsapp_user_id"])
