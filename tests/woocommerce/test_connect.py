"""Connect end to end: /woocommerce/connect -> the shop's /wc-auth -> key callback -> return."""

from __future__ import annotations

import dataclasses
import re

import requests
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from plugin.models import OAuthState, Store
from plugin.woocommerce.install import start_connect
from plugin.woocommerce.setup import woocommerce_setup_problem
from tests.factories import make_store
from tests.fakes.woocommerce import FakeWooCommerce
from tests.owner import sign_in


def connect_url(app: Flask, woo: FakeWooCommerce) -> str:
    """Where the operator sends a new shop's owner (`shopnudge stores connect URL`)."""
    result = app.test_cli_runner().invoke(args=["stores", "connect", woo.url])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def stores(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Store)) or 0


def test_connect_flow_stores_keys_creates_webhooks_and_says_what_happened(
    app: Flask, session: Session, runner: FlaskCliRunner, woo: FakeWooCommerce, live: str
) -> None:
    # when the operator starts connecting and the owner approves on their shop
    response = requests.get(connect_url(app, woo), timeout=30)
    # then they land on our return page, which says the shop is connected and how to sign
    # in: connecting a shop never signs anyone in (whoever started it need not own the shop)
    hops = [r.url.split("?")[0] for r in response.history]
    assert hops == [f"{woo.url}/wc-auth/v1/authorize"]
    assert response.url.split("?")[0] == f"{live}/woocommerce/return"
    assert response.status_code == 200
    assert "is connected" in response.text and "Shopify" not in response.text
    # and the store holds the shop's new keys, encrypted at rest
    store = session.scalars(select(Store)).one()
    assert (store.platform, store.base_url) == ("woocommerce", woo.url)
    key = store.credentials["consumer_key"]
    assert woo.keys[key] == store.credentials["consumer_secret"]
    raw = session.execute(text("SELECT credentials, webhook_secret FROM stores")).one()
    assert key not in raw[0] and store.webhook_secret not in raw[1]
    # the next tick proves the keys with one call, then makes one webhook per topic
    assert tick(runner, "2026-01-05T10:00:00Z").exit_code == 0
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


def test_connect_refuses_a_plain_http_shop(app: Flask, session: Session) -> None:
    result = app.test_cli_runner().invoke(args=["stores", "connect", "http://shop.example.de"])
    assert result.exit_code == 2
    assert "not HTTPS" in result.output
    assert session.scalar(select(func.count()).select_from(OAuthState)) == 0


def test_connect_sends_the_owner_to_the_shops_authorize_page(app: Flask, session: Session) -> None:
    result = app.test_cli_runner().invoke(args=["stores", "connect", "shop.example.de/"])
    assert result.exit_code == 0
    location = result.stdout.strip()
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
    requests.get(connect_url(app, woo), timeout=30)
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


def approve_on_the_shop(app: Flask, session: Session, woo: FakeWooCommerce) -> requests.Response:
    """The owner started a connect and clicks Approve on their shop (WooCommerce's answer)."""
    authorize = start_connect(session, app.config["SHOPNUDGE"], woo.url)
    session.commit()
    return requests.get(authorize, timeout=30, allow_redirects=False)


def tick(runner: FlaskCliRunner, when: str) -> Result:
    return runner.invoke(args=["tick", "--now", when])


def test_key_callback_answers_at_once_and_tick_sets_up_the_webhooks(
    app: Flask, session: Session, runner: FlaskCliRunner, woo: FakeWooCommerce, live: str
) -> None:
    # when the owner approves: WooCommerce waits for our 200 before it keeps the keys
    answer = approve_on_the_shop(app, session, woo)
    # then it got the 200 and sent the owner on, and we had not called the shop meanwhile
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(f"{live}/woocommerce/return?success=1")
    assert (woo.requests, woo.webhooks, woo.deliveries) == ([], {}, [])
    store = session.scalars(select(Store)).one()
    assert woo.keys[store.credentials["consumer_key"]] == store.credentials["consumer_secret"]
    # when the next tick runs
    result = tick(runner, "2026-01-05T10:00:00Z")
    # then the keys were proven first, then one webhook per topic was made and pinged
    assert result.exit_code == 0, result.output
    assert [(m, p) for m, p, _a, _h in woo.requests][:2] == [
        ("GET", "/wp-json/wc/v3/system_status"),
        ("GET", "/wp-json/wc/v3/webhooks"),
    ]
    assert len(woo.webhooks) == 8
    assert sorted((topic, code) for _id, topic, code in woo.deliveries) == [("ping", 200)] * 8
    assert setup_problem(session, store) is None


def setup_problem(session: Session, store: Store) -> str | None:
    session.expire_all()
    return woocommerce_setup_problem(session, store)


