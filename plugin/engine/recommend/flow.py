"""The recommendation flow: N days after an order, one product that fits it, once per period.

Each day at the shop's local hour (recommendation_local_hour) the buyers whose last order is
recommendation_delay_days old (and not older than one period beyond that) get one message with
the best pick's image, name, price and a tracked link; the other picks and every pick's reason
are kept in the notification's context. The dedupe key (store + buyer + period) and a look back
over the last period keep it to one message per buyer per period.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, fields

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from plugin.engine.localtime import zone_named
from plugin.engine.outbox import (
    ComposeCounts,
    CustomerFacts,
    Draft,
    SubscriptionFacts,
    compose,
    cycle_collector_paused,
)
from plugin.engine.recommend import fitting, picking
from plugin.engine.recommend.history import available_items, in_categories, purchases
from plugin.engine.salutation import greeting_name
from plugin.models import (
    Customer,
    Flow,
    Notification,
    Order,
    Product,
    Store,
    Subscription,
    SubscriptionState,
)

log = logging.getLogger(__name__)

#: Picks kept per message (one is shown; the rest explain the choice on the dashboard).
PICKS = 3


BUYER_NAMES = tuple(f.name for f in fields(CustomerFacts))
BUYER_COLUMNS = tuple(getattr(Customer, name) for name in BUYER_NAMES)
SUBSCRIPTION_NAMES = tuple(f.name for f in fields(SubscriptionFacts))
SUBSCRIPTION_COLUMNS = tuple(getattr(Subscription, name) for name in SUBSCRIPTION_NAMES)


def is_local_hour(store: Store, now: dt.datetime) -> bool:
    zone = zone_named(store.timezone) or dt.UTC
    return now.astimezone(zone).hour == int(store.setting("recommendation_local_hour"))


def period_number(store: Store, now: dt.datetime) -> int:
    return int(now.timestamp() // (86_400 * int(store.setting("recommendation_period_days"))))


def eligible_buyers(
    session: Session, store: Store, now: dt.datetime
) -> list[tuple[CustomerFacts, SubscriptionFacts]]:
    """Confirmed buyers whose last order is delay days old, not messaged within a period."""
    delay = dt.timedelta(days=store.setting("recommendation_delay_days"))
    period = dt.timedelta(days=store.setting("recommendation_period_days"))
    last_order = (
        select(Order.customer_id, func.max(Order.placed_at).label("last_at"))
        .where(*purchases(now, store), Order.customer_id.is_not(None))
        .group_by(Order.customer_id)
        .subquery()
    )
    recently_messaged = select(Notification.phone).where(
        Notification.store_id == store.id,
        Notification.flow == Flow.RECOMMENDATION,
        Notification.created_at > now - period,
    )
    filters = (
        Customer.store_id == store.id,
        Customer.erased_at.is_(None),
        Subscription.state == SubscriptionState.CONFIRMED,
        last_order.c.last_at <= now - delay,
        last_order.c.last_at > now - delay - period,
        Subscription.phone.not_in(recently_messaged),
    )
    # Linked by customer id, or by phone where the opt-in came without one: two equi-joins
    # (an OR in one join condition would make PostgreSQL compare every pair).
    links = (
        Subscription.customer_id == Customer.id,
        (Subscription.customer_id.is_(None)) & (Subscription.phone == Customer.phone),
    )
    rows = []
    for link in links:
        rows += session.execute(
            select(*BUYER_COLUMNS, *SUBSCRIPTION_COLUMNS)
            .select_from(Customer)
            .join(last_order, last_order.c.customer_id == Customer.id)
            .join(Subscription, (Subscription.store_id == Customer.store_id) & link)
            .where(*filters)
        ).all()
    rows.sort(key=lambda row: (row[0], row[len(BUYER_COLUMNS)]))
    seen: set[int] = set()
    unique = []
    width = len(BUYER_COLUMNS)
    for row in rows:
        if row[0] in seen:
            continue
        seen.add(row[0])
        unique.append((CustomerFacts(*row[:width]), SubscriptionFacts(*row[width:])))
    return unique


def compose_recommendations(
    session: Session,
    models: fitting.ModelCache,
    store: Store,
    now: dt.datetime,
    *,
    any_hour: bool = False,
) -> ComposeCounts:
    """Compose this period's recommendation for every eligible buyer; the caller commits.

    `models` is the app's cache (plugin.engine.jobs.model_cache): a shop's model is fitted once
    and kept across runs until its orders change."""
    if not store.is_sending or not (any_hour or is_local_hour(store, now)):
        return ComposeCounts()
    with cycle_collector_paused():
        return compose_for_buyers(session, models, store, now)


def compose_for_buyers(
    session: Session, models: fitting.ModelCache, store: Store, now: dt.datetime
) -> ComposeCounts:
    buyers = eligible_buyers(session, store, now)
    if not buyers:
        return ComposeCounts()
    model = models.model_for(session, store, now)
    available = available_items(session, store, model.history)
    consumable = in_categories(model.history, store.setting("consumable_categories"))
    picks = picking.recommend_for_customers(
        model, [c.id for c, _ in buyers], now, available, consumable, count=PICKS
    )
    first = sorted({p[0].product_id for p in picks.values() if p})
    shown = {
        product.id: Shown.of(store, product)
        for product in session.scalars(
            select(Product)
            .where(Product.store_id == store.id, Product.id.in_(first))
            .options(selectinload(Product.variants))
        )
    }
    period = period_number(store, now)
    drafts = [
        recommendation_draft(store, customer, subscription, picks[customer.id], shown, period, now)
        for customer, subscription in buyers
        if picks.get(customer.id)
    ]
    counts = compose(session, store, drafts, now)
    log.info("store %s recommendations: %s", store.id, counts)
    return counts


@dataclass(frozen=True)
class Shown:
    """What a message shows of its product: worked out once per product, not once per buyer
    (a bestseller is the first pick of thousands)."""

    product_id: int
    title: str
    image_url: str | None
    link_url: str

    @classmethod
    def of(cls, store: Store, product: Product) -> Shown:
        return cls(
            product_id=product.id,
            title=product.title,
            image_url=product.image_url,
            link_url=product.url or f"https://{store.domain}/",
        )


def recommendation_draft(
    store: Store,
    customer: CustomerFacts,
    subscription: SubscriptionFacts,
    picks: list[picking.Pick],
    shown: dict[int, Shown],
    period: int,
    now: dt.datetime,
) -> Draft:
    product = shown[picks[0].product_id]
    return Draft(
        dedupe_key=f"rec:{customer.id}:period:{period}",
        flow=Flow.RECOMMENDATION,
        purpose="recommendation",
        subscription=subscription,
        customer=customer,
        due_at=now,
        expires_at=now + dt.timedelta(days=2),
        body=[
            greeting_name(
                customer.first_name, subscription.locale or customer.locale or store.default_locale
            ),
            store.name,
            product.title,
        ],
        header_image=product.image_url,
        link_url=product.link_url,
        context={
            "picks": [
                {"product_id": p.product_id, "score": p.score, "reason": p.reason} for p in picks
            ],
            "product_id": product.product_id,
        },
    )
