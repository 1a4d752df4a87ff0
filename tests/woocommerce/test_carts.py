"""Cart snapshots from the widget: validation, CORS, abandonment, recovery, restore links."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.carts import mark_abandoned_carts
from plugin.db import utcnow
from plugin.models import Cart, CartState, Store, StoreStatus
from tests.factories import make_store
from tests.fakes.woocommerce import FakeWooCommerce
from tests.woocommerce.conftest import connect_store

SITE = "https://shop.example.de"


@pytest.fixture
def store(session: Session) -> Store:
    store = make_store(
        session,
        platform="woocommerce",
        domain="shop.example.de",
        base_url=SITE,
        credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x"},
    )
    session.commit()
    return store


def snapshot(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "cart_token": "t-0001",
        "items": [
            {
                "product_id": "93",
                "variation_id": None,
                "quantity": 2,
                "name": "Espresso Beans",
                "price_minor": 1290,
            },
            {
                "product_id": "22",
                "variation_id": "23",
                "quantity": 1,
                "name": "Barista Shirt - S",
                "price_minor": 2500,
            },
        ],
        "total_minor": 5080,
        "currency": "EUR",
        "phone": "0151 12345678",
        "email": "erika@example.com",
        "locale": "de-DE",
    }
    body.update(fields)
    return body


def post(client: FlaskClient, store: Store, body: Any, **kwargs: Any) -> Any:
    return client.post(f"/api/v1/stores/{store.public_key}/carts", json=body, **kwargs)


def carts(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Cart)) or 0


def test_snapshot_creates_an_open_cart_with_its_lines(
    app: Flask, client: FlaskClient, session: Session, store: Store
) -> None:
    response = post(client, store, snapshot())
    assert response.status_code == 202
    assert response.json == {"cart": {"token": "t-0001", "state": "open"}}
    cart = session.scalars(select(Cart)).one()
    assert (cart.source, cart.phone, cart.total_minor, cart.currency, cart.locale) == (
        "widget",
        "+4915112345678",
        5080,
        "EUR",
        "de-DE",
    )
    assert [(ln.platform_product_id, ln.platform_variant_id, ln.quantity) for ln in cart.lines] == [
        ("93", None, 2),
        ("22", "23", 1),
    ]
    public_url = app.config["SHOPNUDGE"].public_url
    assert cart.recovery_url == f"{public_url}/carts/{store.public_key}/t-0001/restore"


def test_same_token_updates_the_cart_and_reopens_it(
    client: FlaskClient, session: Session, store: Store
) -> None:
    post(client, store, snapshot())
    assert mark_abandoned_carts(session, utcnow() + dt.timedelta(hours=2)) == 1
    session.commit()
    response = post(client, store, snapshot(items=snapshot()["items"][:1], total_minor=2580))
    assert response.json == {"cart": {"token": "t-0001", "state": "open"}}
    session.expire_all()
    cart = session.scalars(select(Cart)).one()
    assert (cart.state, cart.total_minor, len(cart.lines)) == ("open", 2580, 1)
    assert carts(session) == 1


def test_empty_snapshot_keeps_the_cart_with_zero_total(
    client: FlaskClient, session: Session, store: Store
) -> None:
    post(client, store, snapshot())
    response = post(client, store, snapshot(items=[], total_minor=0))
    assert response.status_code == 202
    session.expire_all()
    cart = session.scalars(select(Cart)).one()
    assert (cart.total_minor, cart.lines, cart.phone) == (0, [], "+4915112345678")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "the body must be a JSON object"),
        (snapshot(cart_token=""), "cart_token"),
        (snapshot(cart_token="x" * 256), "cart_token"),
        (snapshot(items="many"), "items must be a list"),
        (snapshot(items=[{"product_id": "1", "quantity": 0, "price_minor": 1}]), "quantity"),
        (snapshot(items=[{"product_id": "1", "quantity": 1, "price_minor": -1}]), "price_minor"),
        (snapshot(total_minor="50.80"), "total_minor"),
        # beyond what an INTEGER column holds (the fuzzer's 10**17 was a 500 on SQLite)
        (
            snapshot(items=[{"product_id": "1", "quantity": 10**17, "price_minor": 1}]),
            "items[0].quantity must be an integer from 1 to 2147483647",
        ),
        (
            snapshot(items=[{"product_id": "1", "quantity": 1, "price_minor": 2**31}]),
            "items[0].price_minor must be an integer from 0 to 2147483647",
        ),
        (snapshot(total_minor=2**31), "total_minor must be an integer from 0 to 2147483647"),
        (snapshot(currency="Euro"), "currency"),
    ],
)
def test_malformed_snapshot_is_400_and_writes_nothing(
    client: FlaskClient, session: Session, store: Store, body: Any, message: str
) -> None:
    response = post(client, store, body)
    assert response.status_code == 400
    assert message in response.json["message"]
    assert carts(session) == 0


def test_body_that_is_not_json_is_400(client: FlaskClient, session: Session, store: Store) -> None:
    response = client.post(
        f"/api/v1/stores/{store.public_key}/carts", data=b"{oops", content_type="application/json"
    )
    assert (response.status_code, response.json["message"]) == (400, "the body is not JSON")
    assert carts(session) == 0


def test_invalid_phone_is_422_with_reason_and_writes_nothing(
    client: FlaskClient, session: Session, store: Store
) -> None:
    response = post(client, store, snapshot(phone="12"))
    assert response.status_code == 422
    assert response.json["error"] == "invalid_phone"
    assert response.json["reason"] in ("phone_invalid", "phone_unparseable")
    assert carts(session) == 0


def test_unknown_store_is_404(client: FlaskClient, session: Session) -> None:
    response = client.post("/api/v1/stores/nope/carts", json=snapshot())
    assert response.status_code == 404
    assert carts(session) == 0


def test_oversized_snapshot_is_413(client: FlaskClient, session: Session, store: Store) -> None:
    response = post(client, store, snapshot(email="x" * 70_000))
    assert response.status_code == 413
    assert carts(session) == 0


def test_cors_allows_the_shops_own_origin_only(client: FlaskClient, store: Store) -> None:
    preflight = client.options(
        f"/api/v1/stores/{store.public_key}/carts",
        headers={"Origin": SITE, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == SITE
    ours = post(client, store, snapshot(), headers={"Origin": SITE})
    assert ours.headers["Access-Control-Allow-Origin"] == SITE
    other = post(client, store, snapshot(), headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_abandonment_follows_the_shops_delay_and_skips_uninstalled_shops(
    client: FlaskClient, session: Session, store: Store
) -> None:
    gone = make_store(session, status=StoreStatus.UNINSTALLED)
    session.commit()
    post(client, store, snapshot())
    post(client, gone, snapshot(cart_token="t-gone"))
    now = utcnow()
    assert mark_abandoned_carts(session, now + dt.timedelta(minutes=59)) == 0
    assert mark_abandoned_carts(session, now + dt.timedelta(minutes=61)) == 1
    session.commit()
    states = dict(session.execute(select(Cart.platform_id, Cart.state)).all())
    assert states == {"t-0001": "abandoned", "t-gone": "open"}


@pytest.mark.parametrize(
    ("status", "recovered"), [("on-hold", True), ("pending", True), ("cancelled", False)]
)
def test_snapshot_abandoned_then_recovered_by_an_unpaid_order(
    app: Flask,
    session: Session,
    client: FlaskClient,
    runner: FlaskCliRunner,
    woo: FakeWooCommerce,
    status: str,
    recovered: bool,
) -> None:
    # given a snapshot with the buyer's phone, abandoned after the shop's delay
    store = connect_store(session, app, woo)
    post(client, store, snapshot())
    mark_abandoned_carts(session, utcnow() + dt.timedelta(minutes=61))
    session.commit()
    # when the buyer orders by bank transfer (on-hold) and the shop is synced
    placed = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=5)
    woo.add_order([(93, 0, 2, "12.90")], status=status, phone="+49 151 12345678", at=placed)
    assert runner.invoke(args=["sync", str(store.id)]).exit_code == 0
    # then the cart counts as recovered (no reminder) unless the order was cancelled
    session.expire_all()
    cart = session.scalars(select(Cart)).one()
    assert cart.state == ("recovered" if recovered else "abandoned")
    assert (cart.recovered_order_id is not None) is recovered


def test_recovery_link_rebuilds_the_cart_on_the_shop(
    app: Flask, session: Session, woo: FakeWooCommerce, live: str
) -> None:
    # given the shop's products and a widget snapshot of three lines, one a variation
    beans = woo.add_product("Espresso Beans", "12.90")
    shirt = woo.add_product("Barista Shirt", "25.00", variations=[("S", "25.00"), ("M", "25.00")])
    mug = woo.add_product("Mug", "9.00")
    store = connect_store(session, app, woo)
    items = [
        {"product_id": str(beans["id"]), "variation_id": None, "quantity": 2},
        {
            "product_id": str(shirt["id"]),
            "variation_id": str(shirt["variations"][1]),
            "quantity": 1,
        },
        {"product_id": str(mug["id"]), "variation_id": None, "quantity": 3},
    ]
    for item in items:
        item.update(name="x", price_minor=100)
    api = f"{live}/api/v1/stores/{store.public_key}/carts"
    posted = requests.post(api, json=snapshot(items=items, phone=None), timeout=10)
    assert posted.status_code == 202
    recovery_url = session.scalars(select(Cart.recovery_url)).one()
    # when the buyer opens the link in a fresh browser
    buyer = requests.Session()
    landed = buyer.get(recovery_url, timeout=10)
    # then core's add-to-cart put the first line in, and the widget's restore step adds the rest
    assert landed.url.startswith(f"{woo.url}/cart/?add-to-cart={beans['id']}&quantity=2")
    assert "shopnudge_cart=t-0001" in landed.url
    rest = requests.get(f"{api}/t-0001", headers={"Origin": woo.url}, timeout=10)
    assert rest.headers["Access-Control-Allow-Origin"] == woo.url
    nonce = buyer.get(f"{woo.url}/wp-json/wc/store/v1/cart", timeout=10).headers["Nonce"]
    for item in rest.json()["cart"]["remaining_items"]:
        added = buyer.post(
            f"{woo.url}/wp-json/wc/store/v1/cart/add-item",
            json=item,
            headers={"Nonce": nonce},
            timeout=10,
        )
        assert added.status_code == 201
    final = buyer.get(f"{woo.url}/wp-json/wc/store/v1/cart", timeout=10).json()["items"]
    assert [{"id": line["id"], "quantity": line["quantity"]} for line in final] == [
        {"id": beans["id"], "quantity": 2},
        {"id": shirt["variations"][1], "quantity": 1},
        {"id": mug["id"], "quantity": 3},
    ]


def test_single_line_recovery_link_adds_the_line_without_script_and_names_the_cart(
    app: Flask, session: Session, woo: FakeWooCommerce, live: str
) -> None:
    shirt = woo.add_product("Barista Shirt", "25.00", variations=[("S", "25.00")])
    store = connect_store(session, app, woo)
    item = {
        "product_id": str(shirt["id"]),
        "variation_id": str(shirt["variations"][0]),
        "quantity": 2,
        "name": "Barista Shirt - S",
        "price_minor": 2500,
    }
    api = f"{live}/api/v1/stores/{store.public_key}/carts"
    requests.post(api, json=snapshot(items=[item], phone=None), timeout=10)
    buyer = requests.Session()
    landed = buyer.get(session.scalars(select(Cart.recovery_url)).one(), timeout=10)
    # the line is in without any script; the cart is named so the widget keeps it as the
    # buyer's cart in this new session instead of starting a second one
    assert landed.url.endswith(
        f"/cart/?add-to-cart={shirt['variations'][0]}&quantity=2&shopnudge_cart=t-0001"
    )
    cart = buyer.get(f"{woo.url}/wp-json/wc/store/v1/cart", timeout=10).json()["items"]
    assert [(line["id"], line["type"], line["quantity"]) for line in cart] == [
        (shirt["variations"][0], "variation", 2)
    ]


def test_a_flood_of_snapshots_from_one_address_is_slowed_down(
    client: FlaskClient, session: Session, store: Store
) -> None:
    answers = [post(client, store, snapshot(cart_token=f"t-{n}")).status_code for n in range(31)]
    assert answers == [202] * 30 + [429]
    assert carts(session) == 30


def test_abandonment_runs_as_a_scheduled_job(
    app: Flask, client: FlaskClient, session: Session, store: Store
) -> None:
    from plugin.scheduler import jobs, run_job

    post(client, store, snapshot())
    job = jobs()["mark_abandoned_carts"]
    assert run_job(app, job, utcnow() + dt.timedelta(minutes=61)) is True
    session.expire_all()
    assert session.scalars(select(Cart.state)).one() == CartState.ABANDONED
