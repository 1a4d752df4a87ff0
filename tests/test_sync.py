"""Persisting connector records: idempotent, stale-safe, resumable, and recovering carts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.base import (
    Capabilities,
    CartRecord,
    CustomerRecord,
    LineRecord,
    OrderRecord,
    Page,
    ProductRecord,
    VariantRecord,
)
from plugin.db import Database
from plugin.models import Cart, CartState, Order, OrderLine, Product, SyncState
from plugin.sync.carts import upsert_carts
from plugin.sync.catalog import upsert_customers, upsert_products
from plugin.sync.orders import upsert_orders
from plugin.sync.run import OVERLAP, sync_store
from tests.factories import make_store

T0 = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)


def product(n: int, at: dt.datetime = T0, title: str | None = None) -> ProductRecord:
    return ProductRecord(
        platform_id=str(n),
        title=title or f"Product {n}",
        updated_at=at,
        categories=("Tea",),
        variants=(
            VariantRecord(
                platform_id=f"v{n}",
                title="Default",
                price_minor=990,
                currency="EUR",
                inventory_quantity=4,
            ),
        ),
    )


def order(n: int, at: dt.datetime = T0, **fields: object) -> OrderRecord:
    values: dict = {
        "platform_id": f"o{n}",
        "placed_at": at,
        "updated_at": at,
        "total_minor": 990,
        "currency": "EUR",
        "customer_id": "c1",
        "lines": (
            LineRecord(
                title="Product 1", quantity=1, price_minor=990, product_id="1", variant_id="v1"
            ),
        ),
    }
    values.update(fields)
    return OrderRecord(**values)


def cart(token: str, at: dt.datetime = T0, **fields: object) -> CartRecord:
    values: dict = {
        "platform_id": token,
        "updated_at": at,
        "total_minor": 990,
        "currency": "EUR",
        "customer_id": "c1",
        "phone": "+49 151 12345678",
    }
    values.update(fields)
    return CartRecord(**values)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_second_upsert_of_the_same_records_writes_nothing(session: Session) -> None:
    store = make_store(session)
    first = upsert_products(session, store, [product(1), product(2)])
    second = upsert_products(session, store, [product(1), product(2)])
    assert (first.created, first.updated) == (2, 0)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 2)


def test_an_older_record_never_overwrites_a_newer_one(session: Session) -> None:
    store = make_store(session)
    upsert_products(session, store, [product(1, T0 + dt.timedelta(hours=1), title="New")])
    stale = upsert_products(session, store, [product(1, T0, title="Old")])
    assert stale.unchanged == 1
    assert session.scalars(select(Product.title)).one() == "New"


def test_orders_link_customers_and_products_and_replace_lines(session: Session) -> None:
    store = make_store(session)
    upsert_products(session, store, [product(1)])
    upsert_customers(
        session,
        store,
        [CustomerRecord(platform_id="c1", updated_at=T0, phone="0151 12345678", country="DE")],
    )
    upsert_orders(session, store, [order(1)])
    later = T0 + dt.timedelta(minutes=5)
    upsert_orders(
        session,
        store,
        [
            order(
                1,
                updated_at=later,
                lines=(LineRecord(title="Product 1", quantity=3, price_minor=990, product_id="1"),),
            )
        ],
    )
    stored = session.scalars(select(Order)).one()
    assert stored.customer_id is not None
    assert [(line.quantity, line.product_id is not None) for line in stored.lines] == [(3, True)]
    assert count(session, OrderLine) == 1


def test_an_order_from_the_checkout_recovers_its_cart(session: Session) -> None:
    store = make_store(session)
    upsert_carts(session, store, [cart("chk-1", customer_id=None, phone=None)])
    upsert_orders(
        session,
        store,
        [order(1, at=T0 + dt.timedelta(hours=2), customer_id=None, checkout_token="chk-1")],
    )
    stored = session.scalars(select(Cart)).one()
    assert stored.state == CartState.RECOVERED
    assert stored.recovered_order_id == session.scalars(select(Order.id)).one()


def test_a_later_order_by_the_same_phone_recovers_the_cart(session: Session) -> None:
    store = make_store(session)
    upsert_carts(session, store, [cart("chk-2", customer_id=None)])
    upsert_orders(
        session,
        store,
        [order(2, at=T0 + dt.timedelta(hours=1), customer_id=None, phone="+4915112345678")],
    )
    assert session.scalars(select(Cart.state)).one() == CartState.RECOVERED


@pytest.mark.parametrize(
    ("status", "cancelled", "recovered"),
    [
        ("on-hold", False, True),
        ("pending", False, True),
        ("processing", False, True),
        ("cancelled", False, False),
        ("failed", False, False),
        ("paid", True, False),
    ],
)
def test_only_real_purchases_recover_carts(
    session: Session, status: str, cancelled: bool, recovered: bool
) -> None:
    store = make_store(session)
    upsert_carts(session, store, [cart("chk-3", customer_id=None)])
    upsert_orders(
        session,
        store,
        [
            order(
                3,
                at=T0 + dt.timedelta(hours=1),
                customer_id=None,
                checkout_token="chk-3",
                status=status,
                cancelled_at=T0 if cancelled else None,
            )
        ],
    )
    state = session.scalars(select(Cart.state)).one()
    assert (state == CartState.RECOVERED) is recovered


def test_an_order_placed_before_the_cart_was_touched_does_not_recover_it(session: Session) -> None:
    store = make_store(session)
    upsert_carts(session, store, [cart("chk-4", at=T0 + dt.timedelta(hours=3), customer_id=None)])
    upsert_orders(session, store, [order(4, at=T0, customer_id=None, phone="+4915112345678")])
    assert session.scalars(select(Cart.state)).one() == CartState.OPEN


class ListConnector:
    """A connector over in-memory pages, failing once after `fail_after` pages if asked."""

    capabilities = Capabilities(
        abandoned_carts=False, incremental_orders=True, incremental_customers=True
    )

    def __init__(self, orders: list[OrderRecord], page_size: int, fail_after: int | None = None):
        self.orders, self.page_size, self.fail_after = orders, page_size, fail_after
        self.calls: list[tuple[str, dt.datetime | None, str | None]] = []

    def fetch(
        self,
        resource: str,
        *,
        since: dt.datetime | None,
        cursor: str | None = None,
        full: bool = False,
    ) -> Iterator[Page]:
        self.calls.append((resource, since, cursor))
        if resource != "orders":
            return
        start = int(cursor or 0)
        records = [o for o in self.orders if since is None or o.updated_at >= since]
        for page_number, offset in enumerate(range(start, len(records), self.page_size)):
            if self.fail_after is not None and page_number == self.fail_after:
                self.fail_after = None
                raise ConnectionError("network down")
            end = offset + self.page_size
            yield Page(
                records[offset:end],
                cursor=str(end) if end < len(records) else None,
                total=len(records),
            )


def test_an_interrupted_sync_resumes_after_the_last_committed_page(database: Database) -> None:
    with database.session() as session:
        store_id = make_store(session).id
    orders = [order(n, at=T0 + dt.timedelta(minutes=n), customer_id=None) for n in range(10)]
    connector = ListConnector(orders, page_size=3, fail_after=2)

    with pytest.raises(ConnectionError):
        sync_store(database, store_id, connector)
    with database.session() as session:
        assert count(session, Order) == 6
        state = session.scalars(select(SyncState).where(SyncState.resource == "orders")).one()
        assert (state.status, state.cursor) == ("failed", "6")

    sync_store(database, store_id, connector)
    order_calls = [call for call in connector.calls if call[0] == "orders"]
    assert order_calls == [("orders", None, None), ("orders", None, "6")]
    with database.session() as session:
        assert count(session, Order) == 10


def test_incremental_sync_starts_at_the_watermark_minus_the_overlap(database: Database) -> None:
    with database.session() as session:
        store_id = make_store(session).id
    orders = [order(n, at=T0 + dt.timedelta(minutes=n), customer_id=None) for n in range(4)]
    connector = ListConnector(orders, page_size=10)
    sync_store(database, store_id, connector)
    sync_store(database, store_id, connector)
    order_calls = [call for call in connector.calls if call[0] == "orders"]
    assert order_calls[0][1] is None
    assert order_calls[1][1] == T0 + dt.timedelta(minutes=3) - OVERLAP
    with database.session() as session:
        state = session.scalars(select(SyncState).where(SyncState.resource == "orders")).one()
        assert state.counts == {"created": 0, "updated": 0, "unchanged": 4}
        assert count(session, Order) == 4
