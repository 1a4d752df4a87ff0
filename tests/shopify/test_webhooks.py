"""POST /webhooks/shopify: signatures first, every topic, replays, stale deliveries.

Every body is Shopify's documented example for its topic (API 2026-07), changed only in ids,
times and phone numbers (`webhook_helpers.example`), and signed over the exact bytes sent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.shopify import webhooks
from plugin.models import (
    Cart,
    CartState,
    Customer,
    Order,
    Product,
    Store,
    StoreStatus,
    WebhookDelivery,
)
from plugin.shopify.install import TOPICS
from plugin.shopify.routes import DEFERRED_TOPICS
from plugin.shopify.webhooks import TOPICS as HANDLED_TOPICS
from tests.fakes.shopify import FakeShopify
from tests.shopify.webhook_helpers import deliver, example

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "hmac_test_vectors.json").read_text())

#: Every topic we subscribe to: those registered at install, and the three mandatory
#: compliance topics (declared in the app's configuration, answered later by the inbox).
SUBSCRIBED_TOPICS = sorted(
    {"/".join(topic.lower().rsplit("_", 1)) for topic in TOPICS} | DEFERRED_TOPICS
)  # ORDERS_CREATE is orders/create; CUSTOMERS_WHATS_APP_MARKETING_CONSENT_UPDATE likewise


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("vector", VECTORS["shopify_webhook_hmac"])
def test_webhook_hmac_matches_shopifys_published_vectors(vector: dict) -> None:
    body = vector["raw_body"].encode()
    assert webhooks.verify(body, vector["x_shopify_hmac_sha256"], vector["secret"]) is True
    assert webhooks.verify(body + b" ", vector["x_shopify_hmac_sha256"], vector["secret"]) is False
    assert webhooks.verify(body, vector["x_shopify_hmac_sha256"], "other") is False


def test_every_subscribed_topic_has_a_handler() -> None:
    assert len(SUBSCRIBED_TOPICS) == len(TOPICS) + 3
    assert [topic for topic in SUBSCRIBED_TOPICS if topic not in HANDLED_TOPICS] == []


@pytest.mark.parametrize("topic", SUBSCRIBED_TOPICS)
def test_shopifys_example_of_every_topic_is_accepted_and_processed(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store, topic: str
) -> None:
    body = example(topic)
    if "shop_domain" in body:
        body["shop_domain"] = fake.domain
    response = deliver(client, fake, topic, body)
    assert response.status_code == 200
    session.expire_all()
    delivery = session.scalars(select(WebhookDelivery)).one()
    assert (delivery.topic, delivery.last_error) == (topic, None)
    if topic not in DEFERRED_TOPICS:
        assert delivery.processed_at is not None


@pytest.mark.parametrize("topic", SUBSCRIBED_TOPICS)
def test_wrong_hmac_on_every_topic_is_401_and_writes_nothing(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store, topic: str
) -> None:
    response = deliver(client, fake, topic, example(topic), secret="forged")
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    session.expire_all()
    assert _count(session, WebhookDelivery) == 0
    assert _count(session, Order) + _count(session, Customer) + _count(session, Product) == 0
    assert session.get(Store, shop.id).status == StoreStatus.ACTIVE


def test_unsigned_and_unknown_shop_deliveries_are_refused(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    body = json.dumps(example("orders/create")).encode()
    unsigned = client.post(
        "/webhooks/shopify",
        data=body,
        headers={"X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": fake.domain},
    )
    unknown = deliver(client, fake, "orders/create", body, shop="stranger.myshopify.com")
    assert (unsigned.status_code, unknown.status_code) == (401, 404)
    assert _count(session, WebhookDelivery) == 0


def test_orders_create_stores_the_order_with_its_lines(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    body = example("orders/create")
    assert deliver(client, fake, "orders/create", body).status_code == 200
    order = session.scalars(select(Order)).one()
    assert order.platform_id == "820982911946154500"
    assert (order.total_minor, order.currency) == (41495, "USD")
    assert order.financial_status == "voided"
    assert order.cancelled_at is not None and order.status == "cancelled"
    assert len(order.lines) == len(body["line_items"])
    assert session.scalars(select(WebhookDelivery)).one().processed_at is not None


def test_replayed_delivery_is_stored_once(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    first_body = example("orders/create", {"updated_at": "2026-03-01T10:00:00Z"})
    first = deliver(client, fake, "orders/create", first_body, event_id="evt-1")
    later_body = example("orders/create", {"updated_at": "2026-03-02T10:00:00Z"})
    replay = deliver(client, fake, "orders/create", later_body, event_id="evt-1")
    assert (first.json["status"], replay.json["status"]) == ("accepted", "duplicate")
    assert _count(session, WebhookDelivery) == 1
    session.expire_all()
    order = session.scalars(select(Order)).one()
    assert order.platform_updated_at.isoformat() == "2026-03-01T10:00:00+00:00"


def test_older_orders_updated_after_a_newer_one_changes_nothing(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    newer = example("orders/updated", {"updated_at": "2026-03-02T10:00:00Z"})
    older = example("orders/updated", {"updated_at": "2026-03-01T10:00:00Z", "cancelled_at": None})
    deliver(client, fake, "orders/updated", newer)
    assert deliver(client, fake, "orders/updated", older).status_code == 200
    session.expire_all()
    order = session.scalars(select(Order)).one()
    assert order.status == "cancelled" and order.cancelled_at is not None
    assert order.platform_updated_at.isoformat() == "2026-03-02T10:00:00+00:00"


def test_order_from_a_checkout_recovers_its_cart_and_cancelled_does_not(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    checkout = example("checkouts/create", {"phone": "+49 151 12345678"})
    deliver(client, fake, "checkouts/create", checkout)
    cart = session.scalars(select(Cart)).one()
    assert (cart.platform_id, cart.phone) == ("123123123", "+4915112345678")
    assert cart.recovery_url == checkout["abandoned_checkout_url"]
    cancelled = example("orders/cancelled", {"checkout_token": "123123123"})
    deliver(client, fake, "orders/cancelled", cancelled)
    session.expire_all()
    assert session.get(Cart, cart.id).state == CartState.OPEN
    paid = example("orders/paid", {"id": 1, "checkout_token": "123123123", "cancelled_at": None})
    deliver(client, fake, "orders/paid", paid)
    session.expire_all()
    assert session.get(Cart, cart.id).state == CartState.RECOVERED


def test_customers_create_and_update_keep_the_newest(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    deliver(
        client, fake, "customers/create", example("customers/create", {"phone": "+4915112345678"})
    )
    later = {"updated_at": "2022-01-02T00:00:00Z", "phone": "+4915187654321"}
    deliver(client, fake, "customers/update", example("customers/update", later))
    stale = {"updated_at": "2022-01-01T12:00:00Z", "phone": "+4915100000000"}
    deliver(client, fake, "customers/update", example("customers/update", stale))
    session.expire_all()
    customer = session.scalars(select(Customer)).one()
    assert (customer.platform_id, customer.email) == ("706405506930370000", "bob@biller.com")
    assert (customer.phone, customer.last_name, customer.country) == (
        "+4915187654321",
        "Biller",
        "CA",
    )


def test_products_create_update_and_delete(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    deliver(client, fake, "products/create", example("products/create"))
    product = session.scalars(select(Product)).one()
    assert (product.title, product.handle, product.product_type) == (
        "Example T-Shirt",
        "example-t-shirt",
        "Shirts",
    )
    assert product.tags == ["example", "mens", "t-shirt"]
    assert [(v.title, v.sku, v.price_minor, v.in_stock) for v in product.variants] == [
        ("Small", None, 1999, True),
        ("Medium", None, 1999, True),
    ]
    updated = example("products/update", {"updated_at": "2022-01-05T10:00:00Z"})
    deliver(client, fake, "products/update", updated)
    session.expire_all()
    product = session.scalars(select(Product)).one()
    assert product.platform_updated_at.isoformat() == "2022-01-05T10:00:00+00:00"
    deliver(client, fake, "products/delete", example("products/delete"))
    session.expire_all()
    product = session.scalars(select(Product)).one()
    assert product.deleted_at is not None
    assert product.title == "Example T-Shirt"  # kept for order history


def test_app_uninstalled_stops_sending_at_once(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    assert deliver(client, fake, "app/uninstalled", example("app/uninstalled")).status_code == 200
    session.expire_all()
    store = session.get(Store, shop.id)
    assert store.status == StoreStatus.UNINSTALLED
    assert store.uninstalled_at is not None
    assert store.is_sending is False
    assert store.credentials is None


def test_signed_but_malformed_or_oversized_bodies_are_refused(
    app, client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    malformed = deliver(client, fake, "orders/create", b'{"id": 1,')
    oversized = deliver(
        client, fake, "orders/create", b" " * (app.config["MAX_CONTENT_LENGTH"] + 1)
    )
    assert (malformed.status_code, oversized.status_code) == (400, 413)
    assert _count(session, WebhookDelivery) == 0


@pytest.mark.parametrize(
    ("field", "where"),
    [("phone", "checkout"), ("sms_marketing_phone", "checkout"), ("phone", "customer")],
)
def test_checkout_contact_comes_from_phone_sms_phone_or_customer(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store, field: str, where: str
) -> None:
    path = field if where == "checkout" else f"customer.{field}"
    checkout = example("checkouts/update", {path: "+49 151 12345678"})
    deliver(client, fake, "checkouts/update", checkout)
    cart = session.scalars(select(Cart)).one()
    assert cart.phone == "+4915112345678"
    assert cart.customer_id is None  # the customer was not synced yet: no row to link
