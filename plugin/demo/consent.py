"""The demo shop's WhatsApp subscribers, each with the consent events that made them one.

Most confirmed, some still pending, some opted out again; every request names the wording
the buyer saw, which therefore existed before it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets

from sqlalchemy.orm import Session

from plugin.consent.wording import ensure_default_wordings
from plugin.models import (
    ConsentEvent,
    ConsentKind,
    Customer,
    Store,
    Subscription,
    SubscriptionState,
)


def seed_subscriptions(
    session: Session,
    store: Store,
    rng: random.Random,
    now: dt.datetime,
    customers: list[tuple[Customer, list[str]]],
) -> list[Customer]:
    """Ninety subscriptions with their consent events; returns the buyers still confirmed."""
    wordings = ensure_default_wordings(session, store)
    chosen = rng.sample([c for c, _ in customers], k=90)
    confirmed = []
    for index, customer in enumerate(chosen):
        locale = customer.locale if customer.locale in wordings else store.default_locale
        wording = wordings[locale]
        asked = now - dt.timedelta(days=rng.randint(1, 150), minutes=rng.randint(0, 1440))
        if wording.first_used_at is None or asked < wording.first_used_at:
            wording.first_used_at = asked
            # a text exists before anyone agrees to it: the owner wrote it the day before
            wording.created_at = min(wording.created_at, asked - dt.timedelta(days=1))
        state = (
            SubscriptionState.CONFIRMED
            if index < 65
            else SubscriptionState.PENDING
            if index < 80
            else SubscriptionState.OPTED_OUT
        )
        subscription = Subscription(
            store_id=store.id,
            phone=customer.phone or "",
            customer_id=customer.id,
            locale=locale,
            state=state,
            unsubscribe_token=secrets.token_urlsafe(24),
        )
        session.add(subscription)
        session.flush()
        ip = f"203.0.113.{rng.randint(1, 254)}"
        events = [
            ConsentEvent(
                store_id=store.id,
                subscription_id=subscription.id,
                kind=ConsentKind.REQUESTED,
                source=rng.choice(["widget", "checkout_checkbox", "thank_you_page"]),
                wording_id=wording.id,
                locale=locale,
                ip=ip,
                user_agent="Mozilla/5.0 (demo)",
                occurred_at=asked,
                detail={"customer_id": customer.platform_id},
            )
        ]
        if state == SubscriptionState.PENDING:
            subscription.pending_expires_at = asked + dt.timedelta(days=7)
            subscription.confirmation_code = _code(rng)
        else:
            confirmed_at = asked + dt.timedelta(minutes=rng.randint(1, 90))
            subscription.confirmed_at = confirmed_at
            events.append(
                ConsentEvent(
                    store_id=store.id,
                    subscription_id=subscription.id,
                    kind=ConsentKind.CONFIRMED,
                    source="whatsapp_reply",
                    locale=locale,
                    occurred_at=confirmed_at,
                    message_id=f"wamid.demo{_digest(customer.phone or '')}",
                    detail={"reply": "JA"},
                )
            )
            if state == SubscriptionState.OPTED_OUT:
                stopped = confirmed_at + dt.timedelta(days=rng.randint(1, 20))
                stopped = min(stopped, now - dt.timedelta(minutes=30))  # never in the future
                subscription.opted_out_at = stopped
                events.append(
                    ConsentEvent(
                        store_id=store.id,
                        subscription_id=subscription.id,
                        kind=ConsentKind.OPTED_OUT,
                        source="whatsapp_reply",
                        locale=locale,
                        occurred_at=stopped,
                        detail={"keyword": "STOPP"},
                    )
                )
            else:
                confirmed.append(customer)
        session.add_all(events)
    return confirmed


def _code(rng: random.Random) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
