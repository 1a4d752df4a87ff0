"""POST /webhooks/woocommerce/<store_id>: ping, signatures, replays, late deliveries, topics."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.woocommerce.mapping import order_record
from connectors.woocommerce.webhooks import ping_webhook_id, signature, verify_signature
from plugin.models import Order, Product, Store, WebhookDelivery
from tests.factories import make_product, make_store
from tests.fakes.woocommerce import FakeWooCommerce
from tests.journeys.harness import eventually
from tests.woocommerce.conftest import connect_store

DATA = Path(__file__).parent.parent / "data" / "woocommerce"
SECRET = "whsec-per-store"
SITE = "https://shop.example.de"


def order_727() -> dict[str, Any]:
    return json.loads((DATA / "order_727.json").read_text())


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers(body: bytes, topic: str = "order.updated", delivery: str = "d-1", **extra: str) -> dict:
    values = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": f"{SITE}/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Signature": sign(body),
        "X-WC-Webhook-Delivery-ID": delivery,
        "X-WC-Webhook-ID": "142",
    }
    values.update(extra)
    return values


@pytest.fixture
def store(session: Session) -> Store:
    store = make_store(
        session,
        platform="woocommerce",
        domain="shop.example.de",
        base_url=SITE,
        credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x"},
        webhook_secret=SECRET,
        country="US",
    )
    session.commit()
    return store


def deliveries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0


def orders(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Order)) or 0


def test_signature_matches_woocommerce_test_vector() -> None:
    vectors = json.loads((DATA / "signature_vectors.json").read_text())
    assert vectors
    for vector in vectors:
        body = vector["raw_body"].encode()
        assert signature(body, vector["secret"]) == vector["x_wc_webhook_signature"]


def test_signature_check_refuses_a_changed_body_or_empty_secret() -> None:
    body = b'{"id":727}'
    assert verify_signature(body, SECRET, sign(body)) is True
    assert verify_signature(body + b" ", SECRET, sign(body)) is False
    assert verify_signature(body, "", sign(body, "")) is False
    assert verify_signature(body, SECRET, None) is False


def test_creation_ping_gets_200_and_is_not_data(
    client: FlaskClient, session: Session, store: Store
) -> None:
    response = client.post(
        f"/webhooks/woocommerce/{store.id}",
        data="webhook_id=142",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert response.json == {"ping": 142}
    assert deliveries(session) == 0
    assert ping_webhook_id(b"webhook_id=142", "signed") is None  # a signed body is never a ping


def test_order_delivery_is_verified_stored_and_applied(
    client: FlaskClient, session: Session, store: Store
) -> None:
    body = json.dumps(order_727()).encode()
    response = client.post(f"/webhooks/woocommerce/{store.id}", data=body, headers=headers(body))
    assert response.status_code == 200, response.json
    order = session.scalars(select(Order)).one()
    assert (order.platform_id, order.status, order.total_minor, order.currency) == (
        "727",
        "processing",
        2935,
        "USD",
    )
    assert order.placed_at.isoformat() == "2017-03-22T19:28:02+00:00"
    delivery = session.scalars(select(WebhookDelivery)).one()
    assert delivery.processed_at is not None and delivery.body is None


@pytest.mark.parametrize(
    "signature", [None, "", "AAAA", sign(b"another body"), sign(b"{}", "other-secret")]
)
def test_forged_or_missing_signature_is_401_and_writes_nothing(
    client: FlaskClient, session: Session, store: Store, signature: str | None
) -> None:
    body = json.dumps(order_727()).encode()
    forged = headers(body)
    if signature is None:
        del forged["X-WC-Webhook-Signature"]
    else:
        forged["X-WC-Webhook-Signature"] = signature
    response = client.post(f"/webhooks/woocommerce/{store.id}", data=body, headers=forged)
    assert response.status_code == 401
    assert (deliveries(session), orders(session)) == (0, 0)


def test_source_of_another_site_is_401(client: FlaskClient, session: Session, store: Store) -> None:
    body = json.dumps(order_727()).encode()
    other = headers(body, **{"X-WC-Webhook-Source": "https://evil.example/"})
    response = client.post(f"/webhooks/woocommerce/{store.id}", data=body, headers=other)
    assert response.status_code == 401
    assert deliveries(session) == 0


def test_malformed_body_with_valid_signature_is_400(
    client: FlaskClient, session: Session, store: Store
) -> None:
    body = b"{not json"
    response = client.post(f"/webhooks/woocommerce/{store.id}", data=body, headers=headers(body))
    assert response.status_code == 400
    assert deliveries(session) == 0


def test_replayed_delivery_is_stored_once(
    client: FlaskClient, session: Session, store: Store
) -> None:
    body = json.dumps(order_727()).encode()
    first = client.post(f"/webhooks/woocommerce/{store.id}", data=body, headers=headers(body))
    again = client.post(f"/webhooks/woocommerce/{store.id}", data=body, headers=headers(body))
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json == {"duplicate": True}
    assert (deliveries(session), orders(session)) == (1, 1)


def test_late_delivery_does_not_overwrite_newer_data(
    client: FlaskClient, session: Session, store: Store
) -> None:
    newer = order_727()
    newer.update(status="completed", date_modified_gmt="2017-03-23T08:00:00")
    older = order_727()  # processing, modified 2017-03-22T19:28:08
    for n, payload in enumerate([newer, older]):
        body = json.dumps(payload).encode()
        response = client.post(
            f"/webhooks/woocommerce/{store.id}", data=body, headers=headers(body, delivery=f"d{n}")
        )
        assert response.status_code == 200
    assert session.scalars(select(Order.status)).one() == "completed"


def test_deleted_product_is_kept_but_marked(
    client: FlaskClient, session: Session, store: Store
) -> None:
    product = make_product(session, store, platform_id="93")
    session.commit()
    body = json.dumps({"id": 93}).encode()
    response = client.post(
        f"/webhooks/woocommerce/{store.id}",
        data=body,
        headers=headers(body, topic="product.deleted"),
    )
    assert response.status_code == 200
    session.refresh(product)
    assert product.deleted_at is not None


def test_unknown_store_is_404(client: FlaskClient, session: Session) -> None:
    body = b'{"id": 1}'
    assert (
        client.post("/webhooks/woocommerce/999", data=body, headers=headers(body)).status_code
        == 404
    )


def test_documented_order_maps_lines_variations_and_gmt_dates() -> None:
    record = order_record(order_727())
    assert record.placed_at.isoformat() == "2017-03-22T19:28:02+00:00"
    assert record.updated_at.isoformat() == "2017-03-22T19:28:08+00:00"
    assert record.phone == "(555) 555-5555"  # not a valid US number: the core drops it
    assert [(ln.product_id, ln.variant_id, ln.quantity, ln.price_minor) for ln in record.lines] == [
        ("93", "93", 2, 300),
        ("22", "23", 1, 1200),
    ]
    assert (record.financial_status, record.email) == ("paid", "john.doe@example.com")


def test_fake_delivers_signed_order_update_to_our_endpoint(
    app: Flask, session: Session, woo: FakeWooCommerce, live: str
) -> None:
    # given a connected store with its webhooks created on the shop
    store = connect_store(session, app, woo, webhook_secret="per-store-secret")
    from plugin.connect import connector_for

    list(connector_for(store, app.config["SHOPNUDGE"]).fetch("customers", since=None))
    payload = copy.deepcopy(order_727())
    payload["status"] = "on-hold"
    # when the shop delivers
    statuses = woo.deliver("order.updated", payload)
    # then (the delivery is stored before the answer and processed just after it)
    assert statuses == [200]

    def status() -> str | None:
        session.expire_all()
        return session.scalars(select(Order.status)).one_or_none()

    assert eventually(lambda: status() == "on-hold")
    assert session.scalar(select(func.count()).select_from(Product)) == 0


def test_variable_product_delivery_fetches_its_variations(
    app: Flask, session: Session, woo: FakeWooCommerce, live: str
) -> None:
    # given a connected store and a variable product changed on the shop
    store = connect_store(session, app, woo)
    from plugin.connect import connector_for

    list(connector_for(store, app.config["SHOPNUDGE"]).fetch("customers", since=None))
    shirt = woo.add_product("Barista Shirt", "25.00", variations=[("S", "25.00"), ("M", "26.00")])
    # when the shop delivers product.updated (which lists variation ids only)
    assert woo.deliver("product.updated", shirt) == [200]

    # then the variations were read from the API and stored with the product (just after the
    # answer)
    def stored() -> Product | None:
        session.expire_all()
        product = session.scalars(select(Product)).one_or_none()
        return product if product is not None and product.variants else None

    product = eventually(stored)
    assert product is not None
    assert [(v.title, v.price_minor) for v in product.variants] == [("S", 2500), ("M", 2600)]
    assert any(p.endswith(f"/products/{shirt['id']}/variations") for _m, p, _a, _h in woo.requests)


def test_deleted_order_stops_counting_and_a_late_update_does_not_revive_it(
    client: FlaskClient, session: Session, store: Store
) -> None:
    url = f"/webhooks/woocommerce/{store.id}"
    body = json.dumps(order_727()).encode()
    assert client.post(url, data=body, headers=headers(body, delivery="a")).status_code == 200
    deleted = b'{"id": 727}'
    response = client.post(url, data=deleted, headers=headers(deleted, "order.deleted", "b"))
    assert response.status_code == 200
    late = order_727()
    late["date_modified_gmt"] = "2017-03-22T20:00:00"
    body = json.dumps(late).encode()
    assert client.post(url, data=body, headers=headers(body, delivery="c")).status_code == 200
    session.expire_all()
    assert session.scalars(select(Order.status)).one() == "trash"


def test_source_with_www_or_a_path_is_the_same_site(
    client: FlaskClient, session: Session, store: Store
) -> None:
    body = json.dumps(order_727()).encode()
    www = headers(body, **{"X-WC-Webhook-Source": "https://www.shop.example.de/blog/"})
    assert (
        client.post(f"/webhooks/woocommerce/{store.id}", data=body, headers=www).status_code == 200
    )
    assert orders(session) == 1


def test_checkout_draft_order_does_not_recover_a_cart(
    client: FlaskClient, session: Session, store: Store
) -> None:
    from tests.factories import make_cart

    cart = make_cart(session, store, [], phone="+14155550100")
    cart.last_activity_at = cart.platform_updated_at = dt.datetime(
        2017, 3, 22, 19, 0, tzinfo=dt.UTC
    )
    session.commit()
    draft = order_727()
    draft["status"] = "checkout-draft"
    draft["billing"]["phone"] = "+1 415 555 0100"
    body = json.dumps(draft).encode()
    assert (
        client.post(
            f"/webhooks/woocommerce/{store.id}", data=body, headers=headers(body)
        ).status_code
        == 200
    )
    session.refresh(cart)
    assert cart.state == "abandoned"
    placed = order_727()
    placed.update(status="on-hold", date_modified_gmt="2017-03-22T19:30:00")
    placed["billing"]["phone"] = "+1 415 555 0100"
    body = json.dumps(placed).encode()
    client.post(
        f"/webhooks/woocommerce/{store.id}", data=body, headers=headers(body, delivery="d-2")
    )
    session.refresh(cart)
    assert cart.state == "recovered"
