"""Buyers who hide their number: Meta's webhooks name them by business-scoped user id alone.

Two confirmed buyers. Meta's status for Anna's confirmation carries her BSUID and no number;
Ben's carries both. From then on a reply, a button tap or WhatsApp's own "stop" that names a
buyer only by BSUID reaches that buyer and no other, and nothing more is sent to them; a
webhook with a BSUID nobody holds changes nothing and sends nothing.
"""

from __future__ import annotations

import datetime as dt
import re

from tests.fakes.meta_webhooks import BuyerWebhooks, user_id_for
from tests.fakes.shopify import FakeShopify
from tests.journeys.conftest import SHOP_DOMAIN
from tests.journeys.harness import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    WABA_ID,
    Journey,
    Storefront,
    digits,
    eventually,
    journey_start,
)
from tests.journeys.shopify_world import BUYER, checkout_payload, confirmed_buyer, open_shop

ANNA, BEN = BUYER, "+4917612345678"
ANNA_ID, BEN_ID = user_id_for(ANNA), user_id_for(BEN)
STRANGER_ID = "DE.00000000000000000042"


def meta_says(journey: Journey) -> BuyerWebhooks:
    return BuyerWebhooks(
        url=f"{journey.url}/webhooks/whatsapp",
        app_secret=APP_SECRET,
        waba_id=WABA_ID,
        phone_number_id=PHONE_NUMBER_ID,
    )


def confirmation_wamid(journey: Journey, phone: str) -> str:
    """Meta's id for the confirmation template: the first message sent to the number."""
    return next(wamid for to, wamid in journey.answers.wamids if to == digits(phone))


def outbox_row(journey: Journey, key: str, phone: str, template: str) -> dict:
    """The owner's view (signed in by login link) of the buyer's row for a template."""
    link = journey.cli("stores", "login-link", key).strip().splitlines()[0]
    assert journey.http.get(link, timeout=10).status_code == 200
    page = journey.http.get(f"{journey.url}/app/outbox", timeout=10).text
    rows = [
        journey.http.get(f"{journey.url}/api/v1/admin/notifications/{n}", timeout=10).json()
        for n in sorted({int(n) for n in re.findall(r"/app/outbox/(\d+)", page)})
    ]
    [row] = [r for r in rows if r["phone"] == phone and r["template_name"] == template]
    return row


def test_bsuid_only_status_reply_and_preference_reach_their_buyer_and_unknown_ones_nothing(
    journey: Journey, shopify: FakeShopify, storefront: tuple[Storefront, str]
) -> None:
    start = journey_start()
    key = open_shop(journey, shopify, storefront)
    confirmed_buyer(journey, key, ANNA, storefront[1], start)
    confirmed_buyer(journey, key, BEN, storefront[1], start)
    meta = meta_says(journey)
    confirmation = "shopnudge_optin_confirmation"

    # Meta reports the confirmations delivered: Anna's by BSUID alone, Ben's by both
    assert meta.status(confirmation_wamid(journey, ANNA), "delivered", user_id=ANNA_ID) == 200
    assert meta.status(confirmation_wamid(journey, BEN), "read", user_id=BEN_ID, phone=BEN) == 200
    assert eventually(lambda: journey.subscription(key, ANNA)["whatsapp_user_id"] == ANNA_ID)
    assert eventually(lambda: journey.subscription(key, BEN)["whatsapp_user_id"] == BEN_ID)
    assert outbox_row(journey, key, ANNA, confirmation)["delivery_status"] == "delivered"
    assert outbox_row(journey, key, BEN, confirmation)["delivery_status"] == "read"
    sent = journey.sends()

    # a stranger's STOP, button tap and preference, named by a BSUID nobody holds
    anna_before, ben_before = journey.subscription(key, ANNA), journey.subscription(key, BEN)
    assert meta.text("STOP", user_id=STRANGER_ID) == 200
    assert meta.button("shopnudge:opt_out", "Stop promotions", user_id=STRANGER_ID) == 200
    assert meta.preference("stop", user_id=STRANGER_ID) == 200
    assert journey.subscription(key, ANNA) == anna_before
    assert journey.subscription(key, BEN) == ben_before
    assert journey.sends() == sent

    # Anna's cart is abandoned; before its reminder she answers STOP, number hidden
    assert journey.shopify_webhook("checkouts/create", checkout_payload(start), SHOP_DOMAIN) == 200
    assert meta.text("STOP", user_id=ANNA_ID) == 200
    assert eventually(lambda: journey.subscription(key, ANNA)["state"] == "opted_out")
    assert journey.subscription(key, ANNA)["events"][-1]["source"] == "whatsapp_reply"
    assert eventually(lambda: journey.sends() == [*sent, (digits(ANNA), "text")])
    assert journey.last_send().json["text"]["body"].startswith("Du bist abgemeldet")

    # Ben stops marketing inside WhatsApp, number hidden
    assert meta.preference("stop", user_id=BEN_ID) == 200
    assert eventually(lambda: journey.subscription(key, BEN)["state"] == "opted_out")
    assert journey.subscription(key, BEN)["events"][-1]["source"] == "meta_preferences"

    # nothing more reaches Meta for either of them: no reminder, no later step
    for minutes in (70, 25 * 60, 15 * 24 * 60):
        journey.tick(start + dt.timedelta(minutes=minutes))
    assert journey.sends() == [*sent, (digits(ANNA), "text")]
