"""A campaign to a segment, as an owner runs it: composed over the admin API, previewed, started,
paused and resumed, its deliveries priced by Meta's status webhooks, an order attributed.

Judged by what reached the fake Meta: exactly the confirmed, not-opted-out, not-held-out
buyers of the segment, once each, inside the send window where each buyer lives; the preview's
audience and cost are what is then sent and charged.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from typing import Any
from zoneinfo import ZoneInfo

from tests.fakes.shopify import FakeShopify
from tests.journeys.conftest import SHOP_DOMAIN
from tests.journeys.harness import (
    PHONE_NUMBER_ID,
    WABA_ID,
    Journey,
    Storefront,
    digits,
    iso,
    journey_start,
    shopify_example,
)
from tests.journeys.shopify_world import (
    confirmed_buyer,
    open_shop,
    opt_in_by_api,
    order_payload,
    shopify_says,
)
from tests.owner import csrf_token

#: With this shop's stable split at 30 %, two of these are held out and two are messaged.
GERMAN = ("+4915111100001", "+4915111100002", "+4915111100006", "+4915111100012")
#: A buyer in London: 10:00 in Berlin is 09:00 there, before the window opens.
BRITISH = "+447400123456"
IN_SEGMENT = (*GERMAN, BRITISH)
#: Confirmed, but bought the product the segment excludes.
OUTSIDE = "+4915111100005"
PENDING, OPTED_OUT, ERASED = "+4915111100007", "+4915111100008", "+4915111100009"
ZONES = {phone: ZoneInfo("Europe/Berlin") for phone in GERMAN} | {
    BRITISH: ZoneInfo("Europe/London")
}
TEMPLATE = "shopnudge_recommendation"  # MARKETING; its {{3}} carries the coupon code
API = "/api/v1/admin/campaigns"
STATUS_EXAMPLE = "tests/data/whatsapp/meta_documented.json"


def order_by(phone: str, number: int, at: dt.datetime) -> dict[str, Any]:
    """Shopify's documented order, placed by this buyer as a customer of their own."""
    order = order_payload(at)
    order.update(id=6_200_000_000_000 + number, checkout_token=None, checkout_id=None, phone=phone)
    order["customer"].update(id=8_200_000_000_000 + number, phone=phone)
    return order


def erase_by_shopify(journey: Journey, phone: str, customer_id: int) -> None:
    """The buyer is a Shopify customer; Shopify then asks for their erasure."""
    customer = shopify_example("customers/create")
    customer.update(id=customer_id, phone=phone, email="erase.me@example.de")
    shopify_says(journey, "customers/create", customer)
    redact = shopify_example("customers/redact")
    redact.update(shop_domain=SHOP_DOMAIN)
    redact["customer"].update(id=customer_id, email="erase.me@example.de", phone=phone)
    redact["orders_to_redact"] = []
    shopify_says(journey, "customers/redact", redact)


def signed_in_headers(journey: Journey, key: str) -> dict[str, str]:
    """The owner signs in with a login link; a script sends the page's CSRF token."""
    link = journey.cli("stores", "login-link", key).strip().splitlines()[0]
    assert journey.http.get(link, timeout=10).status_code == 200
    page = journey.http.get(f"{journey.url}/app/", timeout=10).text
    return {"X-CSRFToken": csrf_token(page)}


