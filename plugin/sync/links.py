"""Orders find their customer whichever of the two is written first.

Shopify sends `customers/create` and `orders/create` for a new buyer's first order at the same
moment, and each delivery is applied in its own transaction. An order written before its
customer used to keep `customer_id` empty for good, so the buyer never got a recommendation and
a later order did not close their cart by customer. Orders now keep the platform's customer id,
and each side links what the other wrote:

- writing customers links the orders that wait for them;
- writing orders links those whose customer arrived meanwhile.

Two transactions that each write one side at the same moment would still miss each other on
PostgreSQL (neither sees the other's uncommitted row), so both first take a transaction lock
per shop and bucket of customer ids (`hold_customers`): the second waits for the first to
commit and then sees its row. SQLite has one writer at a time and needs no lock.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from sqlalchemy import exists, select, text, update
from sqlalchemy.orm import Session

from plugin.db import among
from plugin.models import Customer, Order, Store
from plugin.sync.rows import SET_CHUNK, chunks

#: Customer ids share this many locks per shop: a page of 1,000 orders takes at most 64 locks
#: (PostgreSQL's shared lock table holds 64 per connection by default), and two webhooks about
#: different buyers wait for each other once in 64.
BUCKETS = 64


def bucket(platform_customer_id: str) -> int:
    """The same bucket in every process (Python's own hash of a str differs between them)."""
    return zlib.crc32(platform_customer_id.encode()) % BUCKETS


def hold_customers(session: Session, store: Store, platform_ids: Iterable[str]) -> None:
    """PostgreSQL: lock these customers of the shop until the transaction ends, in one order
    (sorted buckets), so two writers never each hold what the other waits for."""
    if session.get_bind().dialect.name != "postgresql":
        return
    buckets = sorted({bucket(pid) for pid in platform_ids})
    if not buckets:
        return
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(CAST(:store AS integer), b)"
            " FROM unnest(CAST(:buckets AS integer[])) AS b"
        ),
        {"store": store.id, "buckets": buckets},
    )


def link_orders(session: Session, store: Store, platform_customer_ids: Iterable[str]) -> int:
    """Give the shop's orders of these customers that have none their customer; the count."""
    wanted = sorted(set(platform_customer_ids))
    customer = (
        select(Customer.id)
        .where(
            Customer.store_id == Order.store_id,
            Customer.platform_id == Order.platform_customer_id,
        )
        .scalar_subquery()
    )
    linked = 0
    for chunk in chunks(wanted, SET_CHUNK):
        linked += session.execute(
            update(Order)
            .where(
                Order.store_id == store.id,
                Order.customer_id.is_(None),
                Order.platform_customer_id.is_not(None),
                among(session, Order.platform_customer_id, chunk),
                exists(customer),
            )
            .values(customer_id=customer)
            .execution_options(synchronize_session=False)
        ).rowcount
    return linked
