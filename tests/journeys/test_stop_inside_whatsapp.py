"""A buyer stops the shop's marketing inside WhatsApp: by "Stop promotions", or Meta refuses a
send with 131050. Either way the buyer is opted out and nothing more reaches Meta for them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from tests.fakes.shopify import FakeShopify
from tests.journeys.conftest import SHOP_DOMAIN
from tests.journeys.harness import (
    PHONE_NUMBER_ID,
    WABA_ID,
    Journey,
    Storefront,
    digits,
    eventually,
    journey_start,
)
from tests.journeys.shopify_world import (
    BUYER,
    checkout_payload,
    confirmed_buyer,
    open_shop,
)

DATA = Path(__file__).parents[1] / "data" / "whatsapp"


def stop_promotions(phone: str, at: dt.datetime) -> dict[str, Any]:
    """Meta's `user_preferences` webhook (documented shape) for a buyer who tapped "Stop"."""
    payload = json.loads((DATA / "user_marketing_preferences.json").read_text())["resume"]
    entry = payload["entry"][0]
    entry["id"] = WABA_ID
    value = entry["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = PHONE_NUMBER_ID
    value["contacts"][0]["wa_id"] = digits(phone)
    value["user_preferences"][0].update(
        wa_id=digits(phone),
        detail="User requested to stop marketing messages",
        value="stop",
        timestamp=int(at.timestamp()),
    )
    return payload


def last_event(journey: Journey, key: str) -> tuple[str, str]:
    record = journey.subscription(key, BUYER)
    return record["state"], record["events"][-1]["source"]


def test_stop_promotions_in_whatsapp_opts_the_buyer_out_before_the_reminder(
    journey: Journey, shopify: FakeShopify, storefront: tuple[Storefront, str]
) -> None:
    start = journey_start()
    key = open_shop(journey, shopify, storefront)
    confirmed_buyer(journey, key, BUYER, storefront[1], start)
    sent_before = journey.sends()
    assert journey.shopify_webhook("checkouts/create", checkout_payload(start), SHOP_DOMAIN) == 200

    # the buyer taps "Stop promotions" in WhatsApp half an hour later
    assert journey.whatsapp_webhook(stop_promotions(BUYER, start + dt.timedelta(minutes=30))) == 200
    assert eventually(lambda: last_event(journey, key) == ("opted_out", "meta_preferences"))

    # then the reminder that would have gone at +1 h never reaches Meta, nor anything later
    for minutes in (70, 25 * 60, 15 * 24 * 60):
        journey.tick(start + dt.timedelta(minutes=minutes))
    assert journey.sends() == sent_before


def test_a_send_refused_with_131050_opts_the_buyer_out_and_nothing_follows(
    journey: Journey, shopify: FakeShopify, storefront: tuple[Storefront, str]
) -> None:
    start = journey_start()
    key = open_shop(journey, shopify, storefront)
    confirmed_buyer(journey, key, BUYER, storefront[1], start)
    sent_before = journey.sends()
    assert journey.shopify_webhook("checkouts/create", checkout_payload(start), SHOP_DOMAIN) == 200

    # Meta refuses the reminder: the buyer stopped marketing from this business in WhatsApp
    journey.meta.fail_next_send(131050)
    journey.tick(start + dt.timedelta(minutes=70))
    reminder = (digits(BUYER), "shopnudge_cart_reminder_1")
    assert journey.sends() == [*sent_before, reminder]
    assert last_event(journey, key)[0] == "opted_out"

    # then the second step, and everything after, stays away from Meta
    for minutes in (71, 25 * 60, 15 * 24 * 60):
        journey.tick(start + dt.timedelta(minutes=minutes))
    assert journey.sends() == [*sent_before, reminder]
