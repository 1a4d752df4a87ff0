"""Attribution: an order after a delivered or clicked message is credited to it (last touch).

One credit per order (unique order_id); the touch is the latest click or delivery of a sent
message to the same buyer (customer or phone) within attribution_window_days before the order.
Holdout rows are never credited: the dashboard compares the two groups for the uplift.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from plugin.models import Conversion, Notification, NotificationState, Order, Store
from plugin.sync.purchases import counts_as_purchase


def last_touch(session: Session, store: Store, order: Order) -> tuple[Notification, str] | None:
    """The message this order is credited to and the touch ("clicked" or "delivered")."""
    window = dt.timedelta(days=store.setting("attribution_window_days"))
    buyer = []
    if order.customer_id is not None:
        buyer.append(Notification.customer_id == order.customer_id)
    if order.phone:
        buyer.append(Notification.phone == order.phone)
    if not buyer:
        return None
    best: tuple[dt.datetime, Notification, str] | None = None
    for column, touch in (
        (Notification.clicked_at, "clicked"),
        (Notification.delivered_at, "delivered"),
    ):
        found = session.scalars(
            select(Notification)
            .where(
                Notification.store_id == store.id,
                Notification.state == NotificationState.SENT,
                or_(*buyer),
                column.is_not(None),
                column <= order.placed_at,
                column > order.placed_at - window,
            )
            .order_by(column.desc(), Notification.id.desc())
            .limit(1)
        ).first()
        if found is not None:
            at = getattr(found, column.key)
            if best is None or at > best[0]:
                best = (at, found, touch)
    return (best[1], best[2]) if best else None


def attribute_order(
    session: Session, store: Store, order: Order, now: dt.datetime
) -> Conversion | None:
    """Credit one order to its last touch, once; None when nothing qualifies."""
    if not counts_as_purchase(order):
        return None
    existing = session.scalars(select(Conversion).where(Conversion.order_id == order.id)).first()
    if existing is not None:
        return existing
    found = last_touch(session, store, order)
    if found is None:
        return None
    notification, touch = found
    conversion = Conversion(
        store_id=store.id,
        order_id=order.id,
        notification_id=notification.id,
        touch=touch,
        revenue_minor=order.total_minor,
        currency=order.currency,
        attributed_at=now,
    )
    session.add(conversion)
    session.flush()
    return conversion


def attribute_recent_orders(session: Session, store: Store, now: dt.datetime) -> int:
    """Credit the orders of the last attribution window that have no credit yet."""
    window = dt.timedelta(days=store.setting("attribution_window_days"))
    orders = session.scalars(
        select(Order)
        .where(
            Order.store_id == store.id,
            Order.placed_at > now - window,
            Order.placed_at <= now,
            Order.id.not_in(select(Conversion.order_id).where(Conversion.store_id == store.id)),
        )
        .order_by(Order.id)
    ).all()
    return sum(1 for order in orders if attribute_order(session, store, order, now) is not None)
