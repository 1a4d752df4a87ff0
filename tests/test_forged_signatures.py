"""Every way a webhook's signature can be forged is refused with 401, and nothing is stored.

For each of the three senders (Shopify, WooCommerce, Meta) the same body is posted with its
signature made by another secret, over a body changed by one byte, truncated, doubled, empty,
missing, in another encoding, or not ASCII at all — and, as the control, correctly signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import Store, WebhookDelivery
from tests.factories import make_store

DATA = Path(__file__).parent / "data"
SHOPIFY_SECRET = "shpss-forgery-test-secret"
WOO_SECRET = "whsec-forgery-test"
META_SECRET = "meta-forgery-test-secret"
SHOP = "forgery.myshopify.com"
SITE = "https://forgery-shop.example"


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"shopify_api_secret": SHOPIFY_SECRET, "whatsapp_app_secret": META_SECRET}


def digest(body: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def b64(body: bytes, secret: str) -> str:
    return base64.b64encode(digest(body, secret)).decode()


def hex_sha256(body: bytes, secret: str) -> str:
    return "sha256=" + digest(body, secret).hex()


def flipped(body: bytes) -> bytes:
    """The body with one byte changed (the signature still the original's)."""
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]


def forgeries(
    body: bytes, secret: str, sign: Callable[[bytes, str], str]
) -> list[tuple[str, bytes, str | None]]:
    """(what, body to post, signature header) for every forgery of one signed body."""
    good = sign(body, secret)
    return [
        ("another secret", body, sign(body, secret + "x")),
        ("the empty secret", body, sign(body, "")),
        ("a body changed by one byte", flipped(body), good),
        ("a body with a byte appended", body + b" ", good),
        ("the signature truncated", body, good[:-4]),
        ("the signature doubled", body, good + good),
        ("the signature upper-cased", body, good.upper() if good != good.upper() else good[::-1]),
        ("an empty signature", body, ""),
        ("no signature header", body, None),
        ("a non-ASCII signature", body, "é" * len(good)),
        ("the signature of an empty body", body, sign(b"", secret)),
        (
            "the other encoding",
            body,
            hex_sha256(body, secret) if "=" not in good[:8] else b64(body, secret),
        ),
    ]


def stored(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0


def post(client: FlaskClient, url: str, body: bytes, headers: dict[str, str]) -> int:
    response = client.post(url, data=body, headers=headers)
    response.close()
    return response.status_code


def test_every_forged_signature_is_refused_and_nothing_is_stored(
    client: FlaskClient, session: Session
) -> None:
    make_store(session, domain=SHOP, credentials={"access_token": "shpat_x"})
    woo: Store = make_store(
        session,
        platform="woocommerce",
        domain="forgery-shop.example",
        base_url=SITE,
        credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x"},
        webhook_secret=WOO_SECRET,
    )
    session.commit()
    shopify_body = (DATA / "shopify" / "webhook_orders_create.json").read_bytes()
    woo_body = (DATA / "woocommerce" / "order_727.json").read_bytes()
    meta_body = json.dumps(
        json.loads((DATA / "whatsapp" / "message.json").read_text())["text"]
    ).encode()

    def shopify(body: bytes, signature: str | None) -> int:
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Event-Id": "evt-forgery",
            "X-Shopify-Webhook-Id": "wh-forgery",
        }
        if signature is not None:
            headers["X-Shopify-Hmac-Sha256"] = signature
        return post(client, "/webhooks/shopify", body, headers)

    def woocommerce(body: bytes, signature: str | None) -> int:
        headers = {
            "Content-Type": "application/json",
            "X-WC-Webhook-Source": f"{SITE}/",
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-ID": "142",
            "X-WC-Webhook-Delivery-ID": "forgery",
        }
        if signature is not None:
            headers["X-WC-Webhook-Signature"] = signature
        return post(client, f"/webhooks/woocommerce/{woo.id}", body, headers)

    def meta(body: bytes, signature: str | None) -> int:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return post(client, "/webhooks/whatsapp", body, headers)

    senders = (
        ("Shopify", shopify, shopify_body, SHOPIFY_SECRET, b64),
        ("WooCommerce", woocommerce, woo_body, WOO_SECRET, b64),
        ("Meta", meta, meta_body, META_SECRET, hex_sha256),
    )
    answers: dict[str, int] = {}
    for name, send, body, secret, sign in senders:
        for what, forged_body, signature in forgeries(body, secret, sign):
            answers[f"{name}: {what}"] = send(forged_body, signature)
    # then every forgery was refused, and nothing of any was stored
    assert answers == dict.fromkeys(answers, 401)
    assert len(answers) == 36
    assert stored(session) == 0
    # while the genuine deliveries, as the control, are taken
    for name, send, body, secret, sign in senders:
        assert send(body, sign(body, secret)) == 200, name
    # (Shopify's and WooCommerce's kept; Meta's names a number no shop has: answered, not kept)
    assert stored(session) == 2
