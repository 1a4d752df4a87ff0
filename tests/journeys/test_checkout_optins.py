"""Opt-ins where Shopify buyers decide: the Thank-you page and the theme embed on a custom domain.

The shop is installed from Shopify (OAuth), so ShopNudge writes its app-data metafield; the
Thank-you extension's request is what the extension sends (its session token, the wording it
read from that metafield); the theme embed runs in Chromium on a storefront whose own domain is
not the shop's myshopify one and is in no allow-list, reaching ShopNudge only through a local
stand-in for Shopify's app proxy that signs each forwarded request as Shopify documents.
Each opt-in ends pending with the exact wording shown and its proof, then is confirmed on
WhatsApp.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import requests
from flask import Flask, Response, request

from plugin.shopify.app_proxy import proxy_signature
from tests.fakes.server import LocalServer
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
from tests.journeys.shopify_world import BUYER, open_shop

THEME = Path(__file__).parents[2] / "extensions" / "shopify-theme"


def app_metafield(shopify: FakeShopify) -> dict[str, Any]:
    """What the checkout extension reads: the app-owned shop metafield ShopNudge wrote."""
    entry = shopify.metafields[("gid://shopify/Shop/1", "$app:shopnudge", "storefront")]
    return json.loads(entry["value"])


def extension_session_token(shopify: FakeShopify) -> str:
    """The token `shopify.sessionToken.get()` hands the extension on the Thank-you page."""
    now = int(time.time())
    claims = {
        "dest": SHOP_DOMAIN,
        "aud": shopify.api_key,
        "exp": now + 300,
        "nbf": now,
        "iat": now,
        "jti": "6f0c3a52-thank-you",
    }
    return jwt.encode(claims, shopify.secret, algorithm="HS256")


def confirm_on_whatsapp(journey: Journey, key: str, start: dt.datetime) -> None:
    """Double opt-in: the confirmation template, the buyer's "JA", confirmed."""
    journey.tick(start)
    assert journey.sends() == [(digits(BUYER), "shopnudge_optin_confirmation")]
    assert journey.buyer_message(BUYER, type="text", text={"body": "JA"}) == 200
    assert eventually(lambda: journey.subscription(key, BUYER)["state"] == "confirmed")


def test_a_thank_you_page_opt_in_is_pending_with_its_wording_and_then_confirmed(
    journey: Journey, shopify: FakeShopify, storefront: tuple[Storefront, str]
) -> None:
    start = journey_start()
    key = open_shop(journey, shopify, storefront, oauth=True)
    config = app_metafield(shopify)
    assert (config["server"], config["store"]) == (journey.url, key)
    shown = config["wordings"]["de"]

    # the buyer ticks the box under the order confirmation and saves the prefilled number
    answer = journey.http.post(
        f"{config['server']}/api/v1/shopify/checkout-optins",
        json={
            "phone": "+49 151 23456789",
            "consent": True,
            "wording_version": shown["version"],
            "locale": "de",
        },
        headers={
            "Authorization": f"Bearer {extension_session_token(shopify)}",
            "User-Agent": "Mozilla/5.0 (checkout web worker)",
        },
        timeout=10,
    )

    assert answer.status_code == 202, answer.text
    record = journey.subscription(key, BUYER)
    assert record["state"] == "pending"
    (event,) = record["events"]
    assert (event["kind"], event["source"]) == ("requested", "thank_you_page")
    assert event["wording"]["version"] == shown["version"]
    assert event["wording"]["text"] == shown["text"]
    assert event["user_agent"] == "Mozilla/5.0 (checkout web worker)"
    assert event["ip"] == "127.0.0.1"

    confirm_on_whatsapp(journey, key, start)


class ShopifyStorefront:
    """The shop's storefront on its own domain: the embed as Liquid renders it, and the app
    proxy forwarding `/apps/shopnudge/...` to ShopNudge with Shopify's signed parameters."""

    def __init__(self, shopify: FakeShopify) -> None:
        self.shopify = shopify
        self.proxy_url = ""
        self.forwarded: list[str] = []
        self.app = Flask("shopify_storefront")
        self.app.add_url_rule("/cart", view_func=self._cart)
        self.app.add_url_rule("/cdn/shopnudge.js", view_func=self._asset)
        self.app.add_url_rule(
            "/apps/shopnudge/<path:rest>", view_func=self._proxy, methods=["GET", "POST"]
        )

    def _cart(self) -> str:
        return (
            '<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Warenkorb</title>'
            "</head><body><h1>Warenkorb</h1>"
            '<div data-shopnudge-optin data-locale="de" data-source="widget"></div>'
            '<script src="/cdn/shopnudge.js" defer></script></body></html>'
        )

    def _asset(self) -> Response:
        """The theme extension's own asset, as Shopify's CDN serves it."""
        return Response(
            (THEME / "assets" / "shopnudge.js").read_bytes(), mimetype="text/javascript"
        )

    def _proxy(self, rest: str) -> Response:
        params = [*request.args.items(multi=True)]
        params += [
            ("shop", SHOP_DOMAIN),
            ("logged_in_customer_id", ""),
            ("path_prefix", "/apps/shopnudge"),
            ("timestamp", str(int(time.time()))),
        ]
        params.append(("signature", proxy_signature(params, self.shopify.secret)))
        self.forwarded.append(rest)
        answer = requests.request(
            request.method,
            f"{self.proxy_url}/{rest}?{urlencode(params)}",
            data=request.get_data(),
            headers={
                "Content-Type": request.headers.get("Content-Type", ""),
                "User-Agent": request.headers.get("User-Agent", ""),
            },
            timeout=10,
        )
        return Response(
            answer.content,
            status=answer.status_code,
            content_type=answer.headers.get("Content-Type"),
        )


@pytest.fixture
def custom_domain(shopify: FakeShopify) -> Iterator[tuple[ShopifyStorefront, str]]:
    shop = ShopifyStorefront(shopify)
    with LocalServer(shop.app) as server:
        yield shop, server.url


@pytest.mark.browser
def test_an_embed_opt_in_on_a_custom_domain_goes_through_the_app_proxy_and_is_confirmed(
    journey: Journey,
    shopify: FakeShopify,
    storefront: tuple[Storefront, str],
    custom_domain: tuple[ShopifyStorefront, str],
    page: Any,
) -> None:
    start = journey_start()
    key = open_shop(journey, shopify, storefront, oauth=True)
    shop, shop_url = custom_domain
    shop.proxy_url = f"{journey.url}/proxy/shopify"
    assert shop_url != storefront[1]  # the shop's only allowed origin is another one

    opt_in_in_browser(
        page,
        f"{shop_url}/cart",
        "0151 23456789",
        label="Handynummer für WhatsApp",
        button="Anmelden",
        answer="Fast geschafft: Bitte bestätigen Sie auf WhatsApp.",
    )

    assert shop.forwarded == ["widget/embed.js", "api/optin-form", "api/optins"]
    record = journey.subscription(key, BUYER)
    assert record["state"] == "pending"
    (event,) = record["events"]
    assert (event["kind"], event["source"]) == ("requested", "widget")
    shown = app_metafield(shopify)["wordings"]["de"]
    assert event["wording"]["text"] == shown["text"]
    assert event["wording"]["version"] == shown["version"]
    assert event["user_agent"].startswith("Mozilla/5.0")

    confirm_on_whatsapp(journey, key, start)
