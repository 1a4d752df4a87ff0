"""Dashboard numbers, their uncertainty and the charts drawn from them."""

from __future__ import annotations

import datetime as dt
import re

from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from plugin.charts import Series, line_chart, nice_ceiling
from plugin.dashboard import (
    HISTORY_DAYS,
    build_dashboard,
    forecast_next_30_days,
    incremental_recovery,
    week_starts,
)
from plugin.models import Conversion
from plugin.stats import rate_difference, wilson
from plugin.whatsapp.pricing import forecast_micros
from tests.factories import make_cart, make_customer, make_notification, make_order, make_store
from tests.owner import sign_in

NOW = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)


def test_wilson_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Table I: 81/263 -> 0.2553 to 0.3662.
    interval = wilson(81, 263)
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.2553, 0.3662)


def test_rate_difference_matches_newcombes_example() -> None:
    # Newcombe (1998) method 10, example (a): 56/70 - 48/80 -> 0.0524 to 0.3339.
    interval = rate_difference(56, 70, 48, 80)
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.0524, 0.3339)


@given(
    st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(1, 500).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
)
def test_rate_difference_always_contains_its_estimate_and_stays_in_bounds(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    interval = rate_difference(a[0], a[1], b[0], b[1])
    assert interval is not None
    assert interval.estimate == a[0] / a[1] - b[0] / b[1]
    assert -1.0 <= interval.low <= interval.estimate <= interval.high <= 1.0


def test_a_group_without_trials_has_no_rate_difference() -> None:
    assert rate_difference(0, 0, 5, 10) is None
    assert rate_difference(5, 10, 0, 0) is None


def test_no_trials_means_no_rate_rather_than_zero() -> None:
    assert wilson(0, 0) is None


def test_weeks_end_today_so_the_last_point_is_a_whole_week() -> None:
    weeks = week_starts(NOW)
    assert len(weeks) == HISTORY_DAYS // 7
    assert weeks[-1] == dt.date(2026, 11, 18)
    assert weeks[0] == dt.date(2026, 8, 26)


def test_nice_ceiling_rounds_up_to_a_readable_axis() -> None:
    assert [nice_ceiling(v) for v in (0, 3, 87, 101, 2400)] == [1.0, 5, 100, 200, 2500]


def test_line_chart_scales_points_and_describes_itself() -> None:
    weeks = [dt.date(2026, 11, 4), dt.date(2026, 11, 11), dt.date(2026, 11, 18)]
    svg = str(line_chart("Sent <per> week", weeks, [Series("Sent", [0, 50, 100])]))
    points = re.search(r'points="([^"]+)"', svg).group(1).split()
    assert points == ["56.0,184.0", "340.0,100.0", "624.0,16.0"]
    assert "<title" in svg and "Sent &lt;per&gt; week" in svg
    assert "Sent: 100 in the last week" in svg


def _cart_with_reminder(session: Session, store, n: int, holdout: bool, recovered: bool) -> None:
    customer = make_customer(session, store)
    state = "recovered" if recovered else "expired"
    cart = make_cart(session, store, [], customer_id=customer.id, state=state, total_minor=5000)
    fields = (
        {"state": "skipped", "reason": "holdout"}
        if holdout
        else {"state": "sent", "sent_at": NOW - dt.timedelta(days=3), "cost_micros": 113100}
    )
    notification = make_notification(session, store, f"cart:{n}", cart_id=cart.id, **fields)
    if recovered and not holdout:
        order = make_order(session, store, customer, [], total_minor=5000)
        session.add(
            Conversion(
                store_id=store.id,
                order_id=order.id,
                notification_id=notification.id,
                touch="delivered",
                revenue_minor=order.total_minor,
                currency="EUR",
                attributed_at=NOW - dt.timedelta(days=2),
            )
        )


def test_incremental_recovery_compares_reminded_carts_with_the_holdout(session: Session) -> None:
    store = make_store(session)
    other = make_store(session)
    n = 0
    for holdout, recovered, count in (
        (False, True, 30),
        (False, False, 70),
        (True, True, 2),
        (True, False, 18),
    ):
        for _ in range(count):
            n += 1
            _cart_with_reminder(session, store, n, holdout, recovered)
    _cart_with_reminder(session, other, 999, False, True)

    result = incremental_recovery(session, store)

    assert (result.treated, result.treated_recovered) == (100, 30)
    assert (result.holdout, result.holdout_recovered) == (20, 2)
    assert round(result.difference.estimate, 3) == 0.2
    assert result.difference.low < 0.2 < result.difference.high
    assert round(result.extra_carts.estimate) == 20


def test_too_small_a_holdout_gives_no_incremental_estimate(session: Session) -> None:
    store = make_store(session)
    for n in range(5):
        _cart_with_reminder(session, store, n, holdout=True, recovered=False)
    _cart_with_reminder(session, store, 99, holdout=False, recovered=True)

    result = incremental_recovery(session, store)

    assert (result.holdout, result.difference, result.extra_carts) == (5, None, None)


def test_dashboard_counts_only_its_own_shop(session: Session) -> None:
    store = make_store(session)
    other = make_store(session)
    make_notification(
        session,
        store,
        "a",
        state="sent",
        delivery_status="read",
        sent_at=NOW - dt.timedelta(days=1),
    )
    make_notification(
        session,
        store,
        "b",
        state="sent",
        delivery_status="delivered",
        sent_at=NOW - dt.timedelta(days=9),
    )
    make_notification(session, store, "c", state="failed")
    make_notification(session, other, "x", state="sent", sent_at=NOW - dt.timedelta(days=1))

    board = build_dashboard(session, store, NOW)

    assert (board.messages["sent"], board.messages["delivered"], board.messages["read"]) == (
        2,
        2,
        1,
    )
    assert board.messages["failed"] == 1
    assert board.messages_by_week["sent"][-2:] == [1, 1]
    assert sum(board.messages_by_week["sent"]) == 2


def test_empty_sections_say_so_instead_of_showing_zeros(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)

    html = client.get("/app/").get_data(as_text=True)

    assert "No messages yet." in html
    assert "No opt-ins yet." in html
    assert "No conversions yet." in html
    assert "Too few carts in the holdout to measure yet." in html
    assert 'data-metric="sent"' not in html


def test_forecast_prices_each_message_of_the_last_30_days_and_the_waiting_ones(
    session: Session,
) -> None:
    store = make_store(session)
    phones = ["+4915112345678", "+4915112345679", "+447700900123", "+33612345678"]
    for n, phone in enumerate(phones):
        make_notification(
            session, store, f"s{n}", phone=phone, state="sent", sent_at=NOW - dt.timedelta(days=3)
        )
    make_notification(
        session, store, "old", phone=phones[0], state="sent", sent_at=NOW - dt.timedelta(days=40)
    )
    make_notification(session, store, "wait", phone=phones[2], state="pending")
    make_notification(session, store, "skip", phone=phones[3], state="skipped")

    forecast = forecast_next_30_days(session, store, NOW)

    assert forecast == forecast_micros(store, [*phones, phones[2]])
    assert forecast > 0
