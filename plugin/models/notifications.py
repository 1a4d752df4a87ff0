"""The outbox: every message is a row before anything is sent."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, StoreScoped, Timestamps


class NotificationState(enum.StrEnum):
    PENDING = "pending"  # composed, waiting for its due time
    SENDING = "sending"  # claimed by a worker; once handed_at is set the call may be under way
    SENT = "sent"  # Meta accepted it (delivery_status tells the rest)
    FAILED = "failed"  # terminal error, see reason
    SKIPPED = "skipped"  # a guard said no, see reason
    EXPIRED = "expired"  # its moment passed, or a `sending` row could not be reconciled


TERMINAL_STATES = frozenset(
    {
        NotificationState.SENT,
        NotificationState.FAILED,
        NotificationState.SKIPPED,
        NotificationState.EXPIRED,
    }
)


class Flow(enum.StrEnum):
    CART_REMINDER = "cart_reminder"
    RECOMMENDATION = "recommendation"
    OPTIN_CONFIRMATION = "optin_confirmation"


class Notification(StoreScoped, Timestamps, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("store_id", "dedupe_key"),
        Index("ix_notifications_state_due", "state", "due_at"),
        Index("ix_notifications_store_phone_sent", "store_id", "phone", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Unique per store: composing the same message twice writes nothing new.
    dedupe_key: Mapped[str] = mapped_column(String(255))
    #: cart_reminder, recommendation or optin_confirmation.
    flow: Mapped[str] = mapped_column(String(32))
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    cart_id: Mapped[int | None] = mapped_column(ForeignKey("carts.id", ondelete="SET NULL"))
    #: E.164 recipient (None after erasure).
    phone: Mapped[str | None] = mapped_column(String(20))
    template_name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))
    #: Template parameters by component (header, body, buttons).
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Why this content: the recommendation picks and their reasons, the reminder step.
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(20), default=NotificationState.PENDING)
    #: Why it ended as it did (guard name, error code and title).
    reason: Mapped[str | None] = mapped_column(Text)
    #: Earliest send time.
    due_at: Mapped[dt.datetime]
    #: After this it is expired instead of sent.
    expires_at: Mapped[dt.datetime | None]
    #: Retryable failures so far.
    attempts: Mapped[int] = mapped_column(default=0)
    #: Worker that claimed it and when (for reconciling a worker that died).
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[dt.datetime | None]
    #: When the claimant committed to calling Meta. A `sending` row without it was never on the
    #: network and goes back to `pending` if its worker died; with it, it is uncertain.
    handed_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]
    #: sent, delivered, read or failed, from Meta's status webhooks.
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivered_at: Mapped[dt.datetime | None]
    read_at: Mapped[dt.datetime | None]
    #: Meta's message id (wamid).
    provider_message_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: Expected cost before sending, actual after Meta's pricing webhook, in millionths of
    #: cost_currency (Meta's rates have four decimals: EUR 0.1131 is 113100).
    cost_micros: Mapped[int | None]
    cost_currency: Mapped[str | None] = mapped_column(String(3))
    #: Meta's pricing category and type (regular, free_customer_service, free_entry_point).
    pricing_category: Mapped[str | None] = mapped_column(String(32))
    pricing_type: Mapped[str | None] = mapped_column(String(32))
    #: Token of the tracked link /r/<token>.
    link_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    clicked_at: Mapped[dt.datetime | None]


class Conversion(StoreScoped, Base):
    """An order credited to a notification (last touch), one per order."""

    __tablename__ = "conversions"
    __table_args__ = (UniqueConstraint("order_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notifications.id", ondelete="CASCADE"), index=True
    )
    #: delivered or clicked: what the credit rests on.
    touch: Mapped[str] = mapped_column(String(16))
    revenue_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    attributed_at: Mapped[dt.datetime]
