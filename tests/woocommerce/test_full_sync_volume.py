"""`shopnudge sync STORE --full` over 20,000 orders: exact counts; a second run writes nothing."""

from __future__ import annotations

import datetime as dt
import time

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import Customer, Order, OrderLine, Product, Variant
from tests.fakes.woocommerce import START, FakeWooCommerce
from tests.woocommerce.conftest import connect_store

ORDERS = 20_000
CUSTOMERS = 2_000
PRODUCTS = 40


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_full_sync_of_20000_orders_is_exact_and_idempotent(
    app: Flask, session: Session, runner: FlaskCliRunner, woo: FakeWooCommerce
) -> None:
    # given a shop with 40 products (4 variable), 2,000 customers and 20,000 orders
    products = [
        woo.add_product(
            f"Product {n}",
            "9.50",
            variations=[("S", "9.50"), ("M", "9.90")] if n % 10 == 0 else None,
        )
        for n in range(PRODUCTS)
    ]
    customers = [
        woo.add_customer(f"buyer{n}@example.com", f"0151 2{n:07d}") for n in range(CUSTOMERS)
    ]
    for n in range(ORDERS):
        product = products[n % PRODUCTS]
        variation = product["variations"][n % 2] if product["variations"] else 0
        woo.add_order(
            [(product["id"], variation, 1 + n % 3, "9.50"), (products[1]["id"], 0, 1, "9.50")],
            status=("processing", "completed", "on-hold", "pending")[n % 4],
            customer_id=customers[n % CUSTOMERS]["id"],
            at=START + dt.timedelta(minutes=n),
        )
    store = connect_store(session, app, woo)
    # when
    started = time.monotonic()
    first = runner.invoke(args=["sync", str(store.id), "--full"])
    first_seconds = time.monotonic() - started
    # then every record is there exactly once
    assert first.exit_code == 0, first.output
    assert f"orders: {ORDERS} created, 0 updated, 0 unchanged" in first.output
    assert f"customers: {CUSTOMERS} created, 0 updated, 0 unchanged" in first.output
    assert f"products: {PRODUCTS} created, 0 updated, 0 unchanged" in first.output
    assert (count(session, Order), count(session, OrderLine)) == (ORDERS, 2 * ORDERS)
    assert (count(session, Customer), count(session, Product)) == (CUSTOMERS, PRODUCTS)
    assert count(session, Variant) == PRODUCTS - 4 + 4 * 2
    order_pages = [a for _m, p, a, _h in woo.requests if p.endswith("/orders")]
    assert len(order_pages) == ORDERS // 100
    assert {a["per_page"] for a in order_pages} == {"100"}
    # and a second full run writes nothing new
    started = time.monotonic()
    second = runner.invoke(args=["sync", str(store.id), "--full"])
    second_seconds = time.monotonic() - started
    assert second.exit_code == 0, second.output
    assert f"orders: 0 created, 0 updated, {ORDERS} unchanged" in second.output
    assert f"customers: 0 created, 0 updated, {CUSTOMERS} unchanged" in second.output
    assert f"products: 0 created, 0 updated, {PRODUCTS} unchanged" in second.output
    assert (count(session, Order), count(session, OrderLine)) == (ORDERS, 2 * ORDERS)
    print(f"\nfull sync of {ORDERS} orders: {first_seconds:.1f} s, again {second_seconds:.1f} s")
