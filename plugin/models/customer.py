"""Buyers as the platform knows them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, StoreScoped, Timestamps


class Customer(StoreScoped, Timestamps, Base):
    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("store_id", "platform_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The platform's id (Shopify ids exceed 2**53, so text).
    platform_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    #: E.164, or None when unknown.
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    #: BCP-47 locale the buyer uses on the storefront.
    locale: Mapped[str | None] = mapped_column(String(35))
    #: ISO 3166 country of the default address.
    country: Mapped[str | None] = mapped_column(String(2))
    #: IANA zone derived from the address, if known.
    timezone: Mapped[str | None] = mapped_column(String(64))
    #: The platform's own WhatsApp/SMS marketing consent state, mirrored for comparison.
    platform_marketing_state: Mapped[str | None] = mapped_column(String(32))
    #: The platform's last change of this customer; older deliveries never overwrite newer.
    platform_updated_at: Mapped[dt.datetime | None]
    #: Set when personal data was erased (GDPR); the row remains only as an anonymous key.
    erased_at: Mapped[dt.datetime | None]
