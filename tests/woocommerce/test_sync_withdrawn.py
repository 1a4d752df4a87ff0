"""A full sync withdraws what the shop no longer sells: products in the bin (which the REST list
leaves out) and products deleted for good, from recommendations and from cart reminders."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.engine.reminders import qualifying_carts
from plugin.models import Cart, Product, Store
from tests.factories import make_subscription
from tests.fakes.woocommerce import FakeWooCommerce
from tests.woocommerce.conftest import connect_store

PHONE = "+4915123456789"


def full_sync(runner: FlaskCliRunner, store: Store) -> None:
    result = runner.invoke(args=["sync", str(store.id), "--full"])
    assert result.exit_code == 0, result.output


def post_cart(client: FlaskClient, store: Store, token: str, *products: dict) -> None:
    items = [
        {"product_id": str(p["id"]), "quantity": 1, "name": p["name"], "price_minor": 1000}
        for p in products
    ]
    answer = client.post(
        f"/api/v1/stores/{store.public_key}/carts",
        json={"cart_token": token, "items": items, "total_minor": 1000 * len(items),
              "currency": "EUR", "phone": PHONE},
    )  # fmt: skip
    assert answer.status_code == 202, answer.json


def test_full_sync_withdraws_trashed_and_deleted_products_from_recommendations_and_carts(
    app: Flask,
    client: FlaskClient,
    runner: FlaskCliRunner,
    session: Session,
    woo: FakeWooCommerce,
) -> None:
    # given three synced products, and two carts of a confirmed buyer
    beans = woo.add_product("Espresso Beans", "12.90")
    mug = woo.add_product("Mug", "9.90")
    shirt = woo.add_product("Barista Shirt", "25.00")
    store = connect_store(session, app, woo)
    make_subscription(session, store, phone=PHONE)
    session.commit()
    full_sync(runner, store)
    post_cart(client, store, "t_only_gone", beans, mug)
    post_cart(client, store, "t_one_left", beans, shirt)
    # when the owner moves the beans to the bin and deletes the mug for good (no webhook
    # arrives), and a full sync runs
    woo.trash_product(beans["id"])
    woo.delete_product(mug["id"])
    full_sync(runner, store)
    # then both are withdrawn (recommendations take only published, undeleted products)
    session.expire_all()
    rows = {p.title: p for p in session.scalars(select(Product))}
    assert {t: (p.published, p.deleted_at is not None) for t, p in rows.items()} == {
        "Espresso Beans": (False, True),
        "Mug": (False, True),
        "Barista Shirt": (True, False),
    }
    assert len(rows["Espresso Beans"].variants) == 1  # kept for order history
    # and no reminder will invite the buyer back to them
    carts = {c.platform_id: c for c in session.scalars(select(Cart))}
    assert carts["t_only_gone"].state == "expired" and carts["t_only_gone"].lines == []
    assert [line.platform_product_id for line in carts["t_one_left"].lines] == [str(shirt["id"])]
    assert carts["t_one_left"].total_minor == 1000
    later = utcnow() + dt.timedelta(hours=2)
    assert [cart.platform_id for cart, _ in qualifying_carts(session, store, later)] == [
        "t_one_left"
    ]


def test_incremental_sync_leaves_unlisted_products_alone(
    app: Flask, runner: FlaskCliRunner, session: Session, woo: FakeWooCommerce
) -> None:
    # given a synced product the shop then deletes
    mug = woo.add_product("Mug", "9.90")
    store = connect_store(session, app, woo)
    full_sync(runner, store)
    woo.delete_product(mug["id"])
    # when an incremental sync runs (it reads only what changed: an absence proves nothing)
    assert runner.invoke(args=["sync", str(store.id)]).exit_code == 0
    # then the product stays as it was, and no bin listing was asked for
    session.expire_all()
    product = session.scalars(select(Product)).one()
    assert (product.published, product.deleted_at) == (True, None)
    assert [
        args.get("status") for _, path, args, _ in woo.requests if path.endswith("/products")
    ] == [
        None,
        "trash",
        None,
    ]
