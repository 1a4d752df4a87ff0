"""A shop's WhatsApp Business number and its message templates."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.crypto import EncryptedText
from plugin.db import Base, StoreScoped, Timestamps


class WhatsAppAccount(StoreScoped, Timestamps, Base):
    __tablename__ = "whatsapp_accounts"
    __table_args__ = (UniqueConstraint("store_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Meta's phone number id: webhooks are routed to the shop by it.
    phone_number_id: Mapped[str] = mapped_column(String(64), unique=True)
    #: WhatsApp Business Account id that owns the templates.
    waba_id: Mapped[str] = mapped_column(String(64))
    #: System-user access token, encrypted.
    token: Mapped[str] = mapped_column(EncryptedText)
    display_phone_number: Mapped[str | None] = mapped_column(String(32))
    verified_name: Mapped[str | None] = mapped_column(String(255))
    #: GREEN, YELLOW, RED or UNKNOWN.
    quality_rating: Mapped[str] = mapped_column(String(16), default="UNKNOWN")
    #: Messaging limit tier, e.g. TIER_250, TIER_1K, TIER_10K, TIER_100K, TIER_UNLIMITED.
    messaging_limit_tier: Mapped[str | None] = mapped_column(String(32))
    #: Messages per second this number may send.
    throughput_mps: Mapped[int] = mapped_column(default=80)
    #: Marketing paused because quality is RED or Meta flagged spam, with the reason.
    marketing_paused_reason: Mapped[str | None] = mapped_column(String(255))
    #: True for the dry-run channel (records instead of sending).
    dry_run: Mapped[bool] = mapped_column(default=False)
    #: Whether the number may send through the Marketing Messages API (POST
    #: /marketing_messages): "unknown" until Meta answers a marketing send, then "onboarded",
    #: or "not_onboarded" (Meta refused it: marketing goes through /messages, the owner is told).
    marketing_messages: Mapped[str] = mapped_column(String(16), default="unknown")
    #: When Meta last said the number is not onboarded (asked again a day later).
    marketing_messages_checked_at: Mapped[dt.datetime | None]


class WhatsAppTemplate(StoreScoped, Timestamps, Base):
    __tablename__ = "whatsapp_templates"
    __table_args__ = (UniqueConstraint("store_id", "name", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    #: Meta's language code, e.g. de, en, en_US.
    language: Mapped[str] = mapped_column(String(16))
    #: What ShopNudge uses it for: optin_confirmation, cart_reminder_1, cart_reminder_2,
    #: recommendation.
    purpose: Mapped[str] = mapped_column(String(40))
    #: MARKETING, UTILITY or AUTHENTICATION.
    category: Mapped[str] = mapped_column(String(20), default="MARKETING")
    #: APPROVED, PENDING, REJECTED, PAUSED, DISABLED (or LOCAL before submission).
    status: Mapped[str] = mapped_column(String(20), default="LOCAL")
    #: GREEN, YELLOW, RED or UNKNOWN.
    quality: Mapped[str | None] = mapped_column(String(16))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    meta_template_id: Mapped[str | None] = mapped_column(String(64), index=True)
    #: The components as submitted to Meta.
    components: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status_changed_at: Mapped[dt.datetime | None]
    #: The category Meta announced it will move the template to (an impending
    #: template_category_update): shown to the owner, never routed on before it happens.
    pending_category: Mapped[str | None] = mapped_column(String(20))
    #: When Meta said the pending category takes effect.
    pending_category_at: Mapped[dt.datetime | None]
