"""The block checkout's WhatsApp tick, carried by WooCommerce 10.2.4's own signed deliveries.

The captured store registered two checkboxes of its own (`ci-test` namespace), not ShopNudge's:
the real deliveries prove that a tick of another plugin records nothing; copies with the
ShopNudge plugin's fields added (and re-signed with the capture's secret `ci-secret`) prove the
consent path.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent.wording import add_wording_version, ensure_default_wordings
from plugin.models import ConsentEvent, Store, Subscription
from plugin.woocommerce.consent import record_checkout_consent
from tests.factories import make_store
from tests.vendor import vendor_file

CAPTURED = ("woocommerce", "captured-10.2.4")


def captured(*path: str) -> dict[str, Any]:
    return json.loads(vendor_file(*CAPTURED, *path).read_text())


def with_shopnudge_tick(delivery: dict[str, Any], version: int, phone: str) -> dict[str, Any]:
    """The delivery as it reads with the ShopNudge plugin's fields, signed as WooCommerce signs."""
    body = json.loads(delivery["body"])
    body["billing"]["phone"] = phone
    body["meta_data"] += [
        {"id": 100, "key": "_wc_other/shopnudge/whatsapp-optin", "value": "1"},
        {"id": 101, "key": "_shopnudge_wording_version", "value": str(version)},
        {"id": 102, "key": "_shopnudge_wording_locale", "value": "en"},
    ]
    raw = json.dumps(body).encode()
    changed = copy.deepcopy(delivery)
    changed["body"] = raw.decode()
    digest = hmac.new(b"ci-secret", raw, hashlib.sha256).digest()
    changed["headers"]["X-WC-Webhook-Signature"] = base64.b64encode(digest).decode()
    changed["headers"]["Content-Length"] = str(len(raw))
    return changed


def post(client: FlaskClient, store: Store, delivery: dict[str, Any]) -> int:
    return client.post(
        f"/webhooks/woocommerce/{store.id}",
        data=delivery["body"].encode(),
        headers=delivery["headers"],
    ).status_code


@pytest.fixture
def store(session: Session) -> Store:
    store = make_store(
        session,
        platform="woocommerce",
        domain="127.0.0.1",
        name="Loop Shop",
        base_url="http://127.0.0.1:5400",
        credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x"},
        webhook_secret="ci-secret",
        country="US",
        default_locale="en",
    )
    ensure_default_wordings(session, store)
    session.commit()
    return store


def events(session: Session) -> list[ConsentEvent]:
    session.expire_all()
    return list(session.scalars(select(ConsentEvent)))


def test_the_real_delivery_with_another_plugins_ticks_records_no_consent(
    client: FlaskClient, session: Session, store: Store
) -> None:
    assert post(client, store, captured("webhooks", "delivery-006-order_created.json")) == 200

    assert events(session) == []


def test_a_ticked_order_created_becomes_a_pending_opt_in_with_the_wording_shown(
    client: FlaskClient, session: Session, store: Store
) -> None:
    shown = add_wording_version(
        session, store, "en", "Yes, Loop Shop may WhatsApp me. STOP ends it.", "o"
    )
    session.commit()
    add_wording_version(session, store, "en", "A newer text the buyer never saw.", "owner")
    session.commit()
    delivery = with_shopnudge_tick(
        captured("webhooks", "delivery-006-order_created.json"), shown.version, "(415) 555-0134"
    )

    assert post(client, store, delivery) == 200

    (event,) = events(session)
    subscription = session.get(Subscription, event.subscription_id)
    assert (subscription.phone, subscription.state) == ("+14155550134", "pending")
    assert (event.source, event.kind, event.wording_id) == (
        "checkout_checkbox",
        "requested",
        shown.id,
    )
    assert (event.ip, event.user_agent) == ("127.0.0.1", "Python-urllib/3.11")
    assert event.detail == {"order_id": "12", "order_key": "wc_order_XI3v3E6cilPzJ"}


def test_the_order_seen_again_records_nothing_new(
    client: FlaskClient, session: Session, store: Store
) -> None:
    delivery = with_shopnudge_tick(
        captured("webhooks", "delivery-006-order_created.json"), 1, "(415) 555-0134"
    )
    assert post(client, store, delivery) == 200
    payload = json.loads(delivery["body"])

    assert record_checkout_consent(session, store, payload) is None

    assert len(events(session)) == 1


def test_the_rest_order_of_the_block_checkout_is_read_the_same_way(
    session: Session, store: Store
) -> None:
    order = captured("store", "rest-order-from-block-checkout.json")
    assert record_checkout_consent(session, store, order) is None  # the ci-test ticks only
    order["billing"]["phone"] = "+1 415 555 0134"
    order["meta_data"] += [
        {"key": "_wc_other/shopnudge/whatsapp-optin", "value": "1"},
        {"key": "_shopnudge_wording_version", "value": "1"},
        {"key": "_shopnudge_wording_locale", "value": "en"},
    ]

    event = record_checkout_consent(session, store, order)

    assert event is not None and event.source == "checkout_checkbox"


def test_a_tick_naming_a_version_that_never_existed_records_nothing(
    session: Session, store: Store
) -> None:
    order = captured("store", "rest-order-from-block-checkout.json")
    order["billing"]["phone"] = "+1 415 555 0134"
    order["meta_data"] += [
        {"key": "_wc_other/shopnudge/whatsapp-optin", "value": "1"},
        {"key": "_shopnudge_wording_version", "value": "7"},
    ]

    assert record_checkout_consent(session, store, order) is None
    assert events(session) == []
