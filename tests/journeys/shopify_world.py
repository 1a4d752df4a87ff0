"""A Shopify shop set up as its owner would, and Shopify's documented payloads for its buyer."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.shopify import FakeShopify, sign_query
from tests.journeys.conftest import SHOP_DOMAIN
from tests.journeys.harness import (
    PHONE_NUMBER_ID,
    WABA_ID,
    Journey,
    Storefront,
    digits,
    eventually,
    iso,
    shopify_example,
)

BUYER = "+4915123456789"
CHECKOUT_TOKEN = "b7d1c0a2e4f64c3f9d2b8a7e6c5d4f3a"
RECOVERY_URL = (
    f"https://{SHOP_DOMAIN}/70131433779/checkouts/{CHECKOUT_TOKEN}/recover?key=9f1e2d3c4b5a"
)
CUSTOMER_ID = 8123456789012
WIDGET_ANSWER = "Almost done: please confirm on WhatsApp."


def open_shop(
    journey: Journey,
    shopify: FakeShopify,
    storefront: tuple[Storefront, str],
    *,
    oauth: bool = False,
) -> str:
    """The owner's set-up, as the README tells it; returns the store key.

    `oauth`: installed from Shopify (expiring token, webhooks registered) instead of with a
    custom app's token on the command line.
    """
    if oauth:
        key = install_by_oauth(journey, shopify)
    else:
        journey.cli(
            "stores", "add", "--platform", "shopify", "--domain", SHOP_DOMAIN,
            "--token", shopify.issue_token(lifetime=10**7), "--name", "Bohne & Blatt",
        )  # fmt: skip
        (store,) = json.loads(journey.cli("stores", "list", "--json"))
        key = store["public_key"]
    journey.cli("stores", "set", key, "name", "Bohne & Blatt")
    journey.cli(
        "stores", "whatsapp", key, "--phone-number-id", PHONE_NUMBER_ID,
        "--waba-id", WABA_ID, "--token", journey.meta.token,
    )  # fmt: skip
    journey.cli("templates", "submit", key)
    for template in journey.meta.templates[WABA_ID]:  # Meta's review approves them
        template["status"] = "APPROVED"
    journey.cli("stores", "set", key, "storefront_origins", storefront[1])
    journey.cli("stores", "set", key, "privacy_url", f"https://{SHOP_DOMAIN}/policies/privacy")
    storefront[0].widget_url = f"{journey.url}/widget/{key}.js"
    return key


def checkout_payload(at: dt.datetime) -> dict[str, Any]:
    """Shopify's documented checkouts/create example for our buyer's cart."""
    checkout = shopify_example("checkouts/create")
    checkout.update(
        id=35412345678901,
        token=CHECKOUT_TOKEN,
        cart_token="c1-3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c",
        created_at=iso(at),
        updated_at=iso(at),
        phone=BUYER,
        abandoned_checkout_url=RECOVERY_URL,
    )
    checkout["customer"].update(id=CUSTOMER_ID, phone=BUYER)
    checkout["customer"]["default_address"].update(customer_id=CUSTOMER_ID, phone=BUYER)
    return checkout


def order_payload(at: dt.datetime) -> dict[str, Any]:
    """Shopify's documented orders/create example: the buyer completed that checkout."""
    order = shopify_example("orders/create")
    order.update(
        id=6123456789012,
        checkout_id=35412345678901,
        checkout_token=CHECKOUT_TOKEN,
        created_at=iso(at),
        updated_at=iso(at),
        processed_at=iso(at),
        phone=BUYER,
        # Shopify's example is a cancelled, voided order; the buyer's purchase is paid and open
        cancelled_at=None,
        cancel_reason=None,
        financial_status="paid",
    )
    order["customer"].update(id=CUSTOMER_ID, phone=BUYER)
    return order


def opt_in_by_api(journey: Journey, key: str, phone: str, origin: str, locale: str = "de") -> None:
    """The storefront API as the widget calls it (for journeys that are not about the widget)."""
    form = journey.http.get(
        f"{journey.url}/api/v1/stores/{key}/optin-form",
        params={"locale": locale},
        headers={"Origin": origin},
        timeout=10,
    )
    assert form.status_code == 200, form.text
    answer = journey.http.post(
        f"{journey.url}/api/v1/stores/{key}/optins",
        json={
            "phone": phone,
            "consent": True,
            "wording_version": form.json()["wording_version"],
            "locale": locale,
            "source": "widget",
        },
        headers={"Origin": origin, "User-Agent": "Mozilla/5.0 (journey)"},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text


def confirmed_buyer(
    journey: Journey, key: str, phone: str, origin: str, start: dt.datetime, locale: str = "de"
) -> None:
    """Opt in, receive the confirmation, reply "JA": the buyer is confirmed."""
    before = len(journey.sends())
    opt_in_by_api(journey, key, phone, origin, locale)
    journey.tick(start)
    assert journey.sends()[before:] == [(digits(phone), "shopnudge_optin_confirmation")]
    assert journey.buyer_message(phone, type="text", text={"body": "JA"}) == 200
    assert eventually(lambda: journey.subscription(key, phone)["state"] == "confirmed")
    assert eventually(lambda: len(journey.sends()) == before + 2)  # and its acknowledgement


def install_by_oauth(journey: Journey, shopify: FakeShopify) -> str:
    """The owner installs from Shopify: signed install link, approval, our callback."""
    params = {"shop": SHOP_DOMAIN, "timestamp": str(int(dt.datetime.now(dt.UTC).timestamp()))}
    params["hmac"] = sign_query(params, shopify.secret)
    start = journey.get("/shopify/install", params=params)
    assert start.status_code == 302, start.text
    approved = journey.http.get(start.headers["Location"], allow_redirects=False, timeout=10)
    callback = urlsplit(approved.headers["Location"])
    done = journey.get(f"{callback.path}?{callback.query}")
    assert done.status_code == 302, done.text
    (store,) = json.loads(journey.cli("stores", "list", "--json"))
    assert store["status"] == "active"
    return str(store["public_key"])


def shopify_says(journey: Journey, topic: str, payload: dict[str, Any]) -> None:
    """Shopify delivers a webhook for the shop, and we take it."""
    assert journey.shopify_webhook(topic, payload, SHOP_DOMAIN) == 200
