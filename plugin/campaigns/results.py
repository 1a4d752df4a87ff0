"""What a campaign did: sends, deliveries, reads, failures, opt-outs, orders and the holdout.

Orders are the attribution's last-touch credits (plugin/engine/attribution.py) of this
campaign's rows. The holdout comparison counts, for both groups alike, the buyers who ordered
within the attribution window after the campaign began: the messaged group's rate minus the
held-out group's is what the campaign added.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
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
from plugin.sync import NOT_A_PURCHASE


def campaign_results(session: Session, store: Store, campaign: Campaign) -> dict[str, Any]:
    rows = session.scalars(
        select(Notification).where(
            Notification.store_id == store.id,
            Notification.flow == FLOW,
            Notification.dedupe_key.startswith(key_prefix(campaign), autoescape=True),
        )
    ).all()
    sent = [r for r in rows if r.state == NotificationState.SENT]
    failed = Counter(r.reason or "unknown" for r in rows if r.state == NotificationState.FAILED)
    opted_out = _opted_out_after(session, store, sent)
    conversions = session.execute(
        select(Conversion.revenue_minor, Conversion.currency).where(
            Conversion.store_id == store.id,
            Conversion.notification_id.in_([r.id for r in sent] or [0]),
        )
    ).all()
    revenue: Counter[str] = Counter()
    for amount, currency in conversions:
        revenue[currency] += amount
    cost: Counter[str] = Counter()
    for row in sent:
        if row.delivery_status in ("delivered", "read") or row.delivered_at is not None:
            cost[row.cost_currency or "EUR"] += row.cost_micros or 0
    held = [r for r in rows if r.reason == "holdout"]
    window = dt.timedelta(days=int(store.setting("attribution_window_days")))
    return {
        "campaign_id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "template": campaign.template_name,
        "started_at": campaign.started_at.isoformat() if campaign.started_at else None,
        "pending": sum(1 for r in rows if r.state in ("pending", "sending")),
        "sent": len(sent),
        "delivered": sum(
            1 for r in sent if r.delivered_at or r.delivery_status in ("delivered", "read")
        ),
        "read": sum(1 for r in sent if r.read_at or r.delivery_status == "read"),
        "failed": dict(sorted(failed.items())),
        "skipped": dict(
            sorted(Counter(r.reason or "" for r in rows if r.state == "skipped").items())
        ),
        "opted_out": opted_out,
        "orders": len(conversions),
        "revenue_minor": dict(revenue),
        "cost_micros": dict(cost),
        "attribution_window_days": window.days,
        "holdout": {
            "messaged": _group(session, store, campaign, sent, window),
            "held_out": _group(session, store, campaign, held, window),
        },
    }


def _opted_out_after(session: Session, store: Store, sent: list[Notification]) -> int:
    """Recipients who opted out after this campaign's message reached them."""
    ids = {r.subscription_id: r.sent_at for r in sent if r.subscription_id and r.sent_at}
    if not ids:
        return 0
    found = session.execute(
        select(Subscription.id, Subscription.opted_out_at).where(
            Subscription.store_id == store.id,
            Subscription.id.in_(list(ids)),
            Subscription.state == SubscriptionState.OPTED_OUT,
        )
    ).all()
    return sum(1 for sid, at in found if at is not None and at >= ids[sid])


def _group(
    session: Session,
    store: Store,
    campaign: Campaign,
    rows: list[Notification],
    window: dt.timedelta,
) -> dict[str, Any]:
    """Buyers of a group, how many ordered within the window from the start, and for how much."""
    begin = campaign.started_at
    size = len(rows)
    if not rows or begin is None:
        return {"buyers": size, "ordered": 0, "conversion_rate": None, "revenue_minor": {}}
    ordered = 0
    revenue: Counter[str] = Counter()
    for row in rows:
        buyer = [Order.phone == row.phone] if row.phone else []
        if row.customer_id is not None:
            buyer.append(Order.customer_id == row.customer_id)
        if not buyer:
            continue
        orders = session.execute(
            select(Order.total_minor, Order.currency).where(
                Order.store_id == store.id,
                or_(*buyer),
                and_(Order.placed_at >= begin, Order.placed_at < begin + window),
                Order.cancelled_at.is_(None),
                or_(Order.status.is_(None), Order.status.not_in(NOT_A_PURCHASE)),
            )
        ).all()
        if orders:
            ordered += 1
        for amount, currency in orders:
            revenue[currency] += amount
    return {
        "buyers": size,
        "ordered": ordered,
        "conversion_rate": round(ordered / size, 4),
        "revenue_minor": dict(revenue),
        "revenue_per_buyer_minor": {c: v // size for c, v in revenue.items()},
    }
