"""The monthly budget driven through `shopnudge tick`: it counts what was sent this month and what
is still in flight, and a month starts at midnight in the shop's own time zone (README: "once the
month's spend (in the shop's time zone) reaches the budget, and marketing stops")."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskCliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from plugin.models import NotificationState, Store
from plugin.whatsapp.pricing import month_start
from tests.engine.conftest import Shop, at, notifications, ready_shop, tick
from tests.factories import make_cart, make_notification

#: EUR 0.30: two German marketing messages (2 x 0.1131) fit, a third does not.
BUDGET_MINOR = 30
GERMAN_MARKETING = 113_100


def earlier_message(session: Session, shop: Shop, n: int, **fields: object) -> None:
    """A marketing message of the shop to another buyer (so no per-buyer cap is involved)."""
    make_notification(
        session,
        shop.store,
        f"earlier:{n}",
        phone=f"+49151990000{n:02d}",
        flow="recommendation",
        cost_micros=GERMAN_MARKETING,
        **fields,
    )


def remind(session: Session, shop: Shop, runner: FlaskCliRunner) -> tuple[str, str | None]:
    """The buyer abandons a cart on 2 February; the ticks until its reminder is due run."""
    make_cart(
        session,
        shop.store,
        shop.products[:2],
        phone=shop.subscription.phone,
        customer_id=shop.customer.id,
        last_activity_at=at("2026-02-02T08:00:00Z"),
    )
    session.commit()
    tick(runner, "2026-02-02T09:00:00Z")
    tick(runner, "2026-02-02T09:30:00Z")
    (reminder,) = [n for n in notifications(session, shop.store) if n.flow == "cart_reminder"]
    return reminder.state, reminder.reason


@pytest.mark.parametrize(
    ("other_state", "expected"),
    [
        (NotificationState.SENDING, ("skipped", "monthly_budget")),  # in flight: counts
        (NotificationState.FAILED, ("sent", None)),  # ended unsent: costs nothing
    ],
)
def test_a_message_still_in_flight_counts_against_the_budget(
    session: Session, runner: FlaskCliRunner, other_state: str, expected: tuple[str, str | None]
) -> None:
    # given a EUR 0.30 budget, one message sent this month and one another worker is sending
    shop = ready_shop(session, monthly_budget_minor=BUDGET_MINOR)
    earlier_message(
        session, shop, 1, state=NotificationState.SENT, sent_at=at("2026-02-01T10:00:00Z")
    )
    earlier_message(session, shop, 2, state=other_state, claimed_at=at("2026-02-02T08:59:00Z"))
    session.commit()
    # when the buyer's reminder comes due
    outcome = remind(session, shop, runner)
    # then it is held back only while the other message is in flight (0.3393 > 0.30)
    assert outcome == expected


@pytest.mark.parametrize(
    ("zone", "sent_at", "expected"),
    [
        # 23:00 UTC on 31 January is midnight, 1 February, in Berlin: this month's spend
        ("Europe/Berlin", "2026-01-31T23:00:00Z", ("skipped", "monthly_budget")),
        ("Europe/Berlin", "2026-01-31T22:59:59Z", ("sent", None)),
        # 04:59:59 UTC on 1 February is still 31 January in New York: last month's spend
        ("America/New_York", "2026-02-01T04:59:59Z", ("sent", None)),
        ("America/New_York", "2026-02-01T05:00:00Z", ("skipped", "monthly_budget")),
    ],
)
def test_the_month_starts_at_midnight_in_the_shops_zone(
    session: Session,
    runner: FlaskCliRunner,
    zone: str,
    sent_at: str,
    expected: tuple[str, str | None],
) -> None:
    # given a EUR 0.30 budget and two messages sent around the turn of the month
    shop = ready_shop(session, monthly_budget_minor=BUDGET_MINOR)
    shop.store.timezone = zone
    for n in range(2):
        earlier_message(session, shop, n, state=NotificationState.SENT, sent_at=at(sent_at))
    session.commit()
    # when the buyer's reminder comes due on 2 February
    outcome = remind(session, shop, runner)
    # then the two count only when they were sent in the shop's February
    assert outcome == expected


ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Auckland", "UTC"]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.datetimes(
        min_value=dt.datetime(2025, 1, 1),
        max_value=dt.datetime(2028, 12, 31),
        timezones=st.just(dt.UTC),
    ),
    st.sampled_from(ZONES),
    st.integers(0, 40 * 24 * 3600),
)
def test_a_moment_is_in_this_month_exactly_when_its_local_month_is_this_one(
    now: dt.datetime, zone: str, seconds_before: int
) -> None:
    store = Store(timezone=zone)
    start = month_start(store, now)
    local_now = now.astimezone(ZoneInfo(zone))
    # the start is midnight of the first, local time, and in UTC
    assert start.tzinfo == dt.UTC
    local_start = start.astimezone(ZoneInfo(zone))
    assert (local_start.year, local_start.month) == (local_now.year, local_now.month)
    assert (local_start.day, local_start.time()) == (1, dt.time(0, 0))
    # and any earlier moment is on or after it exactly when it falls in the same local month
    moment = now - dt.timedelta(seconds=seconds_before)
    local = moment.astimezone(ZoneInfo(zone))
    assert (moment >= start) == ((local.year, local.month) == (local_now.year, local_now.month))
