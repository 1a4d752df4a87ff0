"""GDPR: everything held about a buyer, and erasing it.

Erasure removes personal data (names, phone numbers, e-mail addresses, IPs, user agents, message
ids, free-text replies) from every table. What remains is anonymous: order totals and lines (for
the shop's revenue counts), notification states and costs (for spend and delivery counts), and
consent events stripped to kind, source, time and wording version, plus a keyed hash of the
number on the subscription so an erased buyer who had opted out stays suppressed.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import (
    Cart,
    CartState,
    ConsentEvent,
    ConsentKind,
    Customer,
    DataExport,
    Notification,
    OptinWording,
    Order,
    Store,
    Subscription,
    SubscriptionState,
    WebhookDelivery,
)


@dataclass
class Buyer:
    """Every identifier one buyer is known by in one shop."""

    customer_ids: set[int] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)


def find_buyer(
    session: Session,
    store: Store,
    *,
    customer_platform_id: str | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> Buyer:
    buyer = Buyer()
    if phone:
        buyer.phones.add(phone)
    if email:
        buyer.emails.add(email.lower())
    conditions = []
    if customer_platform_id:
        conditions.append(Customer.platform_id == customer_platform_id)
    if phone:
        conditions.append(Customer.phone == phone)
    if email:
        conditions.append(Customer.email == email)
    if conditions:
        for customer in session.scalars(
            select(Customer).where(Customer.store_id == store.id, or_(*conditions))
        ):
            buyer.customer_ids.add(customer.id)
            buyer.phones.update(p for p in [customer.phone] if p)
            buyer.emails.update(e.lower() for e in [customer.email] if e)
            buyer.names.update(n for n in [customer.first_name, customer.last_name] if n)
    return buyer


def _owned(model: Any, store: Store, buyer: Buyer) -> Any:
    conditions = []
    if buyer.customer_ids and hasattr(model, "customer_id"):
        conditions.append(model.customer_id.in_(buyer.customer_ids))
    if buyer.phones and hasattr(model, "phone"):
        conditions.append(model.phone.in_(buyer.phones))
    if buyer.emails and hasattr(model, "email"):
        conditions.append(model.email.in_(buyer.emails))
    if not conditions:
        return None
    return select(model).where(model.store_id == store.id, or_(*conditions))


def _rows(session: Session, model: Any, store: Store, buyer: Buyer) -> list[Any]:
    statement = _owned(model, store, buyer)
    return [] if statement is None else list(session.scalars(statement))


def export_buyer(
    session: Session,
    store: Store,
    *,
    customer_platform_id: str | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> dict[str, Any]:
    """Everything held about a buyer in this shop, as JSON-ready data."""
    buyer = find_buyer(
        session, store, customer_platform_id=customer_platform_id, phone=phone, email=email
    )
    subscriptions = _rows(session, Subscription, store, buyer)
    events = (
        session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.subscription_id.in_([s.id for s in subscriptions]))
            .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
        ).all()
        if subscriptions
        else []
    )
    wordings = {
        w.id: w
        for w in session.scalars(
            select(OptinWording).where(OptinWording.id.in_({e.wording_id for e in events} - {None}))
        )
    }
    return {
        "store": {"name": store.name, "domain": store.domain},
        "exported_at": utcnow().isoformat(),
        "customers": [
            _plain(
                c,
                "platform_id",
                "email",
                "phone",
                "first_name",
                "last_name",
                "locale",
                "country",
                "platform_marketing_state",
            )
            for c in _rows(session, Customer, store, buyer)
        ],
        "orders": [
            {
                **_plain(
                    o,
                    "platform_id",
                    "name",
                    "email",
                    "phone",
                    "status",
                    "financial_status",
                    "total_minor",
                    "currency",
                    "placed_at",
                ),
                "lines": [_plain(line, "title", "quantity", "price_minor") for line in o.lines],
            }
            for o in _rows(session, Order, store, buyer)
        ],
        "carts": [
            _plain(
                c,
                "platform_id",
                "phone",
                "email",
                "state",
                "total_minor",
                "currency",
                "last_activity_at",
            )
            for c in _rows(session, Cart, store, buyer)
        ],
        "subscriptions": [
            {
                **_plain(s, "phone", "state", "locale", "confirmed_at", "opted_out_at"),
                "events": [
                    {
                        **_plain(
                            e,
                            "kind",
                            "source",
                            "locale",
                            "ip",
                            "user_agent",
                            "message_id",
                            "occurred_at",
                            "detail",
                        ),
                        "wording": _plain(wordings[e.wording_id], "locale", "version", "text")
                        if e.wording_id in wordings
                        else None,
                    }
                    for e in events
                    if e.subscription_id == s.id
                ],
            }
            for s in subscriptions
        ],
        "notifications": [
            _plain(
                n,
                "flow",
                "template_name",
                "state",
                "reason",
                "sent_at",
                "delivery_status",
                "parameters",
            )
            for n in _rows(session, Notification, store, buyer)
        ],
    }


def _plain(row: Any, *names: str) -> dict[str, Any]:
    out = {}
    for name in names:
        value = getattr(row, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


def suppression_key(store: Store, phone: str) -> str:
    """A keyed hash standing in for an erased number (fits the phone column)."""
    digest = hmac.new(store.public_key.encode(), phone.encode(), hashlib.sha256).hexdigest()
    return f"erased:{digest[:12]}"


def erase_buyer(
    session: Session,
    store: Store,
    *,
    customer_platform_id: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    source: str,
) -> int:
    """Remove a buyer's personal data from every table; returns how many rows were touched."""
    buyer = find_buyer(
        session, store, customer_platform_id=customer_platform_id, phone=phone, email=email
    )
    touched = 0
    now = utcnow()
    for customer in _rows(session, Customer, store, buyer):
        customer.email = customer.phone = customer.first_name = customer.last_name = None
        customer.erased_at = now
        touched += 1
    for order in _rows(session, Order, store, buyer):
        order.email = order.phone = None
        touched += 1
    for cart in _rows(session, Cart, store, buyer):
        cart.email = cart.phone = None
        if cart.state in (CartState.OPEN, CartState.ABANDONED):
            cart.state = CartState.EXPIRED  # no reminder can reach an erased buyer
        touched += 1
    for notification in _rows(session, Notification, store, buyer):
        notification.phone = None
        notification.parameters = {}
        touched += 1
    for subscription in _rows(session, Subscription, store, buyer):
        touched += _erase_subscription(session, store, subscription, source, now)
    touched += _erase_pending_deliveries(session, store, buyer)
    if buyer.customer_ids:
        session.execute(delete(DataExport).where(DataExport.customer_id.in_(buyer.customer_ids)))
    session.flush()
    return touched


