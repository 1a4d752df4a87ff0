"""Consent: versioned wording, the append-only ledger, and the state derived from it."""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, StoreScoped, Timestamps, utcnow


class SubscriptionState(enum.StrEnum):
    PENDING = "pending"  # asked, not yet confirmed (double opt-in)
    CONFIRMED = "confirmed"  # may receive marketing
    OPTED_OUT = "opted_out"  # suppressed until a new confirmed opt-in


class ConsentKind(enum.StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    OPTED_OUT = "opted_out"
    ERASED = "erased"


class OptinWording(StoreScoped, Base):
    """One immutable version of the opt-in text for one locale; edits make a new version."""

    __tablename__ = "optin_wordings"
    __table_args__ = (UniqueConstraint("store_id", "locale", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: BCP-47 locale the text is written in.
    locale: Mapped[str] = mapped_column(String(35))
    #: 1, 2, 3, ... per store and locale.
    version: Mapped[int]
    #: The exact checkbox label shown to the buyer.
    text: Mapped[str] = mapped_column(Text)
    #: Privacy policy linked beside the text when this version was shown.
    privacy_url: Mapped[str] = mapped_column(String(512), default="")
    #: Who wrote it (owner session, "default", "cli").
    created_by: Mapped[str] = mapped_column(String(255), default="default")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: First consent recorded with this version; from then on it is evidence.
    first_used_at: Mapped[dt.datetime | None]


class Subscription(StoreScoped, Timestamps, Base):
    """The current state for one shop and phone number, derived from its ledger."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("store_id", "phone"),
        Index("ix_subscriptions_store_state", "store_id", "state"),
        #: One buyer per BSUID and shop: a BSUID never names two subscriptions.
        Index(
            "uq_subscriptions_store_whatsapp_user_id",
            "store_id",
            "whatsapp_user_id",
            unique=True,
            postgresql_where=text("whatsapp_user_id IS NOT NULL"),
            sqlite_where=text("whatsapp_user_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: E.164 number; the suppression key together with store_id.
    phone: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    #: WhatsApp business-scoped user id (BSUID, "CC.<up to 128 letters and digits>"), for
    #: buyers who hide their number; see plugin/whatsapp/identity.py.
    whatsapp_user_id: Mapped[str | None] = mapped_column(String(140))
    state: Mapped[str] = mapped_column(String(20), default=SubscriptionState.PENDING)
    #: Locale the buyer opted in with; messages use it.
    locale: Mapped[str | None] = mapped_column(String(35))
    #: One-time code for the "Confirm on WhatsApp" link.
    confirmation_code: Mapped[str | None] = mapped_column(String(32), index=True)
    #: When an unconfirmed opt-in lapses.
    pending_expires_at: Mapped[dt.datetime | None]
    confirmed_at: Mapped[dt.datetime | None]
    opted_out_at: Mapped[dt.datetime | None]
    #: No marketing before this time (Meta's per-user cap, error 131049).
    held_until: Mapped[dt.datetime | None]
    #: Last inbound message from the buyer: a free service window lasts 24 h from it.
    last_inbound_at: Mapped[dt.datetime | None]
    #: Meta said the number cannot receive messages (131026).
    undeliverable: Mapped[bool] = mapped_column(default=False)
    #: Token for the one-click unsubscribe link /u/<token>; every subscription has one.
    unsubscribe_token: Mapped[str | None] = mapped_column(
        String(64), unique=True, default=lambda: secrets.token_urlsafe(24)
    )


class ConsentEvent(StoreScoped, Base):
    """One entry of the append-only ledger: never updated, deleted only by erasure."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_subscription", "subscription_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    #: requested, confirmed, opted_out or erased.
    kind: Mapped[str] = mapped_column(String(20))
    #: Where it happened: checkout_checkbox, widget, thank_you_page, import, whatsapp_reply,
    #: template_button, meta_preferences, send_error, unsubscribe_link, shop_owner, gdpr, expiry.
    source: Mapped[str] = mapped_column(String(40))
    #: The exact wording version shown (requested events).
    wording_id: Mapped[int | None] = mapped_column(ForeignKey("optin_wordings.id"))
    locale: Mapped[str | None] = mapped_column(String(35))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(1024))
    #: WhatsApp message id that carried a confirmation or opt-out.
    message_id: Mapped[str | None] = mapped_column(String(255))
    #: Anything else worth keeping as proof (customer id, cart token, keyword, error code).
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
