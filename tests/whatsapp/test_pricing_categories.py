"""Meta's pricing categories and the change of 2026-10-01: service messages and utility templates
inside the customer service window are billed at the utility rate from that day; the ledger
(what a status webhook says was charged) and the forecast follow. The rate card is data with
its date and source."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.models import NotificationState, Store
from plugin.whatsapp import rate_cards
from plugin.whatsapp.pricing import (
    RATE_CARD_DATE,
    charged_cost,
    expected_cost,
    expected_cost_micros,
    forecast_micros,
    price_of,
)
from plugin.whatsapp.rate_cards import SERVICE_BILLING_FROM, Rate
from tests.factories import make_notification
from tests.whatsapp.conftest import for_shop, load, post_webhook

GERMAN = "+4915112345678"
#: The last moment service messages were free, and the first they were billed (UTC).
BEFORE = dt.datetime(2026, 9, 30, 23, 59, tzinfo=dt.UTC)
AFTER = dt.datetime(2026, 10, 1, 0, 0, tzinfo=dt.UTC)
EUR = Store(currency="EUR", settings={})
UTILITY, MARKETING, AUTHENTICATION = 45_600, 113_100, 45_600


def test_every_rate_card_is_data_with_its_date_and_source() -> None:
    assert [(c.currency, c.effective.isoformat()) for c in rate_cards.CARDS] == [
        ("EUR", "2025-07-01"),
        ("USD", "2025-07-01"),
    ]
    for card in rate_cards.CARDS:
        assert card.source.startswith("https://developers.facebook.com/"), card.currency
    assert rate_cards.EUR_2025_07.effective == RATE_CARD_DATE
    assert SERVICE_BILLING_FROM.isoformat() == "2026-10-01"
    assert rate_cards.SERVICE_BILLING_SOURCE.startswith("https://developers.facebook.com/")


@pytest.mark.parametrize(
    ("category", "before", "after"),
    [
        ("marketing", MARKETING, MARKETING),
        ("marketing_lite", MARKETING, MARKETING),
        ("utility", UTILITY, UTILITY),
        ("authentication", AUTHENTICATION, AUTHENTICATION),
        ("authentication_international", AUTHENTICATION, AUTHENTICATION),
        ("service", 0, UTILITY),
        ("referral_conversion", 0, 0),
    ],
)
def test_each_pricing_category_costs_its_rate_before_and_after_2026_10_01(
    category: str, before: int, after: int
) -> None:
    assert expected_cost_micros(EUR, GERMAN, category, BEFORE) == before
    assert expected_cost_micros(EUR, GERMAN, category, AFTER) == after
    assert expected_cost(EUR, GERMAN, category, AFTER) == (after, "EUR")


def test_a_market_with_an_international_authentication_rate_uses_it() -> None:
    rate = Rate(marketing=10, utility=5, authentication=3, authentication_international=40)
    assert price_of(rate, "authentication_international", AFTER) == 40
    assert price_of(rate, "authentication", AFTER) == 3
    assert price_of(Rate(10, 5, 3), "authentication_international", AFTER) == 3


def test_the_ledger_bills_in_window_utility_and_service_from_2026_10_01() -> None:
    in_window = {"pricing_model": "PMP", "category": "utility", "type": "free_customer_service"}
    service = {"pricing_model": "PMP", "category": "service", "type": "regular"}
    entry = {"pricing_model": "PMP", "category": "referral_conversion", "type": "free_entry_point"}
    assert charged_cost(EUR, GERMAN, in_window, BEFORE) == (0, "EUR")
    assert charged_cost(EUR, GERMAN, in_window, AFTER) == (UTILITY, "EUR")
    assert charged_cost(EUR, GERMAN, service, BEFORE) == (0, "EUR")
    assert charged_cost(EUR, GERMAN, service, AFTER) == (UTILITY, "EUR")
    # a free entry point stays free, and Meta's own "not billable" is never charged
    assert charged_cost(EUR, GERMAN, entry, AFTER) == (0, "EUR")
    assert charged_cost(EUR, GERMAN, {**in_window, "billable": False}, AFTER) == (0, "EUR")
    assert charged_cost(EUR, GERMAN, {**service, "billable": False}, AFTER) == (0, "EUR")


def test_the_forecast_of_service_messages_follows_the_change() -> None:
    recipients = [GERMAN, GERMAN, None]
    assert forecast_micros(EUR, recipients, "service", BEFORE) == 0
    assert forecast_micros(EUR, recipients, "service", AFTER) == 3 * UTILITY
    assert forecast_micros(EUR, recipients, "marketing", AFTER) == 3 * MARKETING


@pytest.mark.parametrize(("timestamp", "cost"), [("1790812740", 0), ("1790812800", UTILITY)])
def test_a_documented_in_window_status_is_priced_by_the_day_it_was_delivered(
    session: Session, shop: Store, client: FlaskClient, timestamp: str, cost: int
) -> None:
    # given an opt-in confirmation sent (a utility template inside the buyer's window)
    row = make_notification(
        session,
        shop,
        "optin:1",
        flow="optin_confirmation",
        phone=GERMAN,
        state=NotificationState.SENT,
        provider_message_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJGRkUyOUMwNDZDMjM5MTNFMQA",
    )
    session.commit()
    # when Meta's documented delivered status (free_customer_service, without "billable": Meta
    # bills it from 2026-10-01) arrives for a moment before or after the change
    payload = load("meta_documented.json", "status_delivered_pmp_free_customer_service")
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    del status["pricing"]["billable"]
    status.update(timestamp=timestamp, recipient_id=GERMAN.removeprefix("+"))
    assert post_webhook(client, for_shop(payload)).status_code == 200
    # then the ledger records what that day's rule charges
    session.expire_all()
    session.refresh(row)
    assert (row.cost_micros, row.cost_currency, row.pricing_category) == (cost, "EUR", "utility")
