"""Connect end to end: our /woocommerce/connect -> the shop's /wc-auth -> key callback -> /app/."""

from __future__ import annotations

import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from plugin.models import OAuthState, Store
from tests.fakes.woocommerce import FakeWooCommerce


def stores(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Store)) or 0


def test_connect_flow_stores_keys_creates_webhooks_and_lands_on_settings(
    app: Flask, session: Session, woo: FakeWooCommerce, live: str
) -> None:
    # when the owner starts connecting and approves on their shop
    response = requests.get(
        f"{live}/woocommerce/connect", params={"store_url": woo.url}, timeout=30
    )
    # then they land on the settings page, which asks them to sign in: connecting a shop
    # never signs anyone in (whoever started the flow need not own the shop)
    hops = [r.url.split("?")[0] for r in response.history]
    assert hops == [
        f"{live}/woocommerce/connect",
        f"{woo.url}/wc-auth/v1/authorize",
        f"{live}/woocommerce/return",
        f"{live}/app/",
    ]
    assert response.url == f"{live}/app/signed-out"
    # and the store holds the shop's new keys, encrypted at rest
    store = session.scalars(select(Store)).one()
    assert (store.platform, store.base_url) == ("woocommerce", woo.url)
    key = store.credentials["consumer_key"]
    assert woo.keys[key] == store.credentials["consumer_secret"]
    raw = session.execute(text("SELECT credentials, webhook_secret FROM stores")).one()
    assert key not in raw[0] and store.webhook_secret not in raw[1]
    # the keys were proven with one call, then one webhook per topic was made with our secret
    calls = [(m, p) for m, p, _a, _h in woo.requests]
    assert calls[0] == ("GET", "/wp-json/wc/v3/system_status")
    assert sorted(h["topic"] for h in woo.webhooks.values()) == [
        "customer.created",
        "customer.updated",
        "order.created",
        "order.deleted",
        "order.updated",
        "product.created",
        "product.deleted",
        "product.updated",
    ]
    assert {(h["delivery_url"], h["secret"], h["status"]) for h in woo.webhooks.values()} == {
        (f"{live}/webhooks/woocommerce/{store.id}", store.webhook_secret, "active")
    }
    # every creation ping reached us and was answered 200
    assert sorted((topic, code) for _id, topic, code in woo.deliveries) == [("ping", 200)] * 8
    # the state was spent
    assert session.scalars(select(OAuthState.used_at)).one() is not None


def test_connect_refuses_a_plain_http_shop(client: FlaskClient, session: Session) -> None:
    response = client.get("/woocommerce/connect?store_url=http://shop.example.de")
    assert response.status_code == 400
    assert b"not HTTPS" in response.data
    assert session.scalar(select(func.count()).select_from(OAuthState)) == 0


def test_connect_sends_the_owner_to_the_shops_authorize_page(
    client: FlaskClient, session: Session
) -> None:
    response = client.get("/woocommerce/connect?store_url=shop.example.de/")
    assert response.status_code == 302
    location = response.headers["Location"]
    nonce = session.scalars(select(OAuthState.nonce)).one()
    assert location.startswith("https://shop.example.de/wc-auth/v1/authorize?app_name=ShopNudge")
    assert "scope=read_write" in location and f"user_id={nonce}" in location
    assert "callback_url=" in location and "return_url=" in location


def test_callback_with_unknown_state_is_refused_and_keeps_nothing(
    client: FlaskClient, session: Session, woo: FakeWooCommerce
) -> None:
    body = {
        "key_id": 1,
        "user_id": "forged",
        "consumer_key": "ck_abc",
        "consumer_secret": "cs_abc",
        "key_permissions": "read_write",
    }
    response = client.post("/woocommerce/callback", json=body)
    assert response.status_code == 400
    assert stores(session) == 0
    assert woo.requests == []


def test_callback_state_works_once(
    app: Flask, session: Session, woo: FakeWooCommerce, live: str
) -> None:
    requests.get(f"{live}/woocommerce/connect", params={"store_url": woo.url}, timeout=30)
    nonce = session.scalars(select(OAuthState.nonce)).one()
    key, secret = woo.add_keys()
    body = {"key_id": 2, "user_id": nonce, "consumer_key": key, "consumer_secret": secret}
    replay = requests.post(f"{live}/woocommerce/callback", json=body, timeout=30)
    assert replay.status_code == 400
    session.expire_all()
    assert session.scalars(select(Store)).one().credentials["consumer_key"] != key


def test_callback_body_that_is_not_the_key_json_is_400(client: FlaskClient) -> None:
    response = client.post("/woocommerce/callback", data=b"key=value")
    assert response.status_code == 400
    assert response.json["error"] == "invalid_callback"
