"""The storefront widget in headless Chromium, on a shop page served from another origin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent import wording
from plugin.models import ConsentEvent, OptinWording, Store, Subscription, WhatsAppAccount
from tests.factories import make_store
from tests.fakes.server import LocalServer
from tests.vendor import vendor_file

pytestmark = pytest.mark.browser

#: The cart session in the `user_id` claim of the real Cart-Token captured from WooCommerce 10.2.4.
CART_SESSION = "t_b81ba7ac25f763b27584f3a13dc20c"
EVIL = "<b>bold</b><script>window.pwned = 1</script> Wagner WhatsApp"

#: A WooCommerce Store API cart as GET /wp-json/wc/store/v1/cart returns it (trimmed). Cart
#: items (`CartItemSchema`) have no `parent`: a variation's `id` is the variation's own id.
STORE_API_CART = {
    "items": [
        {
            "key": "c74d97b01eae257e44aa9d5bade97baf",
            "id": 16,
            "type": "simple",
            "quantity": 2,
            "name": "Espresso Bohnen 1 kg",
            "variation": [],
            "prices": {"price": "1890", "currency_code": "EUR", "currency_minor_unit": 2},
        },
        {
            "key": "9bf31c7ff062936a96d3c8bd1f8f2ff3",
            "id": 42,
            "type": "variation",
            "quantity": 1,
            "name": "Tasse",
            "variation": [
                {"raw_attribute": "attribute_pa_farbe", "attribute": "Farbe", "value": "Blau"}
            ],
            "prices": {"price": "990", "currency_code": "EUR", "currency_minor_unit": 2},
        },
    ],
    "items_count": 3,
    "totals": {"total_price": "4770", "currency_code": "EUR", "currency_minor_unit": 2},
    "billing_address": {"country": "AT", "phone": ""},
}
#: GET /wp-json/wc/store/v1/products/{id} (`ProductSchema`, trimmed): `parent` is here.
STORE_API_PRODUCTS = {
    16: {"id": 16, "parent": 0, "type": "simple", "name": "Espresso Bohnen 1 kg"},
    42: {"id": 42, "parent": 40, "type": "variation", "name": "Tasse"},
}


def storefront_app(holder: dict[str, Any]) -> Flask:
    """A shop's pages that embed the widget (its URL set once the store exists), and the
    WooCommerce Store API cart."""
    shop = Flask("storefront")

    @shop.get("/page/<lang>")
    def page(lang: str) -> str:
        phone = request.args.get("phone", "")
        return (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>Shop</title>'
            f'</head><body><h1>Cart</h1><div data-shopnudge-optin data-phone="{phone}"></div>'
            f'<script src="{holder["widget_url"]}" async></script></body></html>'
        )

    @shop.get("/wp-json/wc/store/v1/cart")
    def cart() -> Response:
        response = Response(json.dumps(STORE_API_CART), mimetype="application/json")
        response.headers["Cart-Token"] = holder["cart_token"]
        return response

    @shop.get("/wp-json/wc/store/v1/products/<int:product_id>")
    def product(product_id: int) -> Response:
        holder.setdefault("product_requests", []).append(product_id)
        return Response(json.dumps(STORE_API_PRODUCTS[product_id]), mimetype="application/json")

    return shop


@pytest.fixture
def storefront(live_app: str) -> Iterator[dict[str, Any]]:
    """The shop's own site on another port: another origin, so CORS is real."""
    holder: dict[str, Any] = {"widget_url": "", "cart_token": ""}
    with LocalServer(storefront_app(holder)) as server:
        holder["origin"] = server.url
        yield holder


def captured_cart_token() -> str:
    """The Cart-Token a real WooCommerce 10.2.4 sent with GET /wc/store/v1/cart."""
    headers = vendor_file("woocommerce", "captured-10.2.4", "store", "store-cart-get.headers.txt")
    return next(
        line.split(":", 1)[1].strip()
        for line in headers.read_text().splitlines()
        if line.lower().startswith("cart-token:")
    )


