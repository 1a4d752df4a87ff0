"""Real WooCommerce 10.2.4 deliveries (captured from a store, secret `ci-secret`) at our endpoint.

WooCommerce computes `X-WC-Webhook-Delivery-ID` as `wp_hash(webhook id . strtotime('now'))`
(`WC_Webhook::get_new_delivery_id`): every delivery of one webhook within one second shares it.
The capture holds such a pair: deliveries 007 (order 14) and 009 (order 15) of webhook 2.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import Order, Store, WebhookDelivery
from tests.factories import make_store
from tests.vendor import vendor_file

CAPTURED = ("woocommerce", "captured-10.2.4", "webhooks")


def captured(name: str) -> dict[str, Any]:
    """One recorded delivery: `headers` and the raw `body` exactly as WooCommerce sent them."""
    return json.loads(vendor_file(*CAPTURED, name).read_text())


def post(client: FlaskClient, store: Store, delivery: dict[str, Any]) -> Any:
    return client.post(
        f"/webhooks/woocommerce/{store.id}",
        data=delivery["body"].encode(),
        headers=delivery["headers"],
    )


@pytest.fixture
def store(session: Session) -> Store:
    """The shop the deliveries came from (its home URL and the webhooks' secret)."""
    store = make_store(
        session,
        platform="woocommerce",
        domain="127.0.0.1",
        base_url="http://127.0.0.1:5400",
        credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x"},
        webhook_secret="ci-secret",
        country="US",
    )
    session.commit()
    return store


def stored_orders(session: Session) -> dict[str, str]:
    session.expire_all()
    return {o.platform_id: o.status for o in session.scalars(select(Order))}


def test_two_orders_updated_in_one_second_are_both_applied(
    client: FlaskClient, session: Session, store: Store
) -> None:
    first, second = (
        captured("delivery-007-order_updated.json"),
        captured("delivery-009-order_updated.json"),
    )
    # given: WooCommerce gave both the same delivery id (same webhook, same second)
    same_id = first["headers"]["X-WC-Webhook-Delivery-ID"]
    assert second["headers"]["X-WC-Webhook-Delivery-ID"] == same_id
    # when
    answers = [post(client, store, first), post(client, store, second)]
    # then: neither is taken for a replay of the other
    assert [a.status_code for a in answers] == [200, 200]
    assert [a.json for a in answers] == [{"received": True}, {"received": True}]
    assert stored_orders(session) == {"14": "checkout-draft", "15": "pending"}


def test_every_captured_delivery_is_accepted_once_and_a_replay_is_not(
    client: FlaskClient, session: Session, store: Store
) -> None:
    names = [f"delivery-{n:03d}-{kind}.json" for n, kind in _captured_kinds()]
    deliveries = [captured(name) for name in names]
    answers = [post(client, store, d) for d in deliveries]
    assert [a.status_code for a in answers] == [200] * len(deliveries)
    signed = [d for d in deliveries if "X-WC-Webhook-Signature" in d["headers"]]
    # when: WooCommerce (or a proxy) sends one of them again, byte for byte
    replay = post(client, store, signed[-1])
    # then
    assert replay.json == {"duplicate": True}
    count = session.scalar(select(func.count()).select_from(WebhookDelivery))
    assert count == len(signed)
    assert stored_orders(session) == {
        "11": "processing",
        "12": "processing",
        "14": "checkout-draft",
        "15": "pending",
        "16": "pending",
    }


def _captured_kinds() -> list[tuple[int, str]]:
    folder = vendor_file(*CAPTURED)
    found = []
    for path in sorted(folder.glob("delivery-*.json")):
        _, number, kind = path.stem.split("-", 2)
        found.append((int(number), kind))
    return found
