"""Orders keep the platform's customer id, so an order stored before its customer is linked
to the customer when the customer arrives (a customers/create and an orders/create webhook
applied at the same moment left the order without its customer for good).

Revision ID: 0008_order_customer
Revises: 0007_unique_coupons
Create Date: 2026-12-06 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_order_customer"
down_revision = "0007_unique_coupons"
branch_labels = None
depends_on = None

UNLINKED = sa.text("customer_id IS NULL AND platform_customer_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("platform_customer_id", sa.String(64), nullable=True))
    op.create_index(
        "ix_orders_store_unlinked_customer",
        "orders",
        ["store_id", "platform_customer_id"],
        postgresql_where=UNLINKED,
        sqlite_where=UNLINKED,
    )


def downgrade() -> None:
    op.drop_index("ix_orders_store_unlinked_customer", table_name="orders")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("platform_customer_id")
