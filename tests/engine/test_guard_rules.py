"""The guards at ordinary values, through compose: whose clock quiet hours follow, quiet weekdays,
a cap of zero, and which earlier sends a cap counts.

Compose is where every flow's message first meets the guards; the row it writes says what they
decided (state, reason, due time). The last tests ask the frequency cap directly, as a caller
that did not preload the buyer's sends does: the cap then reads them from the outbox itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.orm import Session

from plugin.engine import guards
from plugin.engine.outbox import Draft, compose
from plugin.models import Flow, NotificationState, Store, Subscription
from tests.engine.conftest import Shop, at, notifications, ready_shop
from tests.factories import make_notification, make_store, make_subscription

#: A Monday, 10:00 UTC: 11:00 in Berlin (allowed), 05:00 in New York (quiet until 09:00).
MONDAY = at("2026-01-05T10:00:00Z")
NEW_YORK_NINE = at("2026-01-05T14:00:00Z")


def draft_for(subscription: Subscription, **fields: Any) -> Draft:
    values: dict[str, Any] = {
        "dedupe_key": f"rec:{subscription.phone}",
        "flow": "recommendation",
        "purpose": "recommendation",
        "subscription": subscription,
        "due_at": MONDAY,
        "expires_at": None,
        "body": ["Erika"],
    }
    values.update(fields)
    return Draft(**values)


def composed(session: Session, shop: Shop, draft: Draft) -> tuple[str, str | None, dt.datetime]:
    """(state, reason, due_at) of the one row compose wrote for the draft."""
    compose(session, shop.store, [draft], MONDAY)
    (row,) = [n for n in notifications(session, shop.store) if n.dedupe_key == draft.dedupe_key]
    return row.state, row.reason, row.due_at


# --- quiet hours: whose clock -----------------------------------------------------------------


def test_quiet_hours_follow_the_customers_own_zone_before_their_country_and_number(
    session: Session,
) -> None:
    # given a Berlin shop and a customer in Germany, with a German number, who lives in New York
    shop = ready_shop(session)
    shop.customer.timezone = "America/New_York"
    session.commit()
    # when a message for them is composed at 11:00 Berlin time (05:00 in New York)
    outcome = composed(session, shop, draft_for(shop.subscription, customer=shop.customer))
    # then it waits for 09:00 in New York, not Berlin's
    assert outcome == (NotificationState.PENDING, None, NEW_YORK_NINE)


def test_a_buyer_placed_by_nothing_gets_quiet_hours_in_the_shops_zone(session: Session) -> None:
    # given a New York shop and a buyer known only by a number no country owns
    shop = ready_shop(session)
    shop.store.timezone = "America/New_York"
    stranger = make_subscription(session, shop.store, phone="+99912345678")
    session.commit()
    # when a message for them is composed at 05:00 New York time
    outcome = composed(session, shop, draft_for(stranger))
    # then it waits for 09:00 in the shop's zone (not UTC's 09:00, which has passed)
    assert outcome == (NotificationState.PENDING, None, NEW_YORK_NINE)


def test_a_quiet_weekday_holds_the_message_until_quiet_hours_end_the_next_morning(
    session: Session,
) -> None:
    # given a shop that sends nothing on Mondays
    shop = ready_shop(session, quiet_days=[1])
    # when a message is composed on a Monday at 11:00 Berlin time, outside quiet hours
    outcome = composed(session, shop, draft_for(shop.subscription, customer=shop.customer))
    # then it waits for Tuesday 09:00 Berlin time (08:00 UTC)
    assert outcome == (NotificationState.PENDING, None, at("2026-01-06T08:00:00Z"))


def test_without_quiet_weekdays_a_monday_message_goes_at_once(session: Session) -> None:
    shop = ready_shop(session)
    outcome = composed(session, shop, draft_for(shop.subscription, customer=shop.customer))
    assert outcome == (NotificationState.PENDING, None, MONDAY)


# --- frequency caps ---------------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["cap_per_24h", "cap_per_7d"])
def test_a_cap_of_zero_vetoes_every_marketing_message(session: Session, setting: str) -> None:
    # given a shop that allows no marketing in one of the windows, and a buyer never messaged
    shop = ready_shop(session, **{setting: 0})
    # when a message is composed
    outcome = composed(session, shop, draft_for(shop.subscription, customer=shop.customer))
    # then it is skipped by the cap, not held for later
    assert outcome == (NotificationState.SKIPPED, "frequency_cap", MONDAY)


def test_a_full_day_holds_the_message_even_when_the_week_frees_up_sooner(
    session: Session,
) -> None:
    # given a cap of one a day and two a week; a message an hour ago and one six and a half
    # days ago (the week frees up in 12 hours, the day only in 23)
    store = make_store(session, settings={"cap_per_24h": 1, "cap_per_7d": 2})
    phone = "+4915100000001"
    for n, hours in enumerate((1, 156)):
        sent_at = MONDAY - dt.timedelta(hours=hours)
        make_notification(session, store, f"sent:{n}", phone=phone, state="sent", sent_at=sent_at)
    # when the cap is asked now
    outcome = guards.frequency_cap(session, cap_facts(store, phone), MONDAY)
    # then the message waits for the later of the two: when the day has room
    assert outcome == MONDAY + dt.timedelta(hours=23)


def cap_facts(store: Store, phone: str) -> guards.Facts:
    """Facts without preloaded sends: the cap reads them from the outbox."""
    return guards.Facts(
        store=store, phone=phone, flow="recommendation", purpose="recommendation", subscription=None
    )


def test_the_cap_counts_only_this_shops_marketing_sent_or_in_flight_to_this_buyer(
    session: Session,
) -> None:
    # given a cap of one a day, and a buyer with many rows that are not a marketing send of
    # this shop before now: another shop's, another buyer's, failed, the opt-in confirmation,
    # and one claimed only a minute from now
    store, elsewhere = make_store(session, settings={"cap_per_24h": 1}), make_store(session)
    erika, other = "+4915100000001", "+4915100000002"
    hour = dt.timedelta(hours=1)
    not_counted: list[tuple[Store, str, str, dict[str, Any]]] = [
        (elsewhere, erika, NotificationState.SENT, {"sent_at": MONDAY - hour}),
        (store, other, NotificationState.SENT, {"sent_at": MONDAY - hour}),
        (store, erika, NotificationState.FAILED, {"sent_at": MONDAY - hour}),
        (store, erika, NotificationState.PENDING, {"claimed_at": MONDAY - hour}),
        (
            store,
            erika,
            NotificationState.SENT,
            {"sent_at": MONDAY - hour, "flow": Flow.OPTIN_CONFIRMATION},
        ),
        (store, erika, NotificationState.SENDING, {"claimed_at": MONDAY + dt.timedelta(minutes=1)}),
    ]
    for n, (shop, phone, state, fields) in enumerate(not_counted):
        make_notification(session, shop, f"other:{n}", phone=phone, state=state, **fields)
    # when the cap is asked now
    # then the buyer has room
    assert guards.frequency_cap(session, cap_facts(store, erika), MONDAY) is True
    # and a message of this shop in flight to the buyer (claimed, not yet answered) fills the day
    make_notification(
        session, store, "in-flight", phone=erika, state="sending", claimed_at=MONDAY - 2 * hour
    )
    assert guards.frequency_cap(session, cap_facts(store, erika), MONDAY) == (
        MONDAY + dt.timedelta(hours=22)
    )


def test_a_row_looking_at_its_own_send_does_not_count_itself(session: Session) -> None:
    # given a buyer's one row, claimed for sending an hour ago, under a cap of one a day
    store = make_store(session, settings={"cap_per_24h": 1})
    phone = "+4915100000001"
    row = make_notification(
        session,
        store,
        "mine",
        phone=phone,
        state="sending",
        claimed_at=MONDAY - dt.timedelta(hours=1),
    )
    facts = cap_facts(store, phone)
    # when the cap is asked for that same row
    facts.notification_id = row.id
    # then it has room; for any other row the day is full
    assert guards.frequency_cap(session, facts, MONDAY) is True
    facts.notification_id = row.id + 1
    assert guards.frequency_cap(session, facts, MONDAY) == MONDAY + dt.timedelta(hours=23)
