"""One WooCommerce cart per buyer session, though the Store API signs a new Cart-Token on every
answer (its `iat` is the time of issue; its `user_id` claim is the cart session)."""

from __future__ import annotations

import base64
import json
from typing import Any

import requests
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent.wording import ensure_default_wordings
from plugin.models import Cart, ConsentEvent, Store
from tests.fakes.woocommerce import FakeWooCommerce
from tests.woocommerce.conftest import connect_store

STORE_API = "/wp-json/wc/store/v1/"


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def widget_store(session: Session, app: Flask, woo: FakeWooCommerce, live: str) -> Store:
    store = connect_store(session, app, woo)
    store.default_locale = "en"
    ensure_default_wordings(session, store)
    session.commit()
    woo.widget_url = f"{live}/widget/{store.public_key}.js"
    return store


def wait_for(page: Any, session: Session, check: Any) -> None:
    for _ in range(100):
        session.expire_all()
        if check():
            return
        page.wait_for_timeout(100)


def test_widget_session_of_several_page_views_keeps_one_cart_with_the_phone_and_the_consent(
    app: Flask, session: Session, woo: FakeWooCommerce, live: str, browser: Any
) -> None:
    from playwright.sync_api import expect

    # given a buyer who adds two products on two page views, then opens the cart page again
    beans = woo.add_product("Espresso Beans", "12.90")
    mug = woo.add_product("Mug", "9.90")
    widget_store(session, app, woo, live)
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    tokens: list[str] = []
    page.on(
        "response",
        lambda r: tokens.append(r.headers["cart-token"]) if STORE_API in r.url else None,
    )
    page.goto(f"{woo.url}/cart/?add-to-cart={beans['id']}")
    wait_for(page, session, lambda: session.scalars(select(Cart)).first() is not None)
    page.goto(f"{woo.url}/cart/?add-to-cart={mug['id']}")
    wait_for(page, session, lambda: len(session.scalars(select(Cart)).first().lines) == 2)  # type: ignore[union-attr]
    page.goto(f"{woo.url}/cart/")

    # when the buyer signs up in the widget
    page.get_by_role("checkbox").check()
    page.get_by_label("Mobile number for WhatsApp").fill("+4915123456789")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("[aria-live]")).to_have_text("Almost done: please confirm on WhatsApp.")
    wait_for(page, session, lambda: session.scalars(select(Cart.phone)).first() is not None)
    session_id = next(
        c["value"] for c in context.cookies() if c["name"] == "wp_woocommerce_session_fake"
    )
    context.close()

    # then every Store API answer carried a different token of the one cart session
    assert len(tokens) >= 3
    assert len(set(tokens)) == len(tokens)
    assert {claims(token)["user_id"] for token in tokens} == {session_id}
    # and there is exactly one cart: that session's, with both lines and the number
    session.expire_all()
    carts = session.scalars(select(Cart)).all()
    assert [(c.platform_id, c.phone, len(c.lines)) for c in carts] == [
        (session_id, "+4915123456789", 2)
    ]
    # and the consent record points to it
    requested = session.scalars(select(ConsentEvent).where(ConsentEvent.kind == "requested")).one()
    assert requested.detail["cart_token"] == session_id


def test_recovery_link_opened_in_another_browser_continues_the_same_cart(
    app: Flask, session: Session, woo: FakeWooCommerce, live: str, browser: Any
) -> None:
    # given a two-line cart of a buyer session that is gone
    beans = woo.add_product("Espresso Beans", "12.90")
    mug = woo.add_product("Mug", "9.90")
    store = widget_store(session, app, woo, live)
    items = [
        {"product_id": str(beans["id"]), "quantity": 2, "name": "Beans", "price_minor": 1290},
        {"product_id": str(mug["id"]), "quantity": 1, "name": "Mug", "price_minor": 990},
    ]
    posted = requests.post(
        f"{live}/api/v1/stores/{store.public_key}/carts",
        json={"cart_token": "t_0123456789abcdef0123456789abcd", "items": items,
              "total_minor": 3570, "currency": "EUR", "phone": "+4915123456789"},
        timeout=10,
    )  # fmt: skip
    assert posted.status_code == 202
    recovery_url = session.scalars(select(Cart.recovery_url)).one()

    # when the buyer opens the link in a fresh browser (a new WooCommerce cart session) and
    # looks at the cart page twice more
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(recovery_url)
    wait_for(page, session, lambda: page.url == f"{woo.url}/cart/")
    page.wait_for_timeout(500)
    page.goto(f"{woo.url}/cart/")
    page.wait_for_timeout(500)
    page.goto(f"{woo.url}/cart/")
    page.wait_for_timeout(500)
    new_session = next(
        c["value"] for c in context.cookies() if c["name"] == "wp_woocommerce_session_fake"
    )
    context.close()

    # then no new cart was made: the restored cart is still the one, with its number
    session.expire_all()
    carts = session.scalars(select(Cart)).all()
    assert new_session != "t_0123456789abcdef0123456789abcd"
    assert [(c.platform_id, c.phone, c.state) for c in carts] == [
        ("t_0123456789abcdef0123456789abcd", "+4915123456789", "open")
    ]
    assert sorted((line.platform_product_id, line.quantity) for line in carts[0].lines) == [
        (str(beans["id"]), 2),
        (str(mug["id"]), 1),
    ]
