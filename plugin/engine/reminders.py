"""Cart reminders: the shop's steps (default 1 h and 24 h after the cart was last touched).

A cart qualifies while it is open or abandoned, has lines, has a phone whose subscription is
confirmed, and is younger than cart_max_age_hours. Each step is composed once (dedupe key
store + cart + step); only the latest due step is composed, so a late run never sends a burst.
The sequence ends when the cart is recovered, the buyer orders, opts out, or the cart expires:
the guards check all of that again right before sending.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, selectinload

from plugin.carts import mark_abandoned
from plugin.engine.outbox import ComposeCounts, Draft, compose, format_money
from plugin.engine.salutation import greeting_name
from plugin.models import (
    Cart,
    CartLine,
    CartState,
    Customer,
    Flow,
    Product,
    Store,
    Subscription,
    SubscriptionState,
)

log = logging.getLogger(__name__)


def reminder_steps(store: Store) -> list[dict[str, Any]]:
    """The shop's steps, earliest first, each {"delay_minutes": int, "template": purpose}."""
    return sorted(store.setting("reminder_steps"), key=lambda step: int(step["delay_minutes"]))


def expire_carts(session: Session, store: Store, now: dt.datetime) -> int:
    """Carts older than cart_max_age_hours get no more reminders."""
    cutoff = now - dt.timedelta(hours=store.setting("cart_max_age_hours"))
    return session.execute(
        update(Cart)
        .where(
            Cart.store_id == store.id,
            Cart.state.in_([CartState.OPEN, CartState.ABANDONED]),
            Cart.last_activity_at <= cutoff,
        )
        .values(state=CartState.EXPIRED)
    ).rowcount


def qualifying_carts(
    session: Session, store: Store, now: dt.datetime
) -> list[tuple[Cart, Subscription]]:
    """Carts due for at least their first step, with the buyer's confirmed subscription."""
    steps = reminder_steps(store)
    if not steps:
        return []
    first_due = now - dt.timedelta(minutes=int(steps[0]["delay_minutes"]))
    oldest = now - dt.timedelta(hours=store.setting("cart_max_age_hours"))
    rows = session.execute(
        select(Cart, Subscription)
        .join(
            Subscription,
            (Subscription.store_id == Cart.store_id) & (Subscription.phone == Cart.phone),
        )
        .where(
            Cart.store_id == store.id,
            Cart.state.in_([CartState.OPEN, CartState.ABANDONED]),
            Cart.last_activity_at <= first_due,
            Cart.last_activity_at > oldest,
            Subscription.state == SubscriptionState.CONFIRMED,
            exists().where(CartLine.cart_id == Cart.id),
        )
        .options(selectinload(Cart.lines))
        .order_by(Cart.id)
    ).all()
    return [(cart, subscription) for cart, subscription in rows]


def due_step(store: Store, cart: Cart, now: dt.datetime) -> tuple[int, dict[str, Any]] | None:
    """The latest step whose time has come (1-based number and its settings)."""
    found = None
    for number, step in enumerate(reminder_steps(store), start=1):
        if cart.last_activity_at + dt.timedelta(minutes=int(step["delay_minutes"])) <= now:
            found = (number, step)
    return found


def reminder_draft(
    session: Session,
    store: Store,
    cart: Cart,
    subscription: Subscription,
    number: int,
    step: dict[str, Any],
) -> Draft:
    customer = session.get(Customer, cart.customer_id) if cart.customer_id else None
    first = cart.lines[0]
    product = session.get(Product, first.product_id) if first.product_id else None
    language = (
        subscription.locale or (customer.locale if customer else None) or store.default_locale
    )
    return Draft(
        dedupe_key=f"cart:{cart.id}:step:{number}",
        flow=Flow.CART_REMINDER,
        purpose=str(step["template"]),
        subscription=subscription,
        customer=customer,
        cart=cart,
        due_at=cart.last_activity_at + dt.timedelta(minutes=int(step["delay_minutes"])),
        expires_at=cart.last_activity_at + dt.timedelta(hours=store.setting("cart_max_age_hours")),
        body=[
            greeting_name(customer.first_name if customer else None, language),
            store.name,
            format_money(cart.total_minor, cart.currency, language),
        ],
        header_image=product.image_url if product else None,
        link_url=cart.recovery_url or (f"https://{store.domain}/cart"),
        context={"step": number, "cart_total_minor": cart.total_minor, "lines": len(cart.lines)},
    )


def compose_cart_reminders(session: Session, store: Store, now: dt.datetime) -> ComposeCounts:
    """Compose the due reminder step of every qualifying cart; the caller commits."""
    if not store.is_sending:
        return ComposeCounts()
    mark_abandoned(session, store, now)
    drafts = []
    for cart, subscription in qualifying_carts(session, store, now):
        found = due_step(store, cart, now)
        if found is not None:
            drafts.append(reminder_draft(session, store, cart, subscription, *found))
    counts = compose(session, store, drafts, now)
    log.info("store %s reminders: %s", store.id, counts)
    return counts
