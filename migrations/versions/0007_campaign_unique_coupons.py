"""Campaign unique coupons: the percent off of the single-use code each recipient gets

Revision ID: 0007_unique_coupons
Revises: 0006_bsuid
Create Date: 2026-12-04 19:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_unique_coupons"
down_revision = "0006_bsuid"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("coupon_percent_off", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("coupon_percent_off")
