"""Pricing at its edges: which row and currency a price comes from, what a status webhook's
pricing block means, and which messages count in the month's spend."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from plugin.models import NotificationState, Store
from plugin.whatsapp.pricing import (
    budget_allows,
    charged_cost,
    expected_cost,
    expected_cost_micros,
    forecast_micros,
    month_spend_micros,
)
from tests.factories import make_notification, make_store

NOW = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)
#: The last day service messages were free.
BEFORE = dt.datetime(2026, 9, 30, 21, 59, tzinfo=dt.UTC)
GERMAN = "+4915112345678"
AUSTRIAN = "+436641234567"
#: An owner's own row for Austria, with a different figure per category.
OVERRIDES = {"rate_card_overrides": {"AT": {"marketing": 7, "utility": 5, "authentication": 3}}}


def test_an_owners_row_wins_over_the_shops_currency_row_and_is_priced_in_eur() -> None:
    usd = Store(currency="USD", settings=OVERRIDES)
    assert expected_cost(usd, AUSTRIAN) == (7, "EUR")
    assert expected_cost(usd, AUSTRIAN, "utility") == (5, "EUR")
    assert expected_cost(usd, AUSTRIAN, "AUTHENTICATION") == (3, "EUR")
    # without the owner's row, the verified USD row in dollars, per category
    plain = Store(currency="USD", settings={})
    assert expected_cost(plain, AUSTRIAN) == (59_200, "USD")
    assert expected_cost(plain, AUSTRIAN, "utility") == (17_100, "USD")
    assert expected_cost(plain, AUSTRIAN, "authentication") == (17_100, "USD")


def test_a_currency_without_a_card_and_a_number_without_a_country_use_the_eur_default_row() -> None:
    assert expected_cost(Store(currency="GBP", settings={}), AUSTRIAN) == (113_100, "EUR")
    assert expected_cost(Store(currency="EUR", settings=OVERRIDES), None) == (113_100, "EUR")
    assert expected_cost_micros(Store(currency="EUR", settings=OVERRIDES), None, "utility") == (
        45_600
    )


def test_forecast_prices_each_recipient_by_country_and_category() -> None:
    store = Store(currency="EUR", settings=OVERRIDES)
    assert forecast_micros(store, [AUSTRIAN, AUSTRIAN, GERMAN]) == 7 + 7 + 113_100
    assert forecast_micros(store, [AUSTRIAN, GERMAN], "utility") == 5 + 45_600


def test_charged_cost_reads_type_billable_and_category() -> None:
    store = Store(currency="EUR", settings=OVERRIDES)
    # a free type costs nothing even when "billable" is missing (service: until 2026-10-01)
    assert charged_cost(store, AUSTRIAN, {"type": "free_customer_service"}, BEFORE) == (0, "EUR")
    assert charged_cost(store, AUSTRIAN, {"type": "free_entry_point", "billable": True}) == (
        0,
        "EUR",
    )
    # a regular message Meta marked not billable costs nothing
    assert charged_cost(store, AUSTRIAN, {"type": "regular", "billable": False}) == (0, "EUR")
    # a billable one costs the category's price for the recipient's country
    assert charged_cost(store, AUSTRIAN, {"billable": True}) == (7, "EUR")
    assert charged_cost(store, AUSTRIAN, {"category": "UTILITY"}) == (5, "EUR")
    assert charged_cost(store, AUSTRIAN, {"category": "authentication"}) == (3, "EUR")
    # Meta's finer categories fold into ours: marketing_lite is marketing, service utility
    assert charged_cost(store, AUSTRIAN, {"category": "marketing_lite"}) == (7, "EUR")
    assert charged_cost(store, AUSTRIAN, {"category": "service"}) == (5, "EUR")
    assert charged_cost(store, GERMAN, {"category": "marketing"}) == (113_100, "EUR")


def test_the_months_spend_is_this_shops_sending_and_sent_messages_only(session: Session) -> None:
    store, other = make_store(session), make_store(session)
    counted = {
        "sent": (NotificationState.SENT, NOW - dt.timedelta(days=1), 100),
        "sending": (NotificationState.SENDING, None, 20),
    }
    ignored = {
        "failed": (NotificationState.FAILED, NOW - dt.timedelta(days=1), 1_000),
        "skipped": (NotificationState.SKIPPED, None, 10_000),
        "pending": (NotificationState.PENDING, None, 100_000),
    }
    for key, (state, sent_at, cost) in (counted | ignored).items():
        make_notification(session, store, key, state=state, sent_at=sent_at, cost_micros=cost)
    make_notification(
        session, other, "other", state=NotificationState.SENT, sent_at=NOW, cost_micros=5_000
    )
    assert month_spend_micros(session, store, NOW) == 120
    assert month_spend_micros(session, make_store(session), NOW) == 0


def test_spend_exactly_at_the_budget_is_still_within_it(session: Session) -> None:
    store = make_store(session, settings={"monthly_budget_minor": 1})  # 10,000 micros
    make_notification(
        session, store, "a", state=NotificationState.SENT, sent_at=NOW, cost_micros=10_000
    )
    assert budget_allows(session, store, NOW) is True
    assert budget_allows(session, store, NOW, 1) is False
