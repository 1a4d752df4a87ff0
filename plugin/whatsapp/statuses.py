"""Message status webhooks: sent, delivered, read, failed, and what each message cost.

Statuses arrive twice and out of order (read before delivered is normal: Meta skips the
delivered webhook when both happen at once), so a status only ever moves a notification
forward. A row a crashed worker left uncertain (`sending`, or expired `sending_unconfirmed`
when the status came late) is settled here as sent: the status names our notification id in
`biz_opaque_callback_data`, which every send carries.
https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status/
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.db import get_for_store, utcnow
from plugin.models import Notification, NotificationState, Store
from plugin.whatsapp import identity
from plugin.whatsapp.channel import SendError
from plugin.whatsapp.errors import NO_CODE, apply_send_error
from plugin.whatsapp.pricing import charged_cost

log = logging.getLogger(__name__)

#: How far along a message is; a status never moves a notification back.
RANK = {"sent": 1, "delivered": 2, "read": 3}


def timestamp(value: Any) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    except (TypeError, ValueError, OverflowError):
        return utcnow()


def find_notification(
    session: Session, store: Store, status: dict[str, Any]
) -> Notification | None:
    """By Meta's message id, else by our id echoed in biz_opaque_callback_data."""
    wamid = str(status.get("id") or "")
    notification = session.scalars(
        select(Notification).where(
            Notification.store_id == store.id, Notification.provider_message_id == wamid
        )
    ).first()
    callback = str(status.get("biz_opaque_callback_data") or "")
    if notification is None and callback.isdigit():
        notification = get_for_store(session, Notification, store.id, int(callback))
        if notification is not None and notification.provider_message_id not in (None, wamid):
            return None  # our id, but another message of it: not this one
    return notification


def apply_status(session: Session, store: Store, status: dict[str, Any]) -> Notification | None:
    """Move the notification forward by one status webhook; None when it is not ours."""
    notification = find_notification(session, store, status)
    if notification is None:
        log.info("status for an unknown message ignored")
        return None
    kind = str(status.get("status") or "")
    at = timestamp(status.get("timestamp"))
    if notification.provider_message_id is None:
        notification.provider_message_id = str(status.get("id"))
    if notification.phone and not status.get("recipient_id"):
        # A send to a hidden number's BSUID: the status names the buyer only by
        # `recipient_user_id`; our row knows whose number the message was for.
        identity.resolve(
            session, store, phone=notification.phone, user_id=status.get("recipient_user_id")
        )
    if kind == "failed":
        _fail(session, store, notification, status, at)
    elif kind in RANK:
        _advance(notification, kind, at)
    if status.get("pricing") and notification.delivery_status != "failed":
        _price(store, notification, status["pricing"], at)
    session.flush()
    return notification


#: The reason reconciliation gives a handed-off row no status confirmed in time.
UNCONFIRMED = "sending_unconfirmed"


def _unsettled(notification: Notification) -> bool:
    """Handed to Meta without a recorded answer: `sending`, or expired unconfirmed meanwhile."""
    return notification.state == NotificationState.SENDING or (
        notification.state == NotificationState.EXPIRED and notification.reason == UNCONFIRMED
    )


def _advance(notification: Notification, kind: str, at: dt.datetime) -> None:
    if _unsettled(notification):  # Meta has it: it was sent, whatever became of the worker
        notification.state = NotificationState.SENT
        notification.sent_at = notification.sent_at or at
        notification.reason = "reconciled from a status webhook"
    if notification.delivery_status == "failed":
        return
    if RANK.get(notification.delivery_status or "", 0) < RANK[kind]:
        notification.delivery_status = kind
    if kind == "read" and notification.delivered_at is None:
        notification.delivered_at = at  # read implies delivered, at the latest when read
    if kind == "delivered" and (
        notification.delivered_at is None or at < notification.delivered_at
    ):
        notification.delivered_at = at  # a late "delivered" knows the real moment
    if kind == "read" and notification.read_at is None:
        notification.read_at = at


def _fail(
    session: Session,
    store: Store,
    notification: Notification,
    status: dict[str, Any],
    at: dt.datetime,
) -> None:
    if RANK.get(notification.delivery_status or "", 0) >= RANK["delivered"]:
        return  # a late failure cannot undo a delivery
    errors = status.get("errors") or [{}]
    first = errors[0]
    code = first.get("code")
    error = SendError(
        code if isinstance(code, int) and code >= 0 else NO_CODE,
        str(first.get("title") or first.get("message") or "failed"),
        details=str((first.get("error_data") or {}).get("details") or ""),
    )
    decision = apply_send_error(session, store, notification, error, at)
    notification.delivery_status = "failed"
    notification.state = NotificationState.FAILED
    notification.reason = decision.reason
    notification.cost_micros = 0  # Meta charges delivered messages only


def _price(
    store: Store, notification: Notification, pricing: dict[str, Any], at: dt.datetime
) -> None:
    """What Meta charged, by its pricing block and the day of the status (2026-10-01 rule)."""
    micros, currency = charged_cost(store, notification.phone, pricing, at)
    notification.cost_micros = micros
    notification.cost_currency = currency
    notification.pricing_category = str(pricing.get("category") or "")[:32] or None
    notification.pricing_type = str(pricing.get("type") or "regular")[:32]
