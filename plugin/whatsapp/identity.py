"""Which buyer a webhook speaks of: by business-scoped user id (BSUID), by phone, or both.

Since 2026 Meta puts a BSUID (`user_id`, "US.13491208655302741918"; a parent BSUID carries
"ENT": "US.ENT.118…") in every messages webhook, and a buyer who adopts a username may hide
their number: `wa_id`, `from` and `recipient_id` are then left out. Where Meta documents them:
- incoming messages: `contacts[].user_id`, `messages[].from_user_id`; `from`/`wa_id` optional;
- statuses: `statuses[].recipient_user_id`; `recipient_id` optional (a send to a BSUID);
- user_preferences: `user_preferences[].user_id` beside an optional `wa_id`, and `contacts`.
https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids

Rules that keep one buyer's consent from ever landing on another's:
- a number, where one comes, decides which subscription is meant (consent was given for it);
- a BSUID is written on that subscription only while no other subscription of the shop holds
  it (a unique index backs this), and a new BSUID beside a known number replaces the old one
  (Meta gives a new BSUID with a new number; the number matching means the same buyer);
- a BSUID alone finds its subscription, or nothing: an unknown BSUID changes nothing.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent import ledger
from plugin.models import Store, Subscription

log = logging.getLogger(__name__)

#: Two-letter country code, optional "ENT" (parent BSUID), then up to 128 letters and digits.
USER_ID = re.compile(r"[A-Z]{2}(?:\.ENT)?\.[A-Za-z0-9]{1,128}")


def user_id_of(value: Any) -> str | None:
    """The BSUID in Meta's documented format, else None (nothing else is matched on)."""
    text = str(value or "").strip()
    return text if USER_ID.fullmatch(text) else None


def phone_of(wa_id: Any) -> str | None:
    """E.164 from a webhook's `wa_id`/`from`/`recipient_id` (digits without "+")."""
    digits = str(wa_id or "").lstrip("+")
    return f"+{digits}" if digits.isdigit() else None


def by_user_id(session: Session, store: Store, user_id: str | None) -> Subscription | None:
    """The shop's subscription holding this BSUID."""
    if not user_id:
        return None
    return session.scalars(
        select(Subscription).where(
            Subscription.store_id == store.id, Subscription.whatsapp_user_id == user_id
        )
    ).first()


def resolve(
    session: Session, store: Store, *, phone: str | None, user_id: Any
) -> Subscription | None:
    """The subscription a (phone, BSUID) pair names, recording the BSUID where it is safe."""
    user_id = user_id_of(user_id)
    holder = by_user_id(session, store, user_id)
    if phone is None:
        return holder
    subscription = ledger.find_subscription(session, store.id, phone)
    if subscription is None or user_id is None:
        return subscription
    if holder is None:
        subscription.whatsapp_user_id = user_id  # first or new BSUID of this number
    elif holder.id != subscription.id:
        log.warning("a BSUID held by another subscription came with a number: not merged")
    return subscription


def remember_pairs(session: Session, store: Store, value: dict[str, Any]) -> None:
    """Keep each (number, BSUID) pair a change carries on the number's subscription."""
    pairs = [(c.get("wa_id"), c.get("user_id")) for c in value.get("contacts") or []]
    pairs += [
        (s.get("recipient_id"), s.get("recipient_user_id")) for s in value.get("statuses") or []
    ]
    pairs += [(p.get("wa_id"), p.get("user_id")) for p in value.get("user_preferences") or []]
    for wa_id, user_id in pairs:
        phone = phone_of(wa_id)
        if phone is not None and user_id:
            resolve(session, store, phone=phone, user_id=user_id)
