"""Orders and their lines."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, StoreScoped, Timestamps

UNLINKED = text("customer_id IS NULL AND platform_customer_id IS NOT NULL")


class Order(StoreScoped, Timestamps, Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "platform_id"),
        Index("ix_orders_store_customer", "store_id", "customer_id"),
        Index("ix_orders_store_placed", "store_id", "placed_at"),
        Index("ix_orders_store_checkout", "store_id", "checkout_token"),
        # Orders stored before their customer, looked up when the customer arrives.
        Index(
            "ix_orders_store_unlinked_customer",
            "store_id",
            "platform_customer_id",
            postgresql_where=UNLINKED,
            sqlite_where=UNLINKED,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[str] = mapped_column(String(64))
    #: The number the shop shows, e.g. "#1001".
    name: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    #: The platform's id of the customer, kept so that an order stored before its customer is
    #: linked when the customer arrives.
    platform_customer_id: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    #: E.164 phone from the order (billing or shipping), if any.
    phone: Mapped[str | None] = mapped_column(String(20))
    #: Platform status (WooCommerce: pending, on-hold, processing, ...; Shopify: open, closed).
    status: Mapped[str | None] = mapped_column(String(32))
    financial_status: Mapped[str | None] = mapped_column(String(32))
    fulfillment_status: Mapped[str | None] = mapped_column(String(32))
    cancelled_at: Mapped[dt.datetime | None]
    total_minor: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3))
    #: The checkout or cart this order came from (matches Cart.platform_id).
    checkout_token: Mapped[str | None] = mapped_column(String(255))
    placed_at: Mapped[dt.datetime]
    platform_updated_at: Mapped[dt.datetime | None]

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )


class OrderLine(StoreScoped, Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL"), index=True
    )
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id", ondelete="SET NULL"))
    platform_product_id: Mapped[str | None] = mapped_column(String(64))
    platform_variant_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(512), default="")
    quantity: Mapped[int] = mapped_column(default=1)
    #: Unit price in minor units.
    price_minor: Mapped[int] = mapped_column(default=0)

    order: Mapped[Order] = relationship(back_populates="lines")
