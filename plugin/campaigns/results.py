"""What a campaign did: sends, deliveries, reads, clicks, replies, orders, and the holdout.

Orders are the attribution's last-touch credits (plugin/engine/attribution.py) of this
campaign's rows. The holdout comparison counts, for both groups alike, the buyers who ordered
within the attribution window after the campaign began: the messaged group's rate minus the
held-out group's is what the campaign added, with a 95 % interval, because a shop's control
group is often a few dozen buyers and a bare difference would claim more than the data holds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from plugin.campaigns.plan import FLOW, key_prefix
from plugin.models import (
    Campaign,
    Conversion,
    Notification,
    NotificationState,
    Order,
    Store,
    Subscription,
    SubscriptionState,
)
from plugin.stats import Z95, Interval, rate_difference
from plugin.sync.purchases import NOT_A_PURCHASE

#: Revenue per unit spent is shown with this many decimals (12.35 EUR per EUR).
RETURN_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Recipient:
    """One outbox row of the campaign with what followed it: the CSV's line, the page's sums."""

    row: Notification
    replied: bool
    opted_out: bool
    orders: int
    revenue_minor: int
    revenue_currency: str | None


def mean_difference(
    values_a: Sequence[int], values_b: Sequence[int], z: float = Z95
) -> Interval | None:
    """mean(a) - mean(b) with Welch's normal interval; None when a group has fewer than two.

    Revenue per recipient is mostly zeros and a few orders; with a group of at least two the
    unpooled standard error is the honest width (a single buyer has no spread to measure).
    """
    if len(values_a) < 2 or len(values_b) < 2:
        return None
    mean_a, mean_b = _mean(values_a), _mean(values_b)
    spread = math.sqrt(
        _variance(values_a, mean_a) / len(values_a) + _variance(values_b, mean_b) / len(values_b)
    )
    difference = mean_a - mean_b
    return Interval(difference, difference - z * spread, difference + z * spread)


def _mean(values: Sequence[int]) -> float:
    return math.fsum(values) / len(values)


def _variance(values: Sequence[int], mean: float) -> float:
    """The sample variance (n - 1)."""
    return math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)


def revenue_per_spend(revenue_minor: int, cost_micros: int) -> Decimal | None:
    """Revenue per unit of money spent (both in one currency), to the cent; None without cost."""
    if cost_micros <= 0:
        return None
    ratio = Decimal(revenue_minor) * 10_000 / Decimal(cost_micros)
    return ratio.quantize(RETURN_PLACES, rounding=ROUND_HALF_UP)


def returns_by_currency(revenue: dict[str, int], cost: dict[str, int]) -> dict[str, float]:
    """Revenue per unit spent, where all the revenue is in the currency of that cost.

    Revenue in another currency would need an exchange rate we do not have: rather than
    divide part of the revenue (and show too little), such a pair is left out.
    """
    found = {}
    earned = {currency for currency, minor in revenue.items() if minor}
    for currency, micros in cost.items():
        if earned - {currency}:
            continue
        ratio = revenue_per_spend(revenue.get(currency, 0), micros)
        if ratio is not None:
            found[currency] = float(ratio)
    return found


def campaign_rows(session: Session, store: Store, campaign: Campaign) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(
                Notification.store_id == store.id,
                Notification.flow == FLOW,
                Notification.dedupe_key.startswith(key_prefix(campaign), autoescape=True),
            )
            .order_by(Notification.id)
        )
    )


def recipients(session: Session, store: Store, campaign: Campaign) -> list[Recipient]:
    """Every row of the campaign with its replies, opt-out and attributed orders."""
    rows = campaign_rows(session, store, campaign)
    sent = [r for r in rows if r.state == NotificationState.SENT]
    inbound = _subscriptions(session, store, sent)
    credits: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if sent:
        for notification_id, amount, currency in session.execute(
            select(Conversion.notification_id, Conversion.revenue_minor, Conversion.currency).where(
                Conversion.store_id == store.id,
                Conversion.notification_id.in_([r.id for r in sent]),
            )
        ):
            credits[notification_id].append((amount, currency))
    found = []
    for row in rows:
        last_inbound, opted_out_at = inbound.get(row.subscription_id or 0, (None, None))
        after = row.sent_at if row.state == NotificationState.SENT else None
        own = credits.get(row.id, [])
        found.append(
            Recipient(
                row=row,
                replied=_after(last_inbound, after),
                opted_out=_after(opted_out_at, after),
                orders=len(own),
                revenue_minor=sum(amount for amount, _ in own),
                revenue_currency=own[0][1] if own else None,
            )
        )
    return found


def _after(moment: dt.datetime | None, sent_at: dt.datetime | None) -> bool:
    return moment is not None and sent_at is not None and _aware(moment) >= _aware(sent_at)


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands times back without their zone; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _subscriptions(
    session: Session, store: Store, sent: list[Notification]
) -> dict[int, tuple[dt.datetime | None, dt.datetime | None]]:
    """Last message from the buyer, and the opt-out time if opted out, by subscription."""
    ids = sorted({r.subscription_id for r in sent if r.subscription_id})
    if not ids:
        return {}
    found = session.execute(
        select(
            Subscription.id,
            Subscription.last_inbound_at,
            Subscription.state,
            Subscription.opted_out_at,
        ).where(Subscription.store_id == store.id, Subscription.id.in_(ids))
    ).all()
    return {
        sid: (inbound, opted if state == SubscriptionState.OPTED_OUT else None)
        for sid, inbound, state, opted in found
    }


def campaign_results(
    session: Session,
    store: Store,
    campaign: Campaign,
    everyone: list[Recipient] | None = None,
) -> dict[str, Any]:
    """The campaign's figures; `everyone` when the caller has read the recipients already."""
    if everyone is None:
        everyone = recipients(session, store, campaign)
    rows = [r.row for r in everyone]
    sent = [r for r in everyone if r.row.state == NotificationState.SENT]
    revenue: Counter[str] = Counter()
    for item in sent:
        if item.revenue_currency:
            revenue[item.revenue_currency] += item.revenue_minor
    cost: Counter[str] = Counter()
    for item in sent:
        if _delivered(item.row):
            cost[item.row.cost_currency or "EUR"] += item.row.cost_micros or 0
    window = dt.timedelta(days=int(store.setting("attribution_window_days")))
    messaged = [r.row for r in sent]
    held = [r for r in rows if r.reason == "holdout"]
    groups = _group_orders(session, store, campaign, messaged + held, window)
    holdout = {
        "messaged": _group(messaged, groups),
        "held_out": _group(held, groups),
    }
    holdout["difference"] = _difference(messaged, held, groups)
    return {
        "campaign_id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "template": campaign.template_name,
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        "pending": sum(1 for r in rows if r.state in ("pending", "sending")),
        "sent": len(sent),
        "delivered": sum(1 for r in messaged if _delivered(r)),
        "read": sum(1 for r in messaged if r.read_at or r.delivery_status == "read"),
        "clicked": sum(1 for r in messaged if r.clicked_at is not None),
        "replied": sum(1 for r in sent if r.replied),
        "failed": dict(sorted(Counter(r.reason or "unknown" for r in rows if _failed(r)).items())),
        "skipped": dict(
            sorted(Counter(r.reason or "" for r in rows if r.state == "skipped").items())
        ),
        "opted_out": sum(1 for r in sent if r.opted_out),
        "orders": sum(r.orders for r in sent),
        "revenue_minor": dict(revenue),
        "cost_micros": dict(cost),
        "revenue_per_cost": returns_by_currency(dict(revenue), dict(cost)),
        "attribution_window_days": window.days,
        "holdout": holdout,
    }


