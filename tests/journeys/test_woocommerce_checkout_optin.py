"""A WooCommerce buyer ticks ShopNudge's box in the block checkout; the order brings the consent.

The ShopNudge plugin fetched the label (the shop's wording and its version) from ShopNudge and
WooCommerce stored the tick as the Additional Checkout Fields API does
(`_wc_other/shopnudge/whatsapp-optin`), the plugin the version beside it; the order then reaches
ShopNudge in WooCommerce's signed order.created delivery. The buyer ends pending with that
wording, then confirms on WhatsApp.
"""

from __future__ import annotations

import datetime as dt

from tests.fakes.woocommerce import FakeWooCommerce
from tests.journeys.harness import Journey, digits, eventually
from tests.journeys.test_woocommerce_buyer import (  # noqa: F401  (the HTTPS shop and app)
    front,
    open_woocommerce_shop,
    tls,
    woo,
)

BUYER = "+4915123456789"


def test_a_block_checkout_tick_is_pending_with_its_wording_and_then_confirmed(
    journey: Journey,
    woo: FakeWooCommerce,  # noqa: F811  (the fixture imported above)
) -> None:
    beans = woo.add_product("Espresso Bohnen 1 kg", "18.90")
    key = open_woocommerce_shop(journey, woo)
    now = dt.datetime.now(dt.UTC)
    journey.tick(now)  # the set-up job registers the shop's webhooks

    # the plugin's wording fetch, server to server (cached in a WordPress option)
    label = journey.http.get(
        f"{journey.url}/api/v1/stores/{key}/optin-form", params={"locale": "de"}, timeout=10
    ).json()

    # the buyer ticks the box in the block checkout and places the order
    order = woo.add_order([(beans["id"], 0, 1, "18.90")], phone="0151 23456789")
    payload = woo.render_order(order)
    payload["customer_ip_address"] = "203.0.113.7"
    payload["customer_user_agent"] = "Mozilla/5.0 (block checkout)"
    payload["meta_data"] += [
        {"id": 901, "key": "_wc_other/shopnudge/whatsapp-optin", "value": "1"},
        {"id": 902, "key": "_shopnudge_wording_version", "value": str(label["wording_version"])},
        {"id": 903, "key": "_shopnudge_wording_locale", "value": label["locale"]},
    ]
    assert woo.deliver("order.created", payload) == [200]

    shown = ["subscriptions", "show", key, BUYER, "--json"]
    assert eventually(lambda: journey.runner.invoke(args=shown).exit_code == 0)
    record = journey.subscription(key, BUYER)
    assert record["state"] == "pending"
    (event,) = record["events"]
    assert (event["kind"], event["source"]) == ("requested", "checkout_checkbox")
    assert event["wording"]["text"] == label["text"]
    assert event["wording"]["version"] == label["wording_version"]
    assert (event["ip"], event["user_agent"]) == ("203.0.113.7", "Mozilla/5.0 (block checkout)")

    # the order.updated that follows (paid) records nothing new
    assert woo.deliver("order.updated", payload) == [200]

    journey.tick(dt.datetime.now(dt.UTC))
    assert journey.sends() == [(digits(BUYER), "shopnudge_optin_confirmation")]
    assert journey.buyer_message(BUYER, type="text", text={"body": "JA"}) == 200
    assert eventually(lambda: journey.subscription(key, BUYER)["state"] == "confirmed")
    assert len(journey.subscription(key, BUYER)["events"]) == 2
