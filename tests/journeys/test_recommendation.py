"""After an order, one "goes with your last purchase" message on the configured day.

A shop with a history (synced from Shopify in full), buyers who order through Shopify's
orders/create webhook, and the owner's outbox pages: each confirmed buyer gets exactly one
recommendation — unless held out, and never while the opt-in is still pending.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from tests.fakes.shopify import FakeShopify
from tests.journeys.harness import Journey, Storefront, digits, journey_start, shopify_example
from tests.journeys.shopify_world import (
    confirmed_buyer,
    open_shop,
    opt_in_by_api,
    order_payload,
    shopify_says,
)

#: Confirmed buyers; with half of them held out, this shop's stable split puts some on each side.
CONFIRMED = ("+4915111100001", "+4915111100002", "+4915111100003", "+4915111100004")
PENDING = "+4915111100009"
DELAY_DAYS = 3


def order_of(shopify: FakeShopify, phone: str, number: int, at: dt.datetime) -> dict[str, Any]:
    """Shopify's documented order, for this buyer, of one product of the shop's catalogue."""
    product_id, product = sorted(shopify.data.products.items())[number]
    variant = product["variants"]["nodes"][0]
    order = order_payload(at)
    order.update(id=6_100_000_000_000 + number, checkout_token=None, checkout_id=None, phone=phone)
    order["customer"].update(id=8_100_000_000_000 + number, phone=phone)
    (line, *_) = order["line_items"]
    line.update(
        product_id=product_id,
        variant_id=int(variant["id"].rsplit("/", 1)[1]),
        title=product["title"],
        name=product["title"],
        price=variant["price"],
        quantity=1,
    )
    order["line_items"] = [line]
    return order


def sign_in(journey: Journey, key: str) -> None:
    link = journey.cli("stores", "login-link", key).strip().splitlines()[0]
    assert journey.http.get(link, timeout=10).status_code == 200


def recommendation_rows(journey: Journey) -> list[dict[str, Any]]:
    """Every recommendation in the owner's outbox, as the admin API describes each."""
    page = journey.http.get(f"{journey.url}/app/outbox?flow=recommendation", timeout=10)
    ids = sorted({int(n) for n in re.findall(r"/app/outbox/(\d+)", page.text)})
    return [
        journey.http.get(f"{journey.url}/api/v1/admin/notifications/{n}", timeout=10).json()
        for n in ids
    ]


def test_one_recommendation_on_the_configured_day_none_held_out_none_pending(
    journey: Journey, shopify: FakeShopify, storefront: tuple[Storefront, str]
) -> None:
    # given a shop with a year of orders, synced in full
    shopify.data.seed(products=24, customers=60, orders=600)
    start = journey_start()
    key = open_shop(journey, shopify, storefront)
    journey.cli("sync", key, "--full")
    journey.cli("stores", "set", key, "recommendation_delay_days", str(DELAY_DAYS))
    journey.cli("stores", "set", key, "holdout_percent", "50")
    for phone in CONFIRMED:
        confirmed_buyer(journey, key, phone, storefront[1], start)
    opt_in_by_api(journey, key, PENDING, storefront[1])
    journey.tick(start)  # the pending buyer is asked to confirm, and never answers
    before = journey.sends()
    assert before[-1] == (digits(PENDING), "shopnudge_optin_confirmation")

    # when every buyer orders a product (a new customer at the checkout, then the order, sent
    # together as Shopify sends them: each is applied just after its answer, the two at once)
    for number, phone in enumerate((*CONFIRMED, PENDING)):
        order = order_of(shopify, phone, number, start)
        customer = shopify_example("customers/create")
        customer.update(id=order["customer"]["id"], phone=phone, email=f"buyer{number}@example.de")
        shopify_says(journey, "customers/create", customer)
        shopify_says(journey, "orders/create", order)
    journey.applied()

    # then nothing comes before the configured day, and one message each on it
    journey.tick(start + dt.timedelta(days=DELAY_DAYS - 1))
    assert journey.sends() == before
    # composed at the shop's 10:00 on the day, sent once it is daytime where the buyer lives
    # (Shopify's example customer lives in Ottawa: 09:00 there is 15:00 in Berlin)
    on_the_day = start + dt.timedelta(days=DELAY_DAYS)
    for hours in (0, 5, 6, 7, 30):
        journey.tick(on_the_day + dt.timedelta(hours=hours))
    new = journey.sends()[len(before) :]
    assert {name for _, name in new} == {"shopnudge_recommendation"}
    # each reads as a sentence: the buyer, then a product of the shop, then the shop
    titles = {product["title"] for product in shopify.data.products.values()}
    for send in journey.meta.sends()[len(before) :]:
        text = journey.meta.text_of(send)
        said = re.fullmatch(
            r"(?:Hi .+, (?P<en>.+) goes well with your last order at Bohne & Blatt\. Take a look!"
            r"|Hallo .+, zu deinem letzten Einkauf bei Bohne & Blatt passt (?P<de>.+)\. "
            r"Schau es dir an!)",
            text,
        )
        assert said is not None, text
        assert (said["en"] or said["de"]) in titles, text

    sign_in(journey, key)
    rows = {row["phone"]: row for row in recommendation_rows(journey)}
    held_out = sorted(p for p, row in rows.items() if row["reason"] == "holdout")
    messaged = sorted(p for p in CONFIRMED if p not in held_out)
    assert held_out and messaged, "the split must put buyers on both sides to prove anything"
    assert sorted(to for to, _ in new) == sorted(digits(p) for p in messaged)
    assert {rows[p]["state"] for p in held_out} == {"skipped"}
    assert {rows[p]["state"] for p in messaged} == {"sent"}
    assert PENDING not in rows

    # and the owner sees why each product was picked
    for phone in messaged:
        detail = journey.http.get(f"{journey.url}/app/outbox/{rows[phone]['id']}", timeout=10)
        assert detail.status_code == 200
        # the recommender's own reason for the pick, e.g. "bought together with X in 37 orders"
        assert re.search(r"bought (together with|later by buyers of) .+", detail.text)
