"""The owner's whole campaign in the browser, with a code of their own for every buyer.

The owner writes a marketing template with a copy-code button in the template editor, Meta
reviews and approves it (its template status webhook), the owner composes a campaign with a
15 % single-use code per buyer, reads audience and cost on the preview, sends a test to their
own opted-in number and starts. Judged by what reached the fakes: each buyer's message carries
that buyer's own code, created on Shopify, each buyer once, nobody pending or opted out; one
buyer orders with their code and the campaign page and the CSV show the order, and what Meta
charged is the cost the preview showed.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.meta import Recorded
from tests.fakes.shopify import FakeShopify
from tests.journeys.harness import (
    BERLIN,
    WABA_ID,
    Journey,
    Storefront,
    digits,
    eventually,
    journey_start,
)
from tests.journeys.shopify_world import confirmed_buyer, open_shop, opt_in_by_api, shopify_says
from tests.journeys.test_campaign import (
    GERMAN,
    OPTED_OUT,
    PENDING,
    STATUS_EXAMPLE,
    delivered_with_pricing,
    order_by,
)
from tests.journeys.test_campaign_pages import metric

pytestmark = pytest.mark.browser

#: The owner's own WhatsApp number: opted in through the shop's form like a buyer, in English,
#: so the campaign to German speakers does not include it.
OWNER = "+4917612345678"
TEMPLATE = "winter_code"
BODY = "Hallo {{first_name}}, dein Code {{coupon_code}} gilt bei {{shop_name}} eine Woche lang."
PERCENT = 15


def approve_at_meta(journey: Journey, name: str, language: str) -> int:
    """Meta's review approves the template, and Meta says so with its documented webhook."""
    (stored,) = [t for t in journey.meta.templates[WABA_ID] if t["name"] == name]
    journey.meta.set_template_status(WABA_ID, name, language, status="APPROVED")
    with open(STATUS_EXAMPLE, encoding="utf-8") as file:
        payload = copy.deepcopy(json.load(file)["message_template_status_update_approved"])
    payload["entry"][0]["id"] = WABA_ID
    payload["entry"][0]["changes"][0]["value"].update(
        event="APPROVED",
        message_template_id=int(stored["id"]),
        message_template_name=name,
        message_template_language=language,
        message_template_category="MARKETING",
        reason="NONE",
    )
    return journey.whatsapp_webhook(payload)


def codes_in(send: Recorded) -> tuple[str, str]:
    """The code in the message's body ({{2}}) and the one its copy-code button copies."""
    components = send.json["template"]["components"]
    (body,) = [c for c in components if c["type"] == "body"]
    (button,) = [c for c in components if c.get("sub_type") == "copy_code"]
    (parameter,) = button["parameters"]
    return body["parameters"][1]["text"], parameter["coupon_code"]