def _erase_subscription(
    session: Session, store: Store, subscription: Subscription, source: str, now: Any
) -> int:
    events = session.scalars(
        select(ConsentEvent).where(ConsentEvent.subscription_id == subscription.id)
    ).all()
    for event in events:
        event.ip = event.user_agent = event.message_id = None
        event.detail = {}
    subscription.phone = suppression_key(store, subscription.phone)
    subscription.state = SubscriptionState.OPTED_OUT
    subscription.whatsapp_user_id = subscription.confirmation_code = None
    subscription.unsubscribe_token = None
    subscription.customer_id = None
    session.add(
        ConsentEvent(
            store_id=store.id,
            subscription_id=subscription.id,
            kind=ConsentKind.ERASED,
            source=source,
            occurred_at=now,
        )
    )
    return 1 + len(events)


def _erase_pending_deliveries(session: Session, store: Store, buyer: Buyer) -> int:
    """Unprocessed webhook bodies may still carry the buyer's data: drop those that do."""
    needles = [v.encode() for v in buyer.phones | buyer.emails | buyer.names if v]
    if not needles:
        return 0
    dropped = 0
    for delivery in session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.store_id == store.id, WebhookDelivery.body.is_not(None)
        )
    ):
        if any(needle in (delivery.body or b"") for needle in needles):
            delivery.body = None
            delivery.processed_at = delivery.processed_at or utcnow()
            delivery.last_error = "erased before processing (GDPR)"
            dropped += 1
    return dropped


def erase_store(session: Session, store: Store) -> None:
    """Shop redact: delete the shop and, through the foreign keys, everything it owns."""
    session.delete(store)
    session.flush()


from plugin.consent import retention  # noqa: E402, F401  (registers the retention job)
