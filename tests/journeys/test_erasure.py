"""Shopify asks us to erase a buyer (`customers/redact`): afterwards no table and no log line
holds the buyer's phone number (in any format), e-mail address, name or IP address."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from plugin.db import Base, get_database
from tests.fakes.shopify import FakeShopify
from tests.journeys.conftest import SHOP_DOMAIN
from tests.journeys.harness import Journey, Storefront, eventually, journey_start, shopify_example
from tests.journeys.shopify_world import (
    checkout_payload,
    confirmed_buyer,
    open_shop,
    order_payload,
    shopify_says,
)

PHONE = "+4915198765432"
EMAIL = "Juergen.Weiss@Example.de"
FIRST, LAST = "Jürgen", "Weiß"
BUYER_IP = "203.0.113.77"
CUSTOMER_ID = 7712345678901
#: Every way the buyer's data may have been written: number formats, escapes, cases.
TRACES = (
    "4915198765432",
    "015198765432",
    "0151 98765432",
    "151 98765432",
    "juergen.weiss@example.de",
    "jürgen",
    "j\\u00fcrgen",
    "weiß",
    "wei\\u00df",
    BUYER_IP,
)


@pytest.fixture
def app_overrides(app_overrides: dict[str, Any]) -> dict[str, Any]:
    """Behind one reverse proxy, so the buyer's own address is what consent records."""
    return {**app_overrides, "trusted_proxies": 1}


def as_buyer(payload: dict[str, Any]) -> dict[str, Any]:
    """A documented payload, with the buyer's own contact details wherever a person's stand."""
    for person in (payload, payload.get("customer"), payload.get("billing_address"),
                   payload.get("shipping_address"),
                   (payload.get("customer") or {}).get("default_address")):  # fmt: skip
        if isinstance(person, dict):
            for field, value in (("email", EMAIL), ("phone", PHONE), ("first_name", FIRST),
                                 ("last_name", LAST), ("name", f"{FIRST} {LAST}")):  # fmt: skip
                if field in person and not (field == "name" and person is payload):
                    person[field] = value
    if isinstance(payload.get("customer"), dict):
        payload["customer"]["id"] = CUSTOMER_ID
    return payload


def traces_in_tables(app: Flask) -> list[str]:
    """table.column: trace, for every trace of the buyer left in any row of any table."""
    found = []
    with get_database(app).engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    text = str(value).lower() if value is not None else ""
                    bare = re.sub(r"[^0-9]", "", text)
                    for trace in TRACES:
                        if trace.lower() in text or (trace.isdigit() and trace in bare):
                            found.append(f"{table.name}.{column}: {trace}")
    return found


def test_customers_redact_leaves_no_trace_in_any_table_or_log(
    app: Flask,
    journey: Journey,
    shopify: FakeShopify,
    storefront: tuple[Storefront, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    start = journey_start()
    key = open_shop(journey, shopify, storefront)
    journey.http.headers["X-Forwarded-For"] = BUYER_IP
    confirmed_buyer(journey, key, PHONE, storefront[1], start)
    del journey.http.headers["X-Forwarded-For"]
    assert journey.subscription(key, PHONE)["events"][0]["ip"] == BUYER_IP

    # the buyer has a customer record, a checkout, a reminder, an order
    customer = as_buyer(shopify_example("customers/create"))
    customer.update(id=CUSTOMER_ID, locale="de")
    shopify_says(journey, "customers/create", customer)
    shopify_says(journey, "checkouts/create", as_buyer(checkout_payload(start)))
    # (Shopify's example customer lives in Ottawa: the reminder waits for daytime there)
    journey.tick(start + dt.timedelta(hours=6))
    assert journey.sends()[-1][1] == "shopnudge_cart_reminder_1"
    shopify_says(journey, "orders/create", as_buyer(order_payload(start + dt.timedelta(hours=7))))
    journey.tick(start + dt.timedelta(hours=8))
    assert traces_in_tables(app) != []  # the journey did leave the buyer's data to erase

    # when Shopify asks for the buyer's erasure
    redact = shopify_example("customers/redact")
    redact.update(shop_domain=SHOP_DOMAIN)
    redact["customer"].update(id=CUSTOMER_ID, email=EMAIL, phone=PHONE)
    redact["orders_to_redact"] = [6123456789012]
    shopify_says(journey, "customers/redact", redact)
    journey.tick(start + dt.timedelta(hours=9))

    # then nothing of the buyer is left in any table, and no log line ever carried it
    assert eventually(lambda: traces_in_tables(app) == []), traces_in_tables(app)
    logged = [
        record.getMessage()
        for record in caplog.records
        if record.name != "werkzeug"  # the test's own HTTP server's access log, not ShopNudge's
        and any(trace.lower() in record.getMessage().lower() for trace in TRACES)
    ]
    assert logged == []
    # and the erased buyer is not messaged again
    journey.tick(start + dt.timedelta(days=20))
    assert journey.sends()[-1][1] == "shopnudge_cart_reminder_1"
