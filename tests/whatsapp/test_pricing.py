"""Costs: the rate card, what Meta charged, monthly spend and the budget cap."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from plugin.models import NotificationState, Store
from plugin.whatsapp.pricing import (
    RATE_CARD_DATE,
    UNVERIFIED_MARKETS,
    budget_allows,
    charged_cost,
    expected_cost,
    expected_cost_micros,
    forecast_micros,
    month_spend_micros,
)
from tests.factories import make_notification, make_store

NOW = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)
GERMAN = "+4915112345678"
AUSTRIAN = "+436641234567"


def test_rate_card_has_a_date_and_prices_germany_from_metas_card() -> None:
    store = Store(currency="EUR", settings={})
    assert RATE_CARD_DATE.isoformat() == "2025-07-01"
    assert expected_cost_micros(store, GERMAN, "marketing") == 113_100
    assert expected_cost_micros(store, GERMAN, "utility") == 45_600
    # an unverified market falls back to the "*" row, never to free
    assert "AT" in UNVERIFIED_MARKETS
    assert expected_cost_micros(store, AUSTRIAN, "marketing") == 113_100


def test_usd_shop_gets_the_usd_row_where_one_is_verified() -> None:
    store = Store(currency="USD", settings={})
    assert expected_cost(store, AUSTRIAN, "marketing") == (59_200, "USD")
    assert expected_cost(store, GERMAN, "marketing") == (113_100, "EUR")


def test_owner_override_replaces_a_country_row() -> None:
    store = Store(
        currency="EUR",
        settings={
            "rate_card_overrides": {"at": {"marketing": 98_000, "utility": 1, "authentication": 2}}
        },
    )
    assert expected_cost_micros(store, AUSTRIAN, "marketing") == 98_000
    assert expected_cost(store, AUSTRIAN, "utility") == (1, "EUR")


def test_charged_cost_follows_the_pricing_type() -> None:
    store = Store(currency="EUR", settings={})
    regular = {"billable": True, "pricing_model": "PMP", "category": "marketing", "type": "regular"}
    service = {
        "billable": False,
        "pricing_model": "PMP",
        "category": "utility",
        "type": "free_customer_service",
    }
    entry = {
        "billable": False,
        "pricing_model": "PMP",
        "category": "marketing",
        "type": "free_entry_point",
    }
    assert charged_cost(store, GERMAN, regular) == (113_100, "EUR")
    assert charged_cost(store, GERMAN, service) == (0, "EUR")
    assert charged_cost(store, GERMAN, entry) == (0, "EUR")


@given(st.lists(st.sampled_from([GERMAN, AUSTRIAN, "+33612345678", None]), max_size=30))
def test_forecast_is_the_sum_of_each_recipients_price(recipients: list[str | None]) -> None:
    store = Store(currency="EUR", settings={})
    total = forecast_micros(store, recipients)  # type: ignore[arg-type]
    assert total == sum(expected_cost_micros(store, phone) for phone in recipients)
    assert total == 113_100 * len(recipients)


def test_budget_cap_stops_marketing_once_spend_reaches_it(session: Session) -> None:
    # given a EUR 0.30 monthly budget and two delivered marketing messages (EUR 0.2262)
    store = make_store(session, settings={"monthly_budget_minor": 30})
    for n in range(2):
        make_notification(
            session,
            store,
            f"cart:{n}:1",
            state=NotificationState.SENT,
            sent_at=NOW - dt.timedelta(days=1),
            cost_micros=113_100,
        )
    assert month_spend_micros(session, store, NOW) == 226_200
    one_more = expected_cost_micros(store, GERMAN)

    # then a third message no longer fits (0.3393 > 0.30) ...
    assert budget_allows(session, store, NOW) is True
    assert budget_allows(session, store, NOW, one_more) is False

    # ... and once spend reaches the budget nothing more is allowed
    make_notification(
        session, store, "cart:9:1", state=NotificationState.SENT, sent_at=NOW, cost_micros=73_800
    )
    assert month_spend_micros(session, store, NOW) == 300_000
    assert budget_allows(session, store, NOW, 1) is False


def test_last_months_spend_does_not_count(session: Session) -> None:
    store = make_store(session, settings={"monthly_budget_minor": 10})
    make_notification(
        session,
        store,
        "cart:1:1",
        state=NotificationState.SENT,
        sent_at=dt.datetime(2026, 10, 31, 12, tzinfo=dt.UTC),
        cost_micros=113_100,
    )
    assert month_spend_micros(session, store, NOW) == 0
    assert budget_allows(session, store, NOW, 100_000) is True


def test_no_budget_means_no_cap(session: Session) -> None:
    store = make_store(session)
    assert budget_allows(session, store, NOW, 10**12) is True


def test_marketing_hold_reason_names_what_stops_marketing(session: Session) -> None:
    from plugin.models import WhatsAppAccount
    from plugin.whatsapp.accounts import QUALITY_PAUSE, marketing_hold_reason

    store = make_store(session, settings={"monthly_budget_minor": 20})
    assert marketing_hold_reason(session, store, NOW) == "no WhatsApp number connected"
    account = WhatsAppAccount(store_id=store.id, phone_number_id="p1", waba_id="w1", token="t")
    session.add(account)
    session.flush()
    assert marketing_hold_reason(session, store, NOW, 113_100) is None
    assert marketing_hold_reason(session, store, NOW, 200_001) == "monthly budget reached"
    account.marketing_paused_reason = QUALITY_PAUSE
    assert marketing_hold_reason(session, store, NOW) == f"marketing paused: {QUALITY_PAUSE}"
    store.status, store.paused_reason = "paused", "whatsapp 190: Access token has expired"
    assert marketing_hold_reason(session, store, NOW) == (
        "shop is paused: whatsapp 190: Access token has expired"
    )
