"""A campaign as an owner runs it in the browser: composed, previewed, confirmed, measured.

The owner composes on /app/campaigns in headless Chromium, reads the audience and the cost on
the preview and starts with those figures; the worker's ticks send it to the fake Meta; Meta
reports the deliveries with their price; one buyer orders; the campaign page shows the order,
the cost and the control group, and the CSV the owner downloads says the same, line by line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import format_currency

from tests.fakes.shopify import FakeShopify
from tests.journeys.harness import BERLIN, Journey, Storefront, digits, iso, journey_start
from tests.journeys.shopify_world import confirmed_buyer, open_shop, shopify_says
from tests.journeys.test_campaign import GERMAN, TEMPLATE, delivered_with_pricing, order_by

pytestmark = pytest.mark.browser

COUPON = "WINTER20"


def metric(page: Any, name: str) -> str:
    return page.locator(f'[data-metric="{name}"]').first.text_content().strip()


def compose_in_browser(page: Any, journey: Journey, key: str, start: dt.datetime) -> str:
    """The owner signs in, composes a campaign to German speakers and opens its preview."""
    link = journey.cli("stores", "login-link", key).strip().splitlines()[0]
    page.goto(link)
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Campaign name").fill("Winter sale")
    page.get_by_label("Template").select_option(TEMPLATE)
    page.get_by_label("Coupon code").fill(COUPON)
    page.get_by_label("Languages").fill("de")
    page.get_by_label("Control group (%)").fill("30")
    page.get_by_label("Start").fill(start.astimezone(BERLIN).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Preview audience and cost").click()
    page.locator('[data-metric="audience"]').wait_for()
    found = re.search(r"/app/campaigns/(\d+)$", page.url)
    assert found, page.url
    return found.group(1)


def test_owner_composes_previews_and_starts_in_the_browser_and_reads_the_order_back(
    journey: Journey,
    shopify: FakeShopify,
    storefront: tuple[Storefront, str],
    page: Any,
    artifacts: Path,
) -> None:
    # given a shop in Berlin with four confirmed German buyers
    start = journey_start()
    key = open_shop(journey, shopify, storefront)
    journey.cli("stores", "set", key, "timezone", "Europe/Berlin")
    for phone in GERMAN:
        confirmed_buyer(journey, key, phone, storefront[1], start)
    before = len(journey.sends())

    # when the owner composes the campaign in the browser and reads the preview
    campaign = compose_in_browser(page, journey, key, start)
    audience = int(metric(page, "audience"))
    held = int(page.locator('tr[data-reason="holdout"] td').text_content())
    by_cli = json.loads(
        journey.cli("campaigns", "preview", key, campaign, "--json", "--now", iso(start))
    )
    (cost_micros,) = by_cli["cost_micros"].values()
    assert (audience, held) == (by_cli["audience"], by_cli["excluded"]["holdout"])
    assert 0 < held < len(GERMAN), "the split must put buyers on both sides"
    assert metric(page, "cost-EUR") == f"€{Decimal(cost_micros) / 1_000_000}"

    # and confirms with those figures on the button
    page.get_by_role("button", name=re.compile(rf"^Start: send to {audience} buyers")).click()
    page.get_by_text(f"Started: {audience} messages wait to be sent.").wait_for()
    journey.tick(start)
    journey.tick(start + dt.timedelta(minutes=15))  # a repeated tick sends nothing new

    # then exactly the messaged buyers got the template with the coupon, once each
    sends = journey.meta.sends()[before:]
    assert [s.json["template"]["name"] for s in sends] == [TEMPLATE] * audience
    recipients = sorted(s.json["to"] for s in sends)
    assert len(set(recipients)) == audience
    for send in sends:
        (body,) = [c for c in send.json["template"]["components"] if c["type"] == "body"]
        assert body["parameters"][2] == {"type": "text", "text": COUPON}

    # when Meta reports the deliveries with their price, and one of them orders
    wamids = dict(journey.answers.wamids)
    by_digits = {digits(phone): phone for phone in GERMAN}
    for to in recipients:
        at = start + dt.timedelta(minutes=1)
        assert delivered_with_pricing(journey, by_digits[to], wamids[to], at) == 200
    buyer = by_digits[recipients[0]]
    order = order_by(buyer, 3, start + dt.timedelta(hours=2))
    shopify_says(journey, "orders/create", order)
    journey.tick(start + dt.timedelta(hours=3))

    # then the campaign page shows the sends, the order, its revenue and the control group
    page.goto(f"{journey.url}/app/campaigns/{campaign}")
    total = round(Decimal(order["current_total_price"]) * 100)
    assert {k: metric(page, k) for k in ("sent", "delivered", "orders", "pending")} == {
        "sent": str(audience),
        "delivered": str(audience),
        "orders": "1",
        "pending": "0",
    }
    money = format_currency(Decimal(total) / 100, order["currency"], locale="en_US")
    assert metric(page, "revenue") == money
    assert metric(page, "cost") == f"€{Decimal(cost_micros) / 1_000_000}"
    assert order["currency"] != "EUR"  # Shopify's example shop sells in dollars, Meta bills euros
    assert page.locator('[data-metric="revenue_per_cost"]').count() == 0
    page.get_by_text(
        "Revenue and cost are in different currencies, so they are not divided."
    ).wait_for()
    group = page.locator('tr[data-group="held_out"] td').first.text_content()
    assert group == str(held)
    assert page.locator("figure.chart svg").count() == 1
    page.screenshot(path=str(artifacts / "campaign-results.png"), full_page=True)

    # and the CSV the owner downloads says the same, per recipient
    with page.expect_download() as download:
        page.get_by_role("link", name="Download every recipient (CSV)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    lines = {line["phone"]: line for line in csv.DictReader(io.StringIO(text))}
    assert sorted(lines) == sorted(GERMAN)
    messaged = sorted(digits(p) for p, line in lines.items() if line["group"] == "messaged")
    assert messaged == recipients
    assert [line["reason"] for line in lines.values() if line["group"] == "held_out"] == [
        "holdout"
    ] * held
    assert sum(Decimal(line["cost"]) for line in lines.values() if line["group"] == "messaged") == (
        Decimal(cost_micros) / 1_000_000
    )
    assert {
        p: (line["orders"], line["revenue"]) for p, line in lines.items() if line["orders"] != "0"
    } == {buyer: ("1", f"{Decimal(total) / 100:.2f}")}
    assert lines[buyer]["revenue_currency"] == order["currency"]
    assert all(line["delivered_at"] for line in lines.values() if line["group"] == "messaged")
