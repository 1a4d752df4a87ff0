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
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from plugin.consent.traces import BuyerTraces
from plugin.db import utcnow
from plugin.models import (
    AuditEntry,
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

log = logging.getLogger(__name__)


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
        conditions.append(func.lower(Customer.email) == email.lower())
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
        conditions.append(func.lower(model.email).in_(buyer.emails))
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
                **_plain(
                    s,
                    "phone",
                    "whatsapp_user_id",
                    "state",
                    "locale",
                    "confirmed_at",
                    "opted_out_at",
                ),
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
    traces = _traces(session, store, buyer)  # read before the rows that name them are cleared
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
    touched += _erase_deliveries(session, store, traces)
    touched += _erase_exports(session, store, buyer, traces)
    session.flush()
    log.info("store %s: a buyer was erased (%s, %d rows)", store.id, source, touched)
    return touched


def erase_on_request(session: Session, store: Store, phone: str, actor: str) -> int | None:
    """The owner's erasure of one number, audited; None (nothing changed) when nothing is held."""
    subscriptions = _rows(session, Subscription, store, find_buyer(session, store, phone=phone))
    touched = erase_buyer(session, store, phone=phone, source="shop_owner")
    if not touched:
        return None
    session.add(
        AuditEntry(
            store_id=store.id,
            actor=actor,
            action="buyer_erased",
            field="consent",
            new_value={"subscription_ids": sorted(s.id for s in subscriptions)},
            occurred_at=utcnow(),
        )
    )
    session.flush()
    return touched


def _traces(session: Session, store: Store, buyer: Buyer) -> BuyerTraces:
    """The buyer's identifiers, with the addresses their consents were given from."""
    subscriptions = _rows(session, Subscription, store, buyer)
    subscription_ids = [s.id for s in subscriptions]
    addresses = (
        session.scalars(
            select(ConsentEvent.ip).where(
                ConsentEvent.subscription_id.in_(subscription_ids), ConsentEvent.ip.is_not(None)
            )
        ).all()
        if subscription_ids
        else []
    )
    return BuyerTraces.of(
        phones=buyer.phones,
        emails=buyer.emails,
        names=buyer.names,
        addresses=addresses,
        region=store.country,
        user_ids=[s.whatsapp_user_id for s in subscriptions if s.whatsapp_user_id],
    )


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


def _erase_deliveries(session: Session, store: Store, traces: BuyerTraces) -> int:
    """Drop every stored webhook body and error that names the buyer in any spelling.

    Processed deliveries hold no body; what is still held is waiting for a retry or failed for
    good. A delivery about an erased buyer must not be applied later either (it would bring the
    data back), so it is marked done; delivery id, topic and times stay for the audit.
    """
    if not traces:
        return 0
    dropped = 0
    for delivery in session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.store_id == store.id,
            or_(WebhookDelivery.body.is_not(None), WebhookDelivery.last_error.is_not(None)),
        )
    ):
        if traces.found_in(delivery.body) or traces.found_in(delivery.last_error):
            delivery.body = None
            delivery.processed_at = delivery.processed_at or utcnow()
            delivery.last_error = "erased (GDPR)"
            dropped += 1
    return dropped


def _erase_exports(session: Session, store: Store, buyer: Buyer, traces: BuyerTraces) -> int:
    """Data exports made for the buyer, whether or not they were linked to a customer row."""
    exports = session.scalars(select(DataExport).where(DataExport.store_id == store.id)).all()
    erased = [
        export
        for export in exports
        if export.customer_id in buyer.customer_ids
        or traces.found_in(json.dumps(export.export, ensure_ascii=False))
    ]
    if erased:
        session.execute(delete(DataExport).where(DataExport.id.in_([e.id for e in erased])))
    return len(erased)


def erase_store(session: Session, store: Store) -> None:
    """Shop redact: delete the shop and, through the foreign keys, everything it owns."""
    session.delete(store)
    session.flush()