def test_failed_webhook_setup_is_shown_to_the_owner_and_retried(
    app: Flask,
    session: Session,
    client: FlaskClient,
    runner: FlaskCliRunner,
    woo: FakeWooCommerce,
    live: str,
) -> None:
    # given a connected shop whose keys the shop then refuses (revoked in its admin)
    assert approve_on_the_shop(app, session, woo).status_code == 302
    store = session.scalars(select(Store)).one()
    key = store.credentials["consumer_key"]
    secret = woo.keys.pop(key)
    # when the tick tries to set it up
    tick(runner, "2026-01-05T10:00:00Z")
    # then nothing was made, and the owner reads why on their pages
    assert woo.webhooks == {}
    problem = setup_problem(session, store)
    assert problem == "GET system_status: HTTP 401 woocommerce_rest_authentication_error"
    sign_in(client, session, store)
    page = client.get("/app/").get_data(as_text=True)
    assert "WooCommerce webhooks are not set up yet" in page
    assert "woocommerce_rest_authentication_error" in page
    # when the shop accepts the keys again, the setup is not retried before its time
    woo.keys[key] = secret
    calls = len(woo.requests)
    tick(runner, "2026-01-05T10:01:00Z")
    assert [p for _m, p, _a, _h in woo.requests[calls:]].count("/wp-json/wc/v3/system_status") == 0
    # and is retried after it
    assert tick(runner, "2026-01-05T10:06:00Z").exit_code == 0
    assert len(woo.webhooks) == 8
    assert setup_problem(session, store) is None
    assert "WooCommerce webhooks are not set up yet" not in client.get("/app/").get_data(
        as_text=True
    )


def test_plain_http_public_url_is_refused_before_the_owner_is_sent_to_the_shop(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    # given ShopNudge's public address is plain http (WooCommerce posts keys only to https)
    app.config["SHOPNUDGE"] = dataclasses.replace(
        app.config["SHOPNUDGE"], public_url="http://shopnudge.example.com"
    )
    owner = make_store(session)
    session.commit()
    sign_in(client, session, owner)
    # when an owner starts connecting a WooCommerce shop
    response = client.get("/woocommerce/connect?store_url=shop.example.de")
    # then we say so at once, naming the setting, instead of redirecting to the shop
    assert response.status_code == 503
    assert "Location" not in response.headers
    text = response.get_data(as_text=True)
    assert "SHOPNUDGE_PUBLIC_URL" in text and "https://" in text
    assert "http://shopnudge.example.com" in text
    assert session.scalar(select(func.count()).select_from(OAuthState)) == 0


def outcome(page: str) -> dict[str, str]:
    """The return page's sentences by what they tell (`data-outcome`), whitespace folded."""
    found = re.findall(r'data-outcome="([a-z-]+)"[^>]*>(.*?)</p>', page, re.S)
    return {name: " ".join(re.sub(r"<[^>]+>", "", text).split()) for name, text in found}


def test_return_page_says_the_shop_is_connected_how_many_webhooks_and_how_to_sign_in(
    app: Flask, session: Session, runner: FlaskCliRunner, woo: FakeWooCommerce, live: str
) -> None:
    # given an owner who approved ShopNudge on the shop
    answer = approve_on_the_shop(app, session, woo)
    return_url = answer.headers["Location"]
    store = session.scalars(select(Store)).one()
    # when WooCommerce sends them back, before the set-up job ran
    first = requests.get(return_url, timeout=10, allow_redirects=False)
    # then the page says what happened and what comes next, and is no sign-in wall
    assert first.status_code == 200
    said = outcome(first.text)
    assert said["connected"] == (
        f"ShopNudge now has REST API keys for {woo.url} (store {store.id}, key {store.public_key})."
    )
    assert said["webhooks"].startswith("Its webhooks are being registered now")
    assert said["sign-in"] == (
        "ShopNudge's pages open with a one-time sign-in link. Whoever runs ShopNudge makes one "
        f"with shopnudge stores login-link {store.public_key} and sends it to you; it works "
        "once, for a short time."
    )
    assert "Shopify" not in first.text
    # when the set-up job has run, the same page counts the webhooks
    assert tick(runner, "2026-01-05T10:00:00Z").exit_code == 0
    after = outcome(requests.get(return_url, timeout=10, allow_redirects=False).text)
    assert after["webhooks"] == (
        "8 webhooks registered: orders, customers and products reach ShopNudge as they change."
    )


def test_return_page_with_an_unknown_state_shows_no_shop(client: FlaskClient) -> None:
    page = client.get("/woocommerce/return?success=1&user_id=not-a-state")
    assert page.status_code == 200
    assert set(outcome(page.get_data(as_text=True))) == {"unknown", "sign-in"}
    assert "shopnudge stores login-link STORE" in page.get_data(as_text=True)