def delivered_with_pricing(journey: Journey, phone: str, wamid: str, at: dt.datetime) -> int:
    """Meta's documented `delivered` status with `pricing` (a regular marketing message)."""
    with open(STATUS_EXAMPLE, encoding="utf-8") as file:
        payload = copy.deepcopy(json.load(file)["status_delivered_pmp_regular"])
    entry = payload["entry"][0]
    entry["id"] = WABA_ID
    value = entry["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = PHONE_NUMBER_ID
    (status,) = value["statuses"]
    del status["recipient_user_id"], status["biz_opaque_callback_data"]
    status.update(id=wamid, recipient_id=digits(phone), timestamp=str(int(at.timestamp())))
    return journey.whatsapp_webhook(payload)


def campaign_rows(journey: Journey) -> dict[str, dict[str, Any]]:
    """The campaign's outbox rows by phone, as the owner's outbox and admin API show them."""
    page = journey.http.get(f"{journey.url}/app/outbox?flow=campaign", timeout=10)
    ids = sorted({int(n) for n in re.findall(r"/app/outbox/(\d+)", page.text)})
    rows = [
        journey.http.get(f"{journey.url}/api/v1/admin/notifications/{n}", timeout=10).json()
        for n in ids
    ]
    return {row["phone"]: row for row in rows}


def test_campaign_reaches_its_segment_once_in_each_window_paused_resumed_priced_attributed(
    journey: Journey, shopify: FakeShopify, storefront: tuple[Storefront, str]
) -> None:
    # given a shop whose buyers are confirmed, pending, opted out, erased, or outside the segment
    start = journey_start()
    key = open_shop(journey, shopify, storefront)
    for phone in (*IN_SEGMENT, OUTSIDE, OPTED_OUT, ERASED):
        confirmed_buyer(journey, key, phone, storefront[1], start)
    opt_in_by_api(journey, key, PENDING, storefront[1])
    assert journey.buyer_message(OPTED_OUT, type="text", text={"body": "STOP"}) == 200
    erase_by_shopify(journey, ERASED, 8_300_000_000_001)
    excluded_order = order_by(OUTSIDE, 1, start - dt.timedelta(hours=2))
    shopify_says(journey, "orders/create", excluded_order)
    journey.tick(start)
    assert journey.subscription(key, PENDING)["state"] == "pending"
    assert journey.subscription(key, OPTED_OUT)["state"] == "opted_out"
    before = len(journey.sends())

    # when the owner composes a campaign to buyers who never bought that product, over the API
    headers = signed_in_headers(journey, key)
    product = str(excluded_order["line_items"][0]["product_id"])
    segment = {"rules": [{"rule": "never_bought", "product": product}]}
    body = {
        "name": "Winter sale",
        "template": TEMPLATE,
        "segment": segment,
        "holdout_percent": 30,
        "coupon": "WINTER20",
        "window": "10:00-19:00",
        "spread_hours": 4,
    }
    created = journey.http.post(f"{journey.url}{API}", json=body, headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    campaign = str(created.json()["id"])
    previewed = journey.http.post(
        f"{journey.url}{API}/{campaign}/preview", headers=headers, timeout=10
    ).json()
    by_cli = json.loads(
        journey.cli("campaigns", "preview", key, campaign, "--json", "--now", iso(start))
    )
    started = journey.http.post(
        f"{journey.url}{API}/{campaign}/start", json={"at": iso(start)}, headers=headers, timeout=10
    )
    assert started.status_code == 200, started.text
    journey.cli("campaigns", "start", key, campaign, "--now", iso(start))  # a second start

    # then the preview counts the consent exclusions and splits the segment by the holdout
    assert previewed == by_cli
    held = previewed["excluded"]["holdout"]
    assert 0 < held < len(IN_SEGMENT), "the split must put buyers on both sides"
    assert previewed["segment_size"] == len(IN_SEGMENT) + 3  # pending, opted out, erased
    assert previewed["excluded"] == {
        "holdout": held,
        "not_confirmed": 1,
        "opted_out": 1,
        "erased": 1,
    }
    assert previewed["audience"] == len(IN_SEGMENT) - held
    assert started.json()["pending"] == previewed["audience"]

    # when the worker runs every quarter hour, and the owner pauses once the first have gone
    sent_at: dict[str, dt.datetime] = {}
    moment, paused_at = start, None
    by_digits = {digits(phone): phone for phone in IN_SEGMENT}
    while len(sent_at) < previewed["audience"] and moment <= start + dt.timedelta(hours=30):
        journey.tick(moment)
        if len(journey.sends()) > before + len(sent_at) and not sent_at:
            count = len(journey.sends())
            journey.tick(moment)  # a repeated tick sends nothing new
            assert len(journey.sends()) == count
        for to, name in journey.sends()[before + len(sent_at) :]:
            assert (to in by_digits, name) == (True, TEMPLATE), to
            assert by_digits[to] not in sent_at, f"{to} got the campaign twice"
            sent_at[by_digits[to]] = moment
        if paused_at is None and 0 < len(sent_at) < previewed["audience"]:
            paused = journey.http.post(
                f"{journey.url}{API}/{campaign}/pause", headers=headers, timeout=10
            )
            assert paused.json()["held"] == previewed["audience"] - len(sent_at)
            paused_at, during = moment, len(sent_at)
            for later in (1, 2):  # hours of pause, past every slot: nothing goes
                journey.tick(moment + dt.timedelta(hours=later))
            assert len(journey.sends()) == before + during
            moment += dt.timedelta(hours=3)  # resumed within the window: the rest go now
            journey.cli("campaigns", "start", key, campaign, "--now", iso(moment))
        moment += dt.timedelta(minutes=15)
    journey.tick(start + dt.timedelta(days=2))

    # then exactly the messaged buyers got it, once each, inside their own window
    assert paused_at is not None, "the campaign must be paused mid-way to prove anything"
    rows = campaign_rows(journey)
    held_out = sorted(p for p, row in rows.items() if row["reason"] == "holdout")
    messaged = sorted(p for p in IN_SEGMENT if p not in held_out)
    assert len(held_out) == held
    assert sorted(sent_at) == messaged
    assert len(journey.sends()) == before + len(messaged)
    assert sorted(rows) == sorted(IN_SEGMENT)  # no row for pending, opted-out, erased, outside
    for phone, moment in sent_at.items():
        local = moment.astimezone(ZONES[phone]).time()
        assert dt.time(10) <= local < dt.time(19), (phone, moment)
    if BRITISH in sent_at:
        assert sent_at[BRITISH] >= start + dt.timedelta(hours=1)  # 10:00 in London

    # when Meta reports each delivery with its price, and one buyer orders afterwards
    wamids = dict(journey.answers.wamids)
    for phone, moment in sent_at.items():
        delivered = moment + dt.timedelta(minutes=1)
        assert delivered_with_pricing(journey, phone, wamids[digits(phone)], delivered) == 200
    buyer = messaged[0]
    order = order_by(buyer, 2, start + dt.timedelta(days=2, hours=1))
    shopify_says(journey, "orders/create", order)
    journey.tick(start + dt.timedelta(days=2, hours=2))

    # then what was charged is what the preview forecast, and the order is the campaign's
    shown = json.loads(journey.cli("campaigns", "show", key, campaign, "--json"))
    assert (shown["sent"], shown["delivered"]) == (previewed["audience"], previewed["audience"])
    assert shown["cost_micros"] == previewed["cost_micros"]
    assert shown["skipped"] == {"holdout": held}
    assert shown["orders"] == 1
    total = round(float(order["current_total_price"]) * 100)
    assert shown["revenue_minor"] == {order["currency"]: total}
    over_http = journey.http.get(f"{journey.url}{API}/{campaign}", timeout=10).json()
    assert over_http["results"]["orders"] == 1
    assert over_http["status"] == "running"
