"""Received webhook deliveries: deduplicated, and kept until processed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, utcnow


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("source", "delivery_id"),
        Index("ix_webhook_deliveries_unprocessed", "processed_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: shopify, woocommerce or whatsapp.
    source: Mapped[str] = mapped_column(String(20))
    #: The platform's delivery or event id; a replay has the same one.
    delivery_id: Mapped[str] = mapped_column(String(255))
    #: None until the delivery is routed to a shop (WhatsApp before lookup) or for app-level events.
    store_id: Mapped[int | None] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), index=True
    )
    topic: Mapped[str] = mapped_column(String(128))
    #: The verified raw body, kept until processed, then cleared.
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
