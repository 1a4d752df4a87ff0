"""Properties of quiet hours (any zone, across DST changes) and of the frequency caps."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from plugin.db import Database
from plugin.engine import guards
from plugin.engine.localtime import buyer_zone, is_quiet, next_allowed
from tests.engine.conftest import cap_facts
from tests.factories import make_notification, make_store, make_subscription

ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",  # half-hour DST shift
    "Asia/Kolkata",
    "Pacific/Auckland",
    "America/Santiago",
    "UTC",
]
moments = st.datetimes(
    min_value=dt.datetime(2025, 1, 1),
    max_value=dt.datetime(2028, 12, 31),
    timezones=st.just(dt.UTC),
)
clocks = st.builds(dt.time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
quiet_days = st.sets(st.integers(1, 7), max_size=3)


@settings(max_examples=400, deadline=None)
@given(moments, st.sampled_from(ZONES), clocks, clocks, quiet_days)
def test_next_allowed_is_the_first_moment_outside_quiet_hours(
    now: dt.datetime, zone_name: str, start: dt.time, end: dt.time, days: set[int]
) -> None:
    zone = ZoneInfo(zone_name)
    allowed = next_allowed(now, zone, start, end, days)
    # it is exactly the first moment, from now on, that is not quiet (found by walking)
    assert allowed == first_moment_outside(now, zone, start, end, days)
    # and a message waits at most a few days
    assert allowed - now <= dt.timedelta(days=len(days) + 2)


QUARTER = dt.timedelta(minutes=15)


def first_moment_outside(
    now: dt.datetime, zone: ZoneInfo, start: dt.time, end: dt.time, days: set[int]
) -> dt.datetime:
    """The oracle: `now` if not quiet, else the first quarter hour (UTC) after it that is not.

    Quiet hours start and end on quarter hours, and every offset of ZONES (and each of their
    daylight-saving jumps) is a whole number of quarter hours, so quiet spells end on them.
    """

    def quiet(moment: dt.datetime) -> bool:
        return is_quiet(moment.astimezone(zone), start, end, days)

    if not quiet(now):
        return now
    moment = now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)
    moment += QUARTER
    while quiet(moment):
        moment += QUARTER
    return moment


def test_quiet_hours_follow_the_wall_clock_across_the_spring_change() -> None:
    # given 21:30 in Berlin on the evening before clocks go forward (29 March 2026)
    zone = ZoneInfo("Europe/Berlin")
    evening = dt.datetime(2026, 3, 28, 21, 30, tzinfo=zone)
    # when the message waits for the end of quiet hours
    allowed = next_allowed(evening, zone, dt.time(20), dt.time(9))
    # then it goes at 09:00 summer time, 07:00 UTC (not 08:00 UTC as in winter)
    assert allowed == dt.datetime(2026, 3, 29, 7, 0, tzinfo=dt.UTC)


def test_buyer_zone_prefers_customer_then_country_then_phone_then_shop() -> None:
    assert buyer_zone("Europe/Berlin", customer_zone="Asia/Tokyo", customer_country="US").key == (
        "Asia/Tokyo"
    )
    assert buyer_zone("Europe/Berlin", customer_country="GB", phone="+4915112345678").key == (
        "Europe/London"
    )
    assert buyer_zone("Europe/Berlin", phone="+12125550123").key == "America/New_York"
    assert buyer_zone("Europe/Berlin", phone="+999").key == "Europe/Berlin"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offsets=st.lists(st.integers(1, 10 * 24 * 60), max_size=8, unique=True),
    cap_day=st.integers(1, 3),
    cap_week=st.integers(1, 5),
)
def test_frequency_cap_waits_until_both_windows_have_room(
    database: Database, offsets: list[int], cap_day: int, cap_week: int
) -> None:
    with database.sessionmaker() as session:  # a fresh, never committed session per example
        check_cap(session, offsets, cap_day, cap_week)


DAY, WEEK = dt.timedelta(hours=24), dt.timedelta(days=7)


def check_cap(session: Session, offsets: list[int], cap_day: int, cap_week: int) -> None:
    # given a buyer who got messages at these minutes before now
    now = dt.datetime(2026, 2, 10, 12, 0, tzinfo=dt.UTC)
    store = make_store(session, settings={"cap_per_24h": cap_day, "cap_per_7d": cap_week})
    phone = "+4915199990000"
    sent = [now - dt.timedelta(minutes=m) for m in offsets]
    for n, moment in enumerate(sent):
        make_notification(session, store, f"cap:{n}", phone=phone, state="sent", sent_at=moment)
    # when the cap guard is asked
    outcome = guards.frequency_cap(cap_facts(session, store, phone, now), now)

    def room_at(moment: dt.datetime) -> bool:
        day = sum(moment - DAY < s <= moment for s in sent)
        week = sum(moment - WEEK < s <= moment for s in sent)
        return day < cap_day and week < cap_week

    # then it passes exactly when both windows have room, else names the first moment with room:
    # room only ever comes back when an earlier message leaves a window (24 h or 7 days after it)
    leaving = sorted(s + window for s in sent for window in (DAY, WEEK) if s + window > now)
    expected = (
        guards.PASS if room_at(now) else guards.wait_until(next(m for m in leaving if room_at(m)))
    )
    assert outcome == expected


def test_held_buyer_waits_out_metas_per_user_cap(session: Session) -> None:
    # given a buyer Meta held (131049) until tomorrow noon
    now = dt.datetime(2026, 2, 10, 12, 0, tzinfo=dt.UTC)
    store = make_store(session)
    subscription = make_subscription(
        session, store, phone="+4915100000001", held_until=now + dt.timedelta(hours=24)
    )
    facts = cap_facts(session, store, subscription.phone, now)
    facts.subscription = subscription
    # then the subscription guard asks to wait until the hold ends
    assert guards.subscription_sendable(facts, now) == guards.wait_until(
        now + dt.timedelta(hours=24)
    )
    subscription.state = "opted_out"
    assert guards.subscription_sendable(facts, now) is guards.VETO
