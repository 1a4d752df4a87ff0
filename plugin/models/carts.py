"""Carts: Shopify abandoned checkouts and WooCommerce widget snapshots."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, StoreScoped, Timestamps


class CartState(enum.StrEnum):
    OPEN = "open"  # the buyer may still be shopping
    ABANDONED = "abandoned"  # no order after the shop's delay
    RECOVERED = "recovered"  # an order followed
    EXPIRED = "expired"  # older than the shop's limit; no more reminders


class Cart(StoreScoped, Timestamps, Base):
    __tablename__ = "carts"
    __table_args__ = (
        UniqueConstraint("store_id", "platform_id"),
        Index("ix_carts_store_state_activity", "store_id", "state", "last_activity_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Checkout token (Shopify) or cart token (widget).
    platform_id: Mapped[str] = mapped_column(String(255))
    #: "platform" (abandoned checkout) or "widget" (snapshot).
    source: Mapped[str] = mapped_column(String(20), default="platform")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    #: E.164 contact for the reminder.
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    locale: Mapped[str | None] = mapped_column(String(35))
    #: Link that restores the cart on the storefront.
    recovery_url: Mapped[str | None] = mapped_column(String(2048))
    total_minor: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(20), default=CartState.OPEN)
    #: When the buyer last changed the cart; reminders count from here.
    last_activity_at: Mapped[dt.datetime]
    #: When the platform says the checkout completed.
    completed_at: Mapped[dt.datetime | None]
    recovered_order_id: Mapped[int | None] = mapped_column(
        ForeignKey("orders.id", ondelete="SET NULL")
    )
    recovered_at: Mapped[dt.datetime | None]
    platform_updated_at: Mapped[dt.datetime | None]

    lines: Mapped[list[CartLine]] = relationship(
        back_populates="cart", cascade="all, delete-orphan", order_by="CartLine.id"
    )


class CartLine(StoreScoped, Base):
    __tablename__ = "cart_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id", ondelete="SET NULL"))
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id", ondelete="SET NULL"))
    platform_product_id: Mapped[str | None] = mapped_column(String(64))
    platform_variant_id: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(512), default="")
    quantity: Mapped[int] = mapped_column(default=1)
    price_minor: Mapped[int] = mapped_column(default=0)

    cart: Mapped[Cart] = relationship(back_populates="lines")
