"""Products and their variants."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from plugin.db import Base, StoreScoped, Timestamps


class Product(StoreScoped, Timestamps, Base):
    __tablename__ = "products"
    __table_args__ = (UniqueConstraint("store_id", "platform_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(512))
    handle: Mapped[str | None] = mapped_column(String(255))
    #: Public product page on the storefront.
    url: Mapped[str | None] = mapped_column(String(1024))
    #: Featured image, used as the template's header.
    image_url: Mapped[str | None] = mapped_column(String(1024))
    product_type: Mapped[str | None] = mapped_column(String(255))
    #: Category or collection names (WooCommerce categories, Shopify collections and type).
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: True when buyers can see it on the storefront.
    published: Mapped[bool] = mapped_column(default=True)
    #: When the platform deleted it; kept for order history, never recommended.
    deleted_at: Mapped[dt.datetime | None]
    platform_updated_at: Mapped[dt.datetime | None]

    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", cascade="all, delete-orphan", order_by="Variant.id"
    )


class Variant(StoreScoped, Timestamps, Base):
    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("store_id", "platform_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    platform_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(512), default="")
    sku: Mapped[str | None] = mapped_column(String(255))
    #: Price in minor units of the store's currency.
    price_minor: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3))
    #: Units on hand, None where the platform does not track stock.
    inventory_quantity: Mapped[int | None]
    in_stock: Mapped[bool] = mapped_column(default=True)

    product: Mapped[Product] = relationship(back_populates="variants")