def embed(session: Session, live_app: str, storefront: dict[str, Any], **fields: Any) -> Store:
    fields.setdefault("settings", {})["storefront_origins"] = [storefront["origin"]]
    store = make_store(session, name="Kaffeerösterei Wagner", default_locale="en", **fields)
    wording.ensure_default_wordings(session, store)
    session.commit()
    storefront["widget_url"] = f"{live_app}/widget/{store.public_key}.js"
    return store


def events(session: Session) -> list[ConsentEvent]:
    session.expire_all()
    return list(session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))


def test_widget_starts_unticked_explains_bad_numbers_and_records_the_version_shown(
    page: Any, session: Session, live_app: str, storefront: dict[str, Any], artifacts: Path
) -> None:
    from playwright.sync_api import expect

    store = embed(session, live_app, storefront)
    page.goto(f"{storefront['origin']}/page/en")

    box = page.get_by_role("checkbox")
    expect(box).to_be_visible()
    expect(box).not_to_be_checked()
    expect(page.locator("label").first).to_have_text(
        wording.DEFAULT_WORDING["en"].format(business="Kaffeerösterei Wagner")
    )
    shown_version = int(page.locator("form").get_attribute("data-wording-version"))

    page.get_by_role("button", name="Sign up").click()
    message = page.locator("[aria-live]")
    expect(message).to_have_text("Please tick the box to sign up.")
    assert events(session) == []

    box.check()
    page.get_by_label("Mobile number for WhatsApp").fill("12345")
    page.get_by_role("button", name="Sign up").click()
    expect(message).to_have_text("This does not look like a valid mobile number.")
    expect(message).to_have_attribute("data-reason", "phone_invalid")
    expect(page.get_by_label("Mobile number for WhatsApp")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert events(session) == []

    page.get_by_label("Mobile number for WhatsApp").fill("+49 151 23456789")
    page.get_by_role("button", name="Sign up").click()
    expect(message).to_have_text("Almost done: please confirm on WhatsApp.")
    page.screenshot(path=str(artifacts / "consent_widget_en.png"))

    (event,) = events(session)
    shown = session.get(OptinWording, event.wording_id)
    assert shown is not None and (shown.locale, shown.version) == ("en", shown_version)
    assert event.source == "widget" and event.user_agent and "Chrome" in event.user_agent
    subscription = session.scalars(select(Subscription)).one()
    assert (subscription.phone, subscription.state) == ("+4915123456789", "pending")
    assert subscription.store_id == store.id


def test_german_page_shows_the_german_wording_and_works_by_keyboard(
    page: Any, session: Session, live_app: str, storefront: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    embed(session, live_app, storefront)
    page.goto(f"{storefront['origin']}/page/de-DE?phone=0151%2023456789")

    label = page.locator("label").first
    expect(label).to_have_text(
        wording.DEFAULT_WORDING["de"].format(business="Kaffeerösterei Wagner")
    )
    phone = page.get_by_label("Handynummer für WhatsApp")
    expect(phone).to_have_value("0151 23456789")  # prefilled where the page knows it

    page.get_by_role("checkbox").focus()
    page.keyboard.press("Space")
    phone.focus()
    page.keyboard.press("Enter")

    expect(page.locator("[aria-live]")).to_have_text(
        "Fast geschafft: Bitte bestätigen Sie auf WhatsApp."
    )
    (event,) = events(session)
    assert event.locale == "de"


def test_shop_text_with_script_is_shown_as_text_never_run(
    page: Any, session: Session, live_app: str, storefront: dict[str, Any], client: FlaskClient
) -> None:
    from playwright.sync_api import expect

    store = embed(session, live_app, storefront)
    wording.add_wording_version(session, store, "en", EVIL, "owner")
    session.commit()

    page.goto(f"{storefront['origin']}/page/en")

    label = page.locator("label").first
    expect(label).to_have_text(EVIL)
    assert label.locator("b, script").count() == 0
    assert page.evaluate("window.pwned") is None

    page.get_by_role("checkbox").check()
    page.get_by_label("Mobile number for WhatsApp").fill("+4915123456789")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("[aria-live]")).to_have_text("Almost done: please confirm on WhatsApp.")
    token = session.scalars(select(Subscription.unsubscribe_token)).one()

    unsubscribe = client.get(f"/u/{token}")
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in unsubscribe.text
    assert "<script>window.pwned" not in unsubscribe.text
    page.goto(f"{live_app}/u/{token}")
    expect(page.locator("blockquote")).to_have_text(EVIL)
    assert page.evaluate("window.pwned") is None


def test_link_mode_shows_the_confirm_on_whatsapp_link(
    page: Any, session: Session, live_app: str, storefront: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    store = embed(session, live_app, storefront, settings={"double_optin_mode": "link"})
    session.add(
        WhatsAppAccount(
            store_id=store.id,
            phone_number_id="106540352242922",
            waba_id="102290129340398",
            token="EAAG-test",
            display_phone_number="+49 30 1234567",
        )
    )
    session.commit()
    page.goto(f"{storefront['origin']}/page/en")

    page.get_by_role("checkbox").check()
    page.get_by_label("Mobile number for WhatsApp").fill("+4915123456789")
    page.get_by_role("button", name="Sign up").click()

    link = page.get_by_role("link", name="Confirm on WhatsApp")
    expect(link).to_be_visible()
    code = session.scalars(select(Subscription.confirmation_code)).one()
    assert link.get_attribute("href").startswith("https://wa.me/49301234567?text=")
    assert link.get_attribute("href").endswith(f"Code%3A%20{code}")


def test_widget_posts_woocommerce_cart_snapshots(
    page: Any, session: Session, live_app: str, storefront: dict[str, Any]
) -> None:
    from playwright.sync_api import expect

    store = embed(
        session,
        live_app,
        storefront,
        platform="woocommerce",
        domain="127.0.0.1",
        base_url=storefront["origin"],
    )
    storefront["cart_token"] = captured_cart_token()
    snapshots: list[dict[str, Any]] = []

    def capture(route: Any) -> None:
        snapshots.append(json.loads(route.request.post_data))
        route.fulfill(
            status=202,
            content_type="application/json",
            headers={"Access-Control-Allow-Origin": storefront["origin"]},
            body="{}",
        )

    page.route(f"{live_app}/api/v1/stores/{store.public_key}/carts", capture)
    page.goto(f"{storefront['origin']}/page/en")
    expect(page.get_by_role("checkbox")).to_be_visible()
    page.wait_for_timeout(300)
    page.get_by_role("checkbox").check()
    page.get_by_label("Mobile number for WhatsApp").fill("+4915123456789")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("[aria-live]")).to_have_text("Almost done: please confirm on WhatsApp.")
    page.wait_for_timeout(300)

    expected_items = [
        {
            "product_id": "16",
            "variation_id": None,
            "quantity": 2,
            "name": "Espresso Bohnen 1 kg",
            "price_minor": 1890,
        },
        {
            "product_id": "40",
            "variation_id": "42",
            "quantity": 1,
            "name": "Tasse - Blau",
            "price_minor": 990,
        },
    ]
    base = {
        "cart_token": CART_SESSION,  # the token's cart session, not the token signed anew
        "items": expected_items,
        "total_minor": 4770,
        "currency": "EUR",
        "country": "AT",  # the buyer's address country, for numbers typed without a prefix
        "email": None,
        "locale": "en",
    }
    assert snapshots == [{**base, "phone": None}, {**base, "phone": "+4915123456789"}]
    # the variation's product came from the Store API once; a simple product needs no lookup
    assert storefront.get("product_requests") == [42]
