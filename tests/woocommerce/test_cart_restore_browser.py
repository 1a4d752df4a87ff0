"""A recovery link restores every line of a WooCommerce cart in a real browser."""

from __future__ import annotations

from typing import Any

import requests
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent.wording import ensure_default_wordings
from plugin.models import Cart
from tests.fakes.woocommerce import FakeWooCommerce
from tests.fakes.woocommerce_site import cart_items
from tests.woocommerce.conftest import connect_store


def test_recovery_link_restores_every_line_through_the_widget(
    app: Flask, session: Session, woo: FakeWooCommerce, live: str, browser: Any
) -> None:
    # given a three-line cart snapshot, one line a variation
    beans = woo.add_product("Espresso Beans", "12.90")
    shirt = woo.add_product("Barista Shirt", "25.00", variations=[("S", "25.00"), ("M", "25.00")])
    mug = woo.add_product("Mug", "9.90")
    store = connect_store(session, app, woo)
    ensure_default_wordings(session, store)
    session.commit()
    woo.widget_url = f"{live}/widget/{store.public_key}.js"
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
    posted = requests.post(
        f"{live}/api/v1/stores/{store.public_key}/carts",
        json={
            "cart_token": "t-restore",
            "items": items,
            "total_minor": 300,
            "currency": "EUR",
            "phone": None,
            "email": None,
            "locale": "en",
        },
        timeout=10,
    )
    assert posted.status_code == 202
    recovery_url = session.scalars(select(Cart.recovery_url)).one()

    # when the buyer opens the link in a fresh browser
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(recovery_url)
    for _ in range(150):  # the widget adds the rest, then shows the plain cart page again
        if page.url == f"{woo.url}/cart/":
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(500)  # a wrong reload would have added the first line again by now
    final_url = page.url
    session_id = next(
        c["value"] for c in context.cookies() if c["name"] == "wp_woocommerce_session_fake"
    )
    context.close()

    assert final_url == f"{woo.url}/cart/"

    # then core added the first line and the widget the other two, each once
    assert cart_items(woo, session_id) == {
        beans["id"]: 2,
        shirt["variations"][1]: 1,
        mug["id"]: 3,
    }


def test_widget_snapshot_links_a_variation_line_to_its_product(
    app: Flask, session: Session, woo: FakeWooCommerce, live: str, browser: Any
) -> None:
    # given a buyer whose cart (on the fake shop's real-shaped Store API) holds a variation
    shirt = woo.add_product("Barista Shirt", "25.00", variations=[("S", "25.00"), ("M", "26.00")])
    beans = woo.add_product("Espresso Beans", "12.90")
    medium = shirt["variations"][1]
    store = connect_store(session, app, woo)
    ensure_default_wordings(session, store)
    session.commit()
    woo.widget_url = f"{live}/widget/{store.public_key}.js"
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(f"{woo.url}/cart/?add-to-cart={medium}&quantity=2")
    page.goto(f"{woo.url}/cart/?add-to-cart={beans['id']}&quantity=1")
    # when the widget on the cart page posts its snapshot
    lines: list[tuple[str | None, str | None, int, str]] = []
    for _ in range(100):
        session.expire_all()
        cart = session.scalars(select(Cart)).first()
        if cart is not None and len(cart.lines) == 2:
            lines = sorted(
                (line.platform_product_id, line.platform_variant_id, line.quantity, line.title)
                for line in cart.lines
            )
            break
        page.wait_for_timeout(100)
    context.close()
    # then the variation's line names its product (the Store API product's `parent`)
    assert lines == sorted(
        [
            (str(shirt["id"]), str(medium), 2, "Barista Shirt - M"),
            (str(beans["id"]), None, 1, "Espresso Beans"),
        ]
    )