def test_owner_writes_a_template_sends_each_buyer_their_own_code_and_a_buyer_orders_with_it(
    journey: Journey,
    shopify: FakeShopify,
    storefront: tuple[Storefront, str],
    page: Any,
    artifacts: Path,
) -> None:
    # given a shop in Berlin with four confirmed German buyers, one pending, one opted out,
    # and the owner's own number confirmed; no quiet hours, so the owner's test (sent at the
    # real time of day) goes at once whenever this runs
    start = journey_start()
    key = open_shop(journey, shopify, storefront)
    for setting, value in (
        ("timezone", "Europe/Berlin"),
        ("quiet_hours_start", "00:00"),
        ("quiet_hours_end", "00:00"),
    ):
        journey.cli("stores", "set", key, setting, value)
    for phone in (*GERMAN, OPTED_OUT):
        confirmed_buyer(journey, key, phone, storefront[1], start)
    confirmed_buyer(journey, key, OWNER, storefront[1], start, locale="en")
    opt_in_by_api(journey, key, PENDING, storefront[1])
    journey.tick(start)  # the pending buyer is asked to confirm, and never answers
    asked = len(journey.sends())
    assert journey.buyer_message(OPTED_OUT, type="text", text={"body": "STOP"}) == 200
    assert eventually(lambda: journey.sends()[asked:] == [(digits(OPTED_OUT), "text")])  # "bye"
    assert journey.subscription(key, OPTED_OUT)["state"] == "opted_out"
    before = len(journey.meta.sends())

    # when the owner writes a template with a copy-code button in the browser
    link = journey.cli("stores", "login-link", key).strip().splitlines()[0]
    page.goto(link)
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_role("link", name="Write a template").click()
    page.get_by_label("Name", exact=True).fill(TEMPLATE)
    page.get_by_label("Language", exact=True).select_option("de")
    page.get_by_label("Text", exact=True).fill(BODY)
    page.get_by_label("Button that copies the buyer's coupon code").check()
    page.get_by_role("button", name="Submit for review").click()
    page.get_by_text(f"{TEMPLATE} (de) submitted: PENDING").wait_for()
    (submitted,) = [t for t in journey.meta.templates[WABA_ID] if t["name"] == TEMPLATE]
    assert {b["type"] for c in submitted["components"] for b in c.get("buttons", [])} == {
        "COPY_CODE",
        "QUICK_REPLY",
    }

    # and Meta approves it
    assert approve_at_meta(journey, TEMPLATE, "de") == 200
    status = page.locator(f'tr[data-template="{TEMPLATE}:de"] td[data-status]')

    def shown_approved() -> bool:
        page.reload()
        return status.get_attribute("data-status") == "APPROVED"

    assert eventually(shown_approved)

    # and composes a campaign to German speakers with a 15 % code per buyer, no control group
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Campaign name").fill("Winter codes")
    page.get_by_label("Template").select_option(TEMPLATE)
    page.get_by_label("Or a code per buyer: % off").fill(str(PERCENT))
    page.get_by_label("Languages").fill("de")
    page.get_by_label("Control group (%)").fill("0")
    page.get_by_label("Start").fill(start.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Preview audience and cost").click()
    page.locator('[data-metric="audience"]').wait_for()
    found = re.search(r"/app/campaigns/(\d+)$", page.url)
    assert found, page.url
    campaign = found.group(1)

    # then the preview names who gets it, who does not and why, and what it costs
    audience = int(metric(page, "audience"))
    forecast = metric(page, "cost-EUR")
    excluded = {
        row.get_attribute("data-reason"): row.locator("td").text_content()
        for row in page.locator("tr[data-reason]").all()
    }
    assert audience == len(GERMAN)
    assert excluded == {"not_confirmed": "1", "opted_out": "1"}
    assert metric(page, "coupon") == f"A code per buyer, {PERCENT} % off"

    # when the owner sends a test to their own number and the worker runs
    page.get_by_label("Your number").fill(OWNER)
    page.get_by_role("button", name="Send a test").click()
    page.get_by_text(f"Test message to {OWNER} queued").wait_for()
    journey.tick(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))

    # then the owner got the message with a code of their own that exists on Shopify
    (test,) = journey.meta.sends()[before:]
    assert (test.json["to"], test.json["template"]["name"]) == (digits(OWNER), TEMPLATE)
    owner_code, owner_button = codes_in(test)
    assert owner_code == owner_button and owner_code in shopify.discounts
    good_from = dt.datetime.fromisoformat(shopify.discounts[owner_code]["startsAt"])
    assert good_from <= dt.datetime.now(dt.UTC) < start  # usable now, before the campaign
    page.reload()
    assert page.locator("ul.tests li").count() == 1
    assert "Sent" in page.locator("ul.tests li").text_content()

    # when the owner starts with the figures on screen and the worker runs twice
    page.get_by_role("button", name=re.compile(rf"^Start: send to {audience} buyers")).click()
    page.get_by_text(f"Started: {audience} messages wait to be sent.").wait_for()
    journey.tick(start)
    journey.tick(start + dt.timedelta(minutes=15))  # a repeated tick sends nothing new

    # then each German buyer got the template once, with a 15 % code of their own from Shopify
    sends = journey.meta.sends()[before + 1 :]
    by_digits = {digits(phone): phone for phone in GERMAN}
    assert sorted(s.json["to"] for s in sends) == sorted(by_digits)
    assert {s.json["template"]["name"] for s in sends} == {TEMPLATE}
    codes = {}
    for send in sends:
        in_body, in_button = codes_in(send)
        assert in_body == in_button
        codes[by_digits[send.json["to"]]] = in_button
    assert len(set(codes.values())) == len(GERMAN)
    assert owner_code not in codes.values()
    assert sorted(shopify.discounts) == sorted([*codes.values(), owner_code])
    for code in codes.values():
        discount = shopify.discounts[code]
        assert discount["customerGets"]["value"]["percentage"] == PERCENT / 100
        assert discount["usageLimit"] == 1
        assert dt.datetime.fromisoformat(discount["startsAt"]) == start
    assert not {digits(p) for p in (PENDING, OPTED_OUT, OWNER)} & {s.json["to"] for s in sends}

    # when Meta reports each delivery with its price, and one buyer orders with their code
    wamids = dict(journey.answers.wamids)
    for phone in GERMAN:
        delivered = start + dt.timedelta(minutes=1)
        assert delivered_with_pricing(journey, phone, wamids[digits(phone)], delivered) == 200
    buyer = GERMAN[0]
    order = order_by(buyer, 7, start + dt.timedelta(hours=2))
    order["discount_codes"] = [{"code": codes[buyer], "amount": "1.50", "type": "percentage"}]
    shopify_says(journey, "orders/create", order)
    journey.tick(start + dt.timedelta(hours=3))

    # then the campaign page shows the sends, the order, and the cost the preview forecast
    page.goto(f"{journey.url}/app/campaigns/{campaign}")
    assert {k: metric(page, k) for k in ("sent", "delivered", "orders", "pending")} == {
        "sent": str(audience),
        "delivered": str(audience),
        "orders": "1",
        "pending": "0",
    }
    assert metric(page, "cost") == forecast
    page.screenshot(path=str(artifacts / "campaign-unique-codes.png"), full_page=True)

    # and the CSV says the same per recipient: the buyers only, not the owner's test
    with page.expect_download() as download:
        page.get_by_role("link", name="Download every recipient (CSV)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    lines = {line["phone"]: line for line in csv.DictReader(io.StringIO(text))}
    assert sorted(lines) == sorted(GERMAN)
    assert {line["group"] for line in lines.values()} == {"messaged"}
    total = round(Decimal(order["current_total_price"]) * 100)
    assert {
        p: (line["orders"], line["revenue"]) for p, line in lines.items() if line["orders"] != "0"
    } == {buyer: ("1", f"{Decimal(total) / 100:.2f}")}
    cost = sum(Decimal(line["cost"]) for line in lines.values())
    assert f"€{cost}" == forecast
