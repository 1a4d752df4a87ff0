"""Counts per shop, computed in a handful of grouped queries (not one per shop)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import (
    Cart,
    CartState,
    Customer,
    Notification,
    Order,
    Product,
    Store,
    Subscription,
)


@dataclass
class StoreOverview:
    store: Store
    products: int = 0
    customers: int = 0
    orders: int = 0
    revenue_minor: int = 0
    abandoned_carts: int = 0
    subscriptions: dict[str, int] = field(default_factory=dict)
    notifications: dict[str, int] = field(default_factory=dict)


def store_overviews(session: Session) -> list[StoreOverview]:
    stores = session.scalars(select(Store).order_by(Store.id)).all()
    overviews = {store.id: StoreOverview(store) for store in stores}

    def count(model: type, attribute: str) -> None:
        rows = session.execute(select(model.store_id, func.count()).group_by(model.store_id))
        for store_id, number in rows:
            if store_id in overviews:
                setattr(overviews[store_id], attribute, number)

    count(Product, "products")
    count(Customer, "customers")
    count(Order, "orders")
    revenue = session.execute(
        select(Order.store_id, func.coalesce(func.sum(Order.total_minor), 0))
        .where(Order.cancelled_at.is_(None))
        .group_by(Order.store_id)
    )
    for store_id, total in revenue:
        overviews[store_id].revenue_minor = int(total)
    carts = session.execute(
        select(Cart.store_id, func.count())
        .where(Cart.state == CartState.ABANDONED)
        .group_by(Cart.store_id)
    )
    for store_id, number in carts:
        overviews[store_id].abandoned_carts = number
    for model, attribute in ((Subscription, "subscriptions"), (Notification, "notifications")):
        rows = session.execute(
            select(model.store_id, model.state, func.count()).group_by(model.store_id, model.state)
        )
        for store_id, state, number in rows:
            getattr(overviews[store_id], attribute)[state] = number
    return list(overviews.values())
