"""A WooCommerce buyer's widget session of several page views is one cart.

WooCommerce's Store API signs a new Cart-Token on every answer (its `iat` is the time of issue),
as the fake shop does here; the cart session in the token stays. The buyer adds two products on
two page views and signs up on a third: the shop owner sees one abandoned cart, and one reminder
reaches Meta for both lines.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.fakes.woocommerce import FakeWooCommerce
from tests.journeys import test_woocommerce_buyer as buyer_journey
from tests.journeys.harness import (
    Journey,
    daytime_from,
    digits,
    eventually,
    opt_in_in_browser,
)

# The shop over TLS and our app on HTTPS, as in the WooCommerce buyer journey.
tls, front, woo = buyer_journey.tls, buyer_journey.front, buyer_journey.woo
open_woocommerce_shop = buyer_journey.open_woocommerce_shop

pytestmark = pytest.mark.browser

BUYER = "+4915123456789"


def abandoned_carts_seen_by_owner(journey: Journey, key: str, browser: Any) -> str:
    """The owner signs in with the CLI's link and reads the shop's numbers on the first page."""
    link = journey.cli("stores", "login-link", key).strip().splitlines()[0]
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.goto(link)
    page.goto(f"{journey.url}/")
    shown = page.locator("[data-metric=abandoned_carts]").inner_text()
    context.close()
    return str(shown)


def test_widget_session_of_several_page_views_ends_with_exactly_one_cart(
    journey: Journey, woo: FakeWooCommerce, browser: Any
) -> None:
    beans = woo.add_product("Espresso Bohnen 1 kg", "18.90")
    filters = woo.add_product("Filtertüten", "8.90")
    key = open_woocommerce_shop(journey, woo)
    now = dt.datetime.now(dt.UTC)
    journey.tick(now)
    woo.widget_url = f"{journey.url}/widget/{key}.js"

    # the buyer adds beans on one page view, filters on the next, and signs up on a third
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    tokens: list[str] = []
    page.on(
        "response",
        lambda r: tokens.append(r.headers["cart-token"]) if "/wc/store/v1/" in r.url else None,
    )
    page.goto(f"{woo.url}/cart/?add-to-cart={beans['id']}")
    page.wait_for_timeout(500)
    page.goto(f"{woo.url}/cart/?add-to-cart={filters['id']}")
    page.wait_for_timeout(500)
    opt_in_in_browser(
        page,
        f"{woo.url}/cart/",
        "+49 151 23456789",
        label="Mobile number for WhatsApp",
        button="Sign up",
        answer="Almost done: please confirm on WhatsApp.",
    )
    page.wait_for_timeout(500)  # the snapshot with the number follows the opt-in
    context.close()
    assert len(tokens) >= 3 and len(set(tokens)) == len(tokens)  # a new token every answer

    # the buyer confirms on WhatsApp
    now = dt.datetime.now(dt.UTC)
    journey.tick(now)
    assert journey.buyer_message(BUYER, type="text", text={"body": "JA"}) == 200
    assert eventually(lambda: journey.subscription(key, BUYER)["state"] == "confirmed")

    # one reminder, for both lines of the one cart
    left = now + dt.timedelta(minutes=70)
    journey.tick(left)
    journey.tick(daytime_from(left))  # after the night's quiet hours, if it is night now
    reminders = [s for s in journey.sends() if s[1].startswith("shopnudge_cart_reminder")]
    assert reminders == [(digits(BUYER), "shopnudge_cart_reminder_1")]
    components = journey.last_send().json["template"]["components"]
    (body,) = [c for c in components if c["type"] == "body"]
    assert [p["text"] for p in body["parameters"]] == ["there", "Rösterei Wagner", "€27.80"]

    # and the owner sees exactly one abandoned cart
    assert abandoned_carts_seen_by_owner(journey, key, browser) == "1"
