"""Three months of message history for the demo shop, so the dashboard has real rows to show.

Cart reminders went out (most delivered, many read, a few failed); a tenth of the carts were
held out; some carts were recovered by an order the buyer placed anyway (the demo's existing
orders, credited last-touch when a reminder preceded them). Each message carries the template
parameters the engine would have composed (the buyer's name, the shop, the amount or product,
the product image, the tracked link and the unsubscribe button), built by the engine's own
plugin.engine.outbox functions. Deterministic: its own seed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.engine.outbox import Draft, format_money, template_parameters, with_unsubscribe
from plugin.engine.salutation import greeting_name
from plugin.models import (
    Cart,
    CartState,
    Conversion,
    Customer,
    Flow,
    Notification,
    NotificationState,
    Order,
    Product,
    Store,
    Subscription,
    SubscriptionState,
    WhatsAppTemplate,
)
from plugin.whatsapp.pricing import expected_cost_micros

HISTORY_SEED = 20261125
HISTORY_DAYS = 90
#: Orders that ended an abandoned cart; a few of them in the holdout.
RECOVERED_CARTS = 110
#: Carts that were never recovered, with a reminder and in the holdout.
LOST_CARTS, LOST_HOLDOUT_CARTS = 300, 45
RECOMMENDATIONS = 160


def seed_history(session: Session, store: Store, now: dt.datetime) -> None:
    """Write the history once the orders and subscriptions exist: it credits those orders."""
    rng = random.Random(HISTORY_SEED)
    subscriptions = session.scalars(
        select(Subscription)
        .where(Subscription.store_id == store.id, Subscription.state == SubscriptionState.CONFIRMED)
        .order_by(Subscription.id)
    ).all()
    by_customer = {s.customer_id: s for s in subscriptions}
    since = now - dt.timedelta(days=HISTORY_DAYS)
    orders = [
        order
        for order in session.scalars(
            select(Order)
            .where(Order.store_id == store.id, Order.placed_at >= since)
            .where(Order.cancelled_at.is_(None))
            .order_by(Order.placed_at, Order.id)
        )
        if order.customer_id in by_customer
        and by_customer[order.customer_id].confirmed_at is not None
        and by_customer[order.customer_id].confirmed_at < order.placed_at - dt.timedelta(days=2)
    ]
    rng.shuffle(orders)
    number = 0
    for order in orders[:RECOVERED_CARTS]:
        number += 1
        started = order.placed_at - dt.timedelta(minutes=rng.randint(150, 30 * 60))
        holdout = rng.random() < 0.05
        cart = _cart(session, store, by_customer[order.customer_id], number, started, order)
        _reminders(session, store, rng, cart, by_customer[order.customer_id], holdout, order, now)
    for index in range(LOST_CARTS + LOST_HOLDOUT_CARTS):
        number += 1
        subscription = rng.choice(subscriptions)
        earliest = max(since, subscription.confirmed_at or since)
        span = int((now - dt.timedelta(days=2) - earliest).total_seconds() // 60)
        if span <= 0:
            continue
        started = earliest + dt.timedelta(minutes=rng.randint(0, span))
        cart = _cart(session, store, subscription, number, started, None)
        holdout = index >= LOST_CARTS
        _reminders(session, store, rng, cart, subscription, holdout, None, now)
    _recommendations(session, store, rng, subscriptions, since, now)
    session.flush()
    _compose_parameters(session, store)


def _compose_parameters(session: Session, store: Store) -> None:
    """Give every history message the parameters, tracked link and context the engine's
    compose step would have given it (plugin.engine.reminders / recommendations)."""
    rows = session.scalars(
        select(Notification).where(Notification.store_id == store.id).order_by(Notification.id)
    ).all()
    customers = {
        c.id: c for c in session.scalars(select(Customer).where(Customer.store_id == store.id))
    }
    subscriptions = {
        s.id: s
        for s in session.scalars(select(Subscription).where(Subscription.store_id == store.id))
    }
    carts = {c.id: c for c in session.scalars(select(Cart).where(Cart.store_id == store.id))}
    products = session.scalars(
        select(Product).where(Product.store_id == store.id).order_by(Product.id)
    ).all()
    templates = {
        (t.name, t.language): t
        for t in session.scalars(
            select(WhatsAppTemplate).where(WhatsAppTemplate.store_id == store.id)
        )
    }
    for number, row in enumerate(rows):
        subscription = subscriptions[row.subscription_id]
        customer = customers.get(row.customer_id) if row.customer_id else None
        greeting = greeting_name(customer.first_name if customer else None, row.language)
        # the cart's first line, or the recommended product: one of the shop's, the same each run
        product = products[number % len(products)]
        cart = carts.get(row.cart_id) if row.cart_id else None
        if cart is not None:
            body = [
                greeting,
                store.name,
                format_money(cart.total_minor, cart.currency, row.language),
            ]
            link_url = f"https://{store.domain}/cart"
        else:
            # the recommendation template's order: {{1}} buyer, {{2}} shop, {{3}} product
            body = [greeting, store.name, product.title]
            link_url = product.url or f"https://{store.domain}/"
            row.context = {**(row.context or {}), "product_id": product.id}
        purpose = row.template_name.removeprefix("shopnudge_")
        draft = Draft(
            dedupe_key=row.dedupe_key, flow=row.flow, purpose=purpose, subscription=subscription,
            due_at=row.due_at, expires_at=row.expires_at, customer=customer, cart=cart, body=body,
            header_image=product.image_url, link_url=link_url,
        )  # fmt: skip
        seed = f"demo-history-link-{store.id}-{row.dedupe_key}".encode()
        row.link_token = hashlib.sha256(seed).hexdigest()[:24]
        template = templates.get((row.template_name, row.language))
        row.parameters = with_unsubscribe(
            template_parameters(draft, row.link_token), template, subscription
        )
        row.context = {**(row.context or {}), "purpose": purpose, "link_url": link_url}
    session.flush()


def _cart(
    session: Session,
    store: Store,
    subscription: Subscription,
    number: int,
    started: dt.datetime,
    order: Order | None,
) -> Cart:
    token = hashlib.sha256(f"demo-history-cart-{number}".encode()).hexdigest()[:32]
    cart = Cart(
        store_id=store.id,
        platform_id=token,
        source="platform",
        customer_id=subscription.customer_id,
        phone=subscription.phone,
        locale=subscription.locale,
        currency=store.currency,
        state=CartState.RECOVERED if order else CartState.EXPIRED,
        last_activity_at=started,
        platform_updated_at=started,
        total_minor=order.total_minor if order else 2000 + (number * 137) % 6000,
        recovered_order_id=order.id if order else None,
        recovered_at=order.placed_at if order else None,
    )
    session.add(cart)
    session.flush()
    return cart


def _reminders(
    session: Session,
    store: Store,
    rng: random.Random,
    cart: Cart,
    subscription: Subscription,
    holdout: bool,
    order: Order | None,
    now: dt.datetime,
) -> None:
    due = cart.last_activity_at + dt.timedelta(minutes=60)
    first = _notification(store, cart, subscription, 1, due)
    if holdout:
        first.state, first.reason = NotificationState.SKIPPED, "holdout"
        session.add(first)
        return
    _deliver(store, rng, first, due)
    session.add(first)
    session.flush()
    if order is not None and first.state == NotificationState.SENT:
        touch = "clicked" if first.clicked_at else "delivered"
        session.add(
            Conversion(
                store_id=store.id,
                order_id=order.id,
                notification_id=first.id,
                touch=touch,
                revenue_minor=order.total_minor,
                currency=order.currency,
                attributed_at=order.placed_at,
            )
        )
        return
    second_due = cart.last_activity_at + dt.timedelta(hours=24)
    if order is None and second_due < now and rng.random() < 0.7:
        second = _notification(store, cart, subscription, 2, second_due)
        if rng.random() < 0.2:
            second.state, second.reason = NotificationState.SKIPPED, "frequency_cap"
        else:
            _deliver(store, rng, second, second_due)
        session.add(second)


def _notification(
    store: Store, cart: Cart, subscription: Subscription, step: int, due: dt.datetime
) -> Notification:
    return Notification(
        store_id=store.id,
        dedupe_key=f"cart:{cart.id}:{step}",
        flow=Flow.CART_REMINDER,
        subscription_id=subscription.id,
        customer_id=subscription.customer_id,
        cart_id=cart.id,
        phone=subscription.phone,
        template_name=f"shopnudge_cart_reminder_{step}",
        language=subscription.locale or store.default_locale,
        context={"step": step},
        due_at=due,
        expires_at=due + dt.timedelta(hours=24),
    )


def _deliver(store: Store, rng: random.Random, row: Notification, at: dt.datetime) -> None:
    """Sent, then (mostly) delivered and read; a few numbers cannot receive messages."""
    if rng.random() < 0.03:
        row.state, row.reason = NotificationState.FAILED, "131026 Message undeliverable"
        return
    row.state = NotificationState.SENT
    row.sent_at = at + dt.timedelta(seconds=rng.randint(5, 300))
    row.provider_message_id = f"wamid.demo.{row.dedupe_key.replace(':', '.')}"
    row.cost_micros = expected_cost_micros(store, row.phone)
    row.cost_currency, row.pricing_category, row.pricing_type = "EUR", "marketing", "regular"
    row.delivery_status = "sent"
    if rng.random() < 0.95:
        row.delivery_status = "delivered"
        row.delivered_at = row.sent_at + dt.timedelta(seconds=rng.randint(2, 90))
        if rng.random() < 0.72:
            row.delivery_status = "read"
            row.read_at = row.delivered_at + dt.timedelta(minutes=rng.randint(1, 600))
            if rng.random() < 0.3:
                row.clicked_at = row.read_at + dt.timedelta(minutes=rng.randint(0, 20))


def _recommendations(
    session: Session,
    store: Store,
    rng: random.Random,
    subscriptions: list[Subscription],
    since: dt.datetime,
    now: dt.datetime,
) -> None:
    for index in range(RECOMMENDATIONS):
        subscription = rng.choice(subscriptions)
        due = since + dt.timedelta(minutes=rng.randint(0, HISTORY_DAYS * 24 * 60 - 120))
        row = Notification(
            store_id=store.id,
            dedupe_key=f"recommendation:{subscription.id}:{index}",
            flow=Flow.RECOMMENDATION,
            subscription_id=subscription.id,
            customer_id=subscription.customer_id,
            phone=subscription.phone,
            template_name="shopnudge_recommendation",
            language=subscription.locale or store.default_locale,
            due_at=due,
            expires_at=due + dt.timedelta(days=2),
        )
        roll = rng.random()
        if roll < 0.08:
            row.state, row.reason = NotificationState.SKIPPED, "quiet_hours"
        elif roll < 0.16:
            row.state, row.reason = NotificationState.SKIPPED, "frequency_cap"
        else:
            _deliver(store, rng, row, due)
        session.add(row)
