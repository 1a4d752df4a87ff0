"""Which orders are purchases: the one rule attribution, segments, guards and recommendations
share (a cancelled or draft order bought nothing)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from plugin.models import (
    Order,
)

#: Order statuses that are not a purchase (WooCommerce); pending and on-hold are purchases.
#: checkout-draft is the order the block checkout keeps while the buyer is still on the page.
NOT_A_PURCHASE = frozenset(
    {"cancelled", "failed", "trash", "refunded", "voided", "checkout-draft", "draft"}
)


@dataclass(frozen=True)
class OrderFacts:
    """What cart recovery reads of an order written in a set (no ORM object is built)."""

    id: int
    checkout_token: str | None
    customer_id: int | None
    phone: str | None
    status: str | None
    cancelled_at: dt.datetime | None
    placed_at: dt.datetime


def counts_as_purchase(order: Order | OrderFacts) -> bool:
    return order.cancelled_at is None and (order.status or "").lower() not in NOT_A_PURCHASE
