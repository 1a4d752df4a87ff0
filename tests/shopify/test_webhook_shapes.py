"""A validly signed Shopify body that is not its topic's shape is refused at once (400)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import Store, WebhookDelivery
from tests.fakes.shopify import FakeShopify
from tests.journeys.harness import shopify_example
from tests.shopify.webhook_helpers import deliver


def deliveries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        ("orders/create", b"[1,2]"),
        ("orders/create", b"null"),
        ("orders/create", b'"an order"'),
        ("orders/create", b'{"name": "#1001"}'),
        ("orders/create", b'{"id": 1, "updated_at": "2026-11-24T10:00:00Z"}'),
        ("checkouts/update", b'{"id": 1, "updated_at": "2026-11-24T10:00:00Z"}'),
        ("customers/update", b'{"id": 1}'),
        ("orders/create", b'{"id": [1]}'),
        ("products/delete", b"{}"),
        ("app/uninstalled", b"[]"),
        ("customers/redact", b'{"shop_id": 1, "shop_domain": "x.myshopify.com"}'),
        ("shop/redact", b'{"shop_domain": "x.myshopify.com"}'),
        ("customers_whats_app_marketing_consent/update", b'{"phone_number": "+4915112345678"}'),
    ],
)
def test_signed_body_that_is_not_the_topics_shape_is_400_and_stores_nothing(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store, topic: str, body: bytes
) -> None:
    response = deliver(client, fake, topic, body)

    assert response.status_code == 400
    assert response.get_json()["message"].startswith(f"not a {topic} body: ")
    assert deliveries(session) == 0
    session.refresh(shop)
    assert shop.status == "active"


@pytest.mark.parametrize(
    "topic",
    ["orders/create", "customers/redact", "shop/redact", "app/uninstalled", "products/delete"],
)
def test_shopifys_documented_examples_keep_their_shape(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store, topic: str
) -> None:
    example = shopify_example(topic)
    if "shop_domain" in example:
        example["shop_domain"] = fake.domain

    response = deliver(client, fake, topic, example)

    assert response.status_code == 200
    assert response.get_json()["status"] == "accepted"
