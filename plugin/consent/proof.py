"""Proof of consent: a subscription's ledger with the exact text each buyer was shown."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent.ledger import find_subscription
from plugin.models import ConsentEvent, OptinWording, Store


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def consent_record(session: Session, store: Store, phone: str) -> dict[str, Any] | None:
    """The state and every ledger event for one E.164 number in one shop, or None."""
    subscription = find_subscription(session, store.id, phone)
    if subscription is None:
        return None
    events = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.store_id == store.id, ConsentEvent.subscription_id == subscription.id)
        .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
    ).all()
    wording_ids = {e.wording_id for e in events if e.wording_id is not None}
    wordings = {
        w.id: w
        for w in session.scalars(
            select(OptinWording).where(
                OptinWording.store_id == store.id, OptinWording.id.in_(wording_ids)
            )
        )
    }
    return {
        "phone": subscription.phone,
        "state": subscription.state,
        "locale": subscription.locale,
        "confirmed_at": _iso(subscription.confirmed_at),
        "opted_out_at": _iso(subscription.opted_out_at),
        "pending_expires_at": _iso(subscription.pending_expires_at),
        "whatsapp_user_id": subscription.whatsapp_user_id,  # Meta's BSUID, once a webhook gave it
        "events": [_event(e, wordings.get(e.wording_id or 0)) for e in events],
    }


def _event(event: ConsentEvent, wording: OptinWording | None) -> dict[str, Any]:
    return {
        "occurred_at": _iso(event.occurred_at),
        "kind": event.kind,
        "source": event.source,
        "wording": None
        if wording is None
        else {
            "version": wording.version,
            "locale": wording.locale,
            "text": wording.text,
            "privacy_url": wording.privacy_url,
        },
        "locale": event.locale,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "message_id": event.message_id,
        "detail": event.detail or {},
    }
