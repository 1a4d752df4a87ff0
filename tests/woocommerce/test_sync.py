"""`shopnudge sync` against the fake site: mapping, incremental runs, old versions, webhooks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.config import Settings
from plugin.connect import connector_for
from plugin.models import Customer, Order, Product, SyncState, Variant
from tests.fakes.woocommerce import FakeWooCommerce
from tests.woocommerce.conftest import connect_store

UTC = dt.UTC


def seed(woo: FakeWooCommerce) -> dict[str, int]:
    beans = woo.add_product("Espresso Beans", "12.90")
    shirt = woo.add_product("Barista Shirt", "25.00", variations=[("S", "25.00"), ("XL", "27.50")])
    erika = woo.add_customer("erika@example.com", "0151 12345678")
    woo.add_customer("max@example.com", "")
    small = shirt["variations"][0]
    paid = woo.add_order(
        [(beans["id"], 0, 2, "12.90"), (shirt["id"], small, 1, "25.00")],
        customer_id=erika["id"],
        phone="0151 12345678",
        email="erika@example.com",
    )
    woo.add_order([(beans["id"], 0, 1, "12.90")], status="on-hold", phone="+49 151 99998888")
    return {"beans": beans["id"], "shirt": shirt["id"], "small": small, "paid": paid.id}


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_full_sync_maps_products_variations_customers_and_orders(
    app: Flask, session: Session, runner: FlaskCliRunner, woo: FakeWooCommerce
) -> None:
    # given a shop with a simple and a variable product, two customers and two orders
    ids = seed(woo)
    store = connect_store(session, app, woo)
    # when
    result = runner.invoke(args=["sync", str(store.id), "--full"])
    # then
    assert result.exit_code == 0, result.output
    assert "products: 2 created, 0 updated, 0 unchanged" in result.output
    assert "customers: 2 created" in result.output
    assert "orders: 2 created" in result.output
    assert "carts" not in result.output
    session.expire_all()
    shirt = session.scalars(select(Product).where(Product.platform_id == str(ids["shirt"]))).one()
    assert shirt.title == "Barista Shirt"
    assert shirt.url == f"{woo.url}/product/barista-shirt/"
    assert shirt.image_url == f"{woo.url}/wp-content/uploads/barista-shirt.jpg"
    assert shirt.categories == ["Coffee"] and shirt.tags == ["organic"]
    assert [(v.title, v.price_minor, v.in_stock, v.inventory_quantity) for v in shirt.variants] == [
        ("S", 2500, True, 5),
        ("XL", 2750, False, 0),
    ]
    beans = session.scalars(select(Product).where(Product.platform_id == str(ids["beans"]))).one()
    assert [(v.platform_id, v.price_minor) for v in beans.variants] == [(str(ids["beans"]), 1290)]
    erika = session.scalars(select(Customer).where(Customer.email == "erika@example.com")).one()
    assert erika.phone == "+4915112345678" and erika.country == "DE"
    order = session.scalars(select(Order).where(Order.platform_id == str(ids["paid"]))).one()
    assert order.status == "processing" and order.customer_id == erika.id
    assert order.phone == "+4915112345678"
    assert order.total_minor == 5080 and order.currency == "EUR"
    assert order.placed_at.tzinfo is not None and order.placed_at.utcoffset() == dt.timedelta(0)
    assert [(ln.quantity, ln.price_minor, ln.variant_id is not None) for ln in order.lines] == [
        (2, 1290, True),
        (1, 2500, True),
    ]
    small = session.scalars(select(Variant).where(Variant.platform_id == str(ids["small"]))).one()
    assert order.lines[1].variant_id == small.id


def test_incremental_sync_asks_for_changes_and_writes_only_them(
    app: Flask, session: Session, runner: FlaskCliRunner, woo: FakeWooCommerce
) -> None:
    ids = seed(woo)
    woo.add_order([(ids["beans"], 0, 1, "12.90")], at=dt.datetime(2025, 12, 1, 8, 0))
    store = connect_store(session, app, woo)
    assert runner.invoke(args=["sync", str(store.id), "--full"]).exit_code == 0
    watermark = session.scalars(
        select(SyncState.watermark_at).where(SyncState.resource == "orders")
    ).one()
    # given one order and one customer changed on the shop
    woo.update_order(ids["paid"], status="completed")
    woo.update_customer(next(iter(woo.customers)), first_name="Erika-Maria")
    woo.requests.clear()
    # when an incremental run follows
    result = runner.invoke(args=["sync", str(store.id)])
    # then orders and products were asked for changes since the watermark minus the overlap
    assert result.exit_code == 0, result.output
    orders_query = next(a for _m, p, a, _h in woo.requests if p.endswith("/orders"))
    expected = (watermark - dt.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S")
    assert orders_query["modified_after"] == expected
    # the December order lies before the window; the other recent one is re-read (overlap)
    assert "orders: 0 created, 1 updated, 1 unchanged" in result.output
    # customers have no filter: a full pass, and only the changed one is written
    customers_query = next(a for _m, p, a, _h in woo.requests if p.endswith("/customers"))
    assert "modified_after" not in customers_query
    assert "customers: 0 created, 1 updated, 1 unchanged" in result.output
    session.expire_all()
    order = session.scalars(select(Order).where(Order.platform_id == str(ids["paid"]))).one()
    assert order.status == "completed" and order.fulfillment_status == "fulfilled"


def test_old_woocommerce_gets_full_passes_that_write_only_changes(
    app: Flask,
    session: Session,
    runner: FlaskCliRunner,
    make_woo: Callable[..., FakeWooCommerce],
) -> None:
    # given a shop on WooCommerce 5.5, which ignores modified_after
    woo = make_woo(version="5.5.0")
    ids = seed(woo)
    store = connect_store(session, app, woo)
    assert runner.invoke(args=["sync", str(store.id)]).exit_code == 0
    woo.update_order(ids["paid"], status="cancelled")
    woo.requests.clear()
    # when
    result = runner.invoke(args=["sync", str(store.id)])
    # then the filter was not trusted (not sent), and change detection kept writes exact
    assert result.exit_code == 0, result.output
    assert all("modified_after" not in a for _m, _p, a, _h in woo.requests)
    assert "orders: 0 created, 1 updated, 1 unchanged" in result.output
    assert "products: 0 created, 0 updated, 2 unchanged" in result.output


def test_sync_recreates_missing_and_reenables_disabled_webhooks(
    app: Flask, session: Session, runner: FlaskCliRunner, woo: FakeWooCommerce, live: str
) -> None:
    # given a connected store whose order.updated webhook WooCommerce disabled
    store = connect_store(session, app, woo, webhook_secret="s3cret-for-tests")
    assert runner.invoke(args=["sync", str(store.id)]).exit_code == 0
    assert len(woo.webhooks) == 8
    hook = next(h for h in woo.webhooks.values() if h["topic"] == "order.updated")
    hook["status"], hook["secret"] = "disabled", "lost"
    # when the next sync runs
    assert runner.invoke(args=["sync", str(store.id)]).exit_code == 0
    # then it is active again with our secret, and nothing was duplicated
    assert hook["status"] == "active" and hook["secret"] == "s3cret-for-tests"
    assert len(woo.webhooks) == 8
    assert {h["delivery_url"] for h in woo.webhooks.values()} == {
        f"{live}/webhooks/woocommerce/{store.id}"
    }


def test_interrupted_sync_resumes_after_the_last_committed_page(
    app: Flask, session: Session, runner: FlaskCliRunner, woo: FakeWooCommerce
) -> None:
    # given 250 orders and a shop whose third page keeps failing
    beans = woo.add_product("Espresso Beans", "12.90")
    for _ in range(250):
        woo.add_order([(beans["id"], 0, 1, "12.90")])
    store = connect_store(session, app, woo)
    woo.broken_page = ("/orders", 3)
    failed = runner.invoke(args=["sync", str(store.id), "--full"])
    assert failed.exit_code == 1
    assert "error: the platform kept failing, retries used up: " in failed.output
    assert count(session, Order) == 200  # two pages committed
    # when the shop recovers and the sync runs again
    woo.broken_page = None
    woo.requests.clear()
    resumed = runner.invoke(args=["sync", str(store.id), "--full"])
    # then it asked for page 3 only, and every order is there once
    assert resumed.exit_code == 0, resumed.output
    pages = [a["page"] for _m, p, a, _h in woo.requests if p.endswith("/orders")]
    assert pages == ["3"]
    assert count(session, Order) == 250


def test_manually_added_store_syncs_and_gets_its_webhooks(
    session: Session, runner: FlaskCliRunner, woo: FakeWooCommerce, live: str
) -> None:
    # given keys made by hand in the shop's admin
    key, secret = woo.add_keys()
    beans = woo.add_product("Espresso Beans", "12.90")
    woo.add_order([(beans["id"], 0, 1, "12.90")], status="on-hold")
    added = runner.invoke(
        args=[
            "stores", "add", "--platform", "woocommerce", "--domain", woo.url,
            "--consumer-key", key, "--consumer-secret", secret,
        ]
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    store_id = added.output.strip()
    # when
    result = runner.invoke(args=["sync", store_id])
    # then
    assert result.exit_code == 0, result.output
    assert "orders: 1 created" in result.output
    assert len(woo.webhooks) == 8
    assert {code for _id, topic, code in woo.deliveries if topic == "ping"} == {200}


def test_scheduled_sync_pulls_every_connected_shop_but_not_uninstalled_ones(
    app: Flask, session: Session, make_woo: Callable[..., FakeWooCommerce]
) -> None:
    from plugin.scheduler import jobs, run_job

    active, gone = make_woo(), make_woo()
    for woo in (active, gone):
        beans = woo.add_product("Espresso Beans", "12.90")
        woo.add_order([(beans["id"], 0, 1, "12.90")])
    connect_store(session, app, active)
    uninstalled = connect_store(session, app, gone)
    uninstalled.status = "uninstalled"
    session.commit()
    hour = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)  # each shop's turn comes once an hour
    for minute in range(60):
        assert run_job(app, jobs()["sync_woocommerce"], hour + dt.timedelta(minutes=minute)) is True
    assert count(session, Order) == 1
    assert gone.requests == []


def test_a_connector_is_refused_for_a_store_no_session_holds(
    app: Flask, session: Session, settings: Settings, woo: FakeWooCommerce
) -> None:
    # given a connected store taken out of its session
    store = connect_store(session, app, woo)
    session.expunge(store)
    # when a connector is asked for, then it is refused: it would not know which database to
    # write the shop's profile and withdrawals to (no app is asked for one)
    with pytest.raises(ValueError, match="held in no session"):
        connector_for(store, settings)
    assert woo.requests == []
