"""A Shopify buyer from the opt-in box to STOPP, with the shop's default settings.

Through public surfaces only: the owner's commands, the widget in Chromium on a storefront page,
Shopify's and Meta's documented webhook payloads posted and signed as they post them, and
`shopnudge tick` at chosen moments. Judged by what reached the fake Meta.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.meta import FakeMeta
from tests.fakes.shopify import FakeShopify
from tests.journeys.conftest import SHOP_DOMAIN
from tests.journeys.harness import (
    Journey,
    Storefront,
    digits,
    eventually,
    journey_start,
    opt_in_in_browser,
)
from tests.journeys.shopify_world import (
    BUYER,
    RECOVERY_URL,
    WIDGET_ANSWER,
    checkout_payload,
    open_shop,
    order_payload,
)

pytestmark = pytest.mark.browser


def confirm_by_template(journey: Journey, key: str, start: dt.datetime, how: str) -> None:
    """Default double opt-in: one confirmation template, then the buyer's tap or typed "JA"."""
    journey.tick(start)
    journey.tick(start)
    assert journey.sends() == [(digits(BUYER), "shopnudge_optin_confirmation")]
    if how == "button":
        wamid = journey.answers.last_wamid(BUYER)
        assert journey.tap_quick_reply(BUYER, journey.last_send(), wamid) == 200
    else:
        assert journey.buyer_message(BUYER, type="text", text={"body": "JA"}) == 200


def confirm_by_link(journey: Journey, page: Any) -> None:
    """Link mode: the buyer opens the wa.me link and sends its prefilled text with the code."""
    from playwright.sync_api import expect

    link = page.get_by_role("link", name="Confirm on WhatsApp")
    expect(link).to_be_visible()
    href = urlsplit(link.get_attribute("href"))
    assert (href.scheme, href.netloc, href.path) == ("https", "wa.me", "/4930123456")
    (prefilled,) = parse_qs(href.query)["text"]
    assert journey.buyer_message(BUYER, type="text", text={"body": prefilled}) == 200


@pytest.mark.parametrize("how", ["button", "typed_ja", "link"])
def test_shopify_buyer_confirms_gets_one_reminder_buys_and_stops(
    journey: Journey,
    shopify: FakeShopify,
    meta: tuple[FakeMeta, str],
    storefront: tuple[Storefront, str],
    page: Any,
    how: str,
) -> None:
    start = journey_start()
    key = open_shop(journey, shopify, storefront)
    if how == "link":
        journey.cli("stores", "set", key, "double_optin_mode", "link")

    # the buyer ticks the box on the cart page, and confirms on WhatsApp
    opt_in_in_browser(
        page,
        f"{storefront[1]}/cart/en",
        "+49 151 23456789",
        label="Mobile number for WhatsApp",
        button="Sign up",
        answer=WIDGET_ANSWER,
    )
    assert journey.subscription(key, BUYER)["state"] == "pending"
    if how == "link":
        confirm_by_link(journey, page)
        templates = []
    else:
        confirm_by_template(journey, key, start, how)
        templates = [(digits(BUYER), "shopnudge_optin_confirmation")]
    # a confirmation is acknowledged in the service window the buyer's message opened
    confirmations = [*templates, (digits(BUYER), "text")]
    assert eventually(lambda: journey.sends() == confirmations)
    record = eventually(
        lambda: (r := journey.subscription(key, BUYER))["state"] == "confirmed" and r
    )
    assert record["state"] == "confirmed"
    requested, confirmed = record["events"]
    assert requested["kind"] == "requested" and requested["source"] == "widget"
    assert requested["wording"]["locale"] == "en" and requested["wording"]["version"] == 1
    assert "Bohne & Blatt" in requested["wording"]["text"]
    assert requested["ip"] == "127.0.0.1" and "Chrome" in requested["user_agent"]
    assert confirmed["kind"] == "confirmed" and confirmed["message_id"].startswith("wamid.")

    # the buyer leaves a checkout: nothing at +5 min
    assert journey.shopify_webhook("checkouts/create", checkout_payload(start), SHOP_DOMAIN) == 200
    journey.tick(start + dt.timedelta(minutes=5))
    assert journey.sends() == confirmations

    # one reminder at +70 min, whose link restores the cart
    journey.tick(start + dt.timedelta(minutes=70))
    journey.tick(start + dt.timedelta(minutes=71))
    assert journey.sends() == [*confirmations, (digits(BUYER), "shopnudge_cart_reminder_1")]
    reminder = journey.last_send().json["template"]
    link_button, unsubscribe_button = [
        c for c in reminder["components"] if c.get("sub_type") == "url"
    ]
    link_token = link_button["parameters"][0]["text"]
    # the one-click unsubscribe link asks first: opening it (or a link preview) opts nobody out
    unsubscribe = journey.get(f"/u/{unsubscribe_button['parameters'][0]['text']}")
    assert unsubscribe.status_code == 200
    assert journey.subscription(key, BUYER)["state"] == "confirmed"
    followed = journey.get(f"/r/{link_token}")
    assert followed.status_code == 302
    target, _, query = followed.headers["Location"].partition("&utm_")
    assert target == RECOVERY_URL
    tracking = parse_qs("utm_" + query)
    assert (tracking["utm_source"], tracking["utm_campaign"]) == (["whatsapp"], ["cart_reminder"])

    # the buyer completes that checkout: no second reminder at +25 h
    placed = start + dt.timedelta(hours=2)
    assert journey.shopify_webhook("orders/create", order_payload(placed), SHOP_DOMAIN) == 200
    journey.tick(start + dt.timedelta(hours=25))
    assert len(journey.sends()) == len(confirmations) + 1

    # "STOPP": one acknowledgement of it, then nothing more, ever, from any flow
    assert journey.buyer_message(BUYER, type="text", text={"body": "STOPP"}) == 200
    assert eventually(lambda: journey.subscription(key, BUYER)["state"] == "opted_out")
    final = [*confirmations, (digits(BUYER), "shopnudge_cart_reminder_1"), (digits(BUYER), "text")]
    assert eventually(lambda: journey.sends() == final)
    for later in (1, 15, 31, 60):
        journey.tick(start + dt.timedelta(days=later, hours=1))
    assert journey.sends() == final