def _delivered(row: Notification) -> bool:
    return row.delivered_at is not None or row.delivery_status in ("delivered", "read")


def _failed(row: Notification) -> bool:
    return row.state == NotificationState.FAILED


#: (orders, revenue by currency) of one buyer's purchases in the window, by outbox row id.
GroupOrders = dict[int, tuple[int, dict[str, int]]]


def _group_orders(
    session: Session,
    store: Store,
    campaign: Campaign,
    rows: list[Notification],
    window: dt.timedelta,
) -> GroupOrders:
    """Each row's buyer's purchases within the window from the start, read in one query."""
    begin = campaign.started_at
    if begin is None or not rows:
        return {}
    orders = session.execute(
        select(Order.phone, Order.customer_id, Order.total_minor, Order.currency).where(
            Order.store_id == store.id,
            and_(Order.placed_at >= begin, Order.placed_at < begin + window),
            Order.cancelled_at.is_(None),
            or_(Order.status.is_(None), Order.status.not_in(NOT_A_PURCHASE)),
        )
    ).all()
    by_phone: dict[str, list[int]] = defaultdict(list)
    by_customer: dict[int, list[int]] = defaultdict(list)
    for index, (phone, customer_id, _total, _currency) in enumerate(orders):
        if phone:
            by_phone[phone].append(index)
        if customer_id is not None:
            by_customer[customer_id].append(index)
    found: GroupOrders = {}
    for row in rows:
        mine = set(by_phone.get(row.phone or "", []))
        if row.customer_id is not None:
            mine |= set(by_customer.get(row.customer_id, []))
        money: dict[str, int] = defaultdict(int)
        for index in mine:
            money[orders[index].currency] += orders[index].total_minor
        found[row.id] = (len(mine), dict(money))
    return found


def _group(rows: list[Notification], orders: GroupOrders) -> dict[str, Any]:
    """Buyers of a group, how many ordered within the window from the start, and for how much."""
    size = len(rows)
    if not orders or not rows:
        return {"buyers": size, "ordered": 0, "conversion_rate": None, "revenue_minor": {}}
    ordered = sum(1 for r in rows if orders[r.id][0] > 0)
    revenue: Counter[str] = Counter()
    for row in rows:
        revenue.update(orders[row.id][1])
    return {
        "buyers": size,
        "ordered": ordered,
        "conversion_rate": round(ordered / size, 4),
        "revenue_minor": dict(revenue),
        "revenue_per_buyer_minor": {c: v // size for c, v in revenue.items()},
    }


def _difference(
    messaged: list[Notification], held: list[Notification], orders: GroupOrders
) -> dict[str, Any]:
    """Messaged minus held out: conversion rate and revenue per recipient, each with its 95 %."""
    if not orders:
        return {"conversion_rate": None, "revenue_per_buyer_minor": {}}
    rate = rate_difference(
        sum(1 for r in messaged if orders[r.id][0] > 0),
        len(messaged),
        sum(1 for r in held if orders[r.id][0] > 0),
        len(held),
    )
    currencies = sorted({c for r in (*messaged, *held) for c in orders[r.id][1]})
    money = {}
    for currency in currencies:
        interval = mean_difference(
            _amounts(messaged, orders, currency), _amounts(held, orders, currency)
        )
        if interval is not None:
            money[currency] = asdict(interval)
    return {
        "conversion_rate": asdict(rate) if rate is not None else None,
        "revenue_per_buyer_minor": money,
    }


def _amounts(rows: Iterable[Notification], orders: GroupOrders, currency: str) -> list[int]:
    return [orders[r.id][1].get(currency, 0) for r in rows]
