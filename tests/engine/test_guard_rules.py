"""The guards at ordinary values, through compose: whose clock quiet hours follow, quiet weekdays,
a cap of zero, and which earlier sends a cap counts.

Compose is where every flow's message first meets the guards; the row it writes says what they
decided (state, reason, due time). The cap tests ask the frequency cap directly, with the
buyer's sends as the guards' loader finds them in the outbox.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from plugin.db import Database
from plugin.engine import guards
from plugin.engine.dispatch import dispatch_due
from plugin.engine.outbox import Draft, compose
from plugin.models import Flow, Notification, NotificationState, Store, Subscription
from tests.engine.conftest import NOW, Shop, at, cap_facts, notifications, ready_shop
from tests.factories import (
    make_cart,
    make_notification,
    make_order,
    make_store,
    make_subscription,
    make_template,
)

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
    outcome = guards.frequency_cap(cap_facts(session, store, phone, MONDAY), MONDAY)
    # then the message waits for the later of the two: when the day has room
    assert outcome == guards.wait_until(MONDAY + dt.timedelta(hours=23))


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
    assert guards.frequency_cap(cap_facts(session, store, erika, MONDAY), MONDAY) is guards.PASS
    # and a message of this shop in flight to the buyer (claimed, not yet answered) fills the day
    make_notification(
        session, store, "in-flight", phone=erika, state="sending", claimed_at=MONDAY - 2 * hour
    )
    assert guards.frequency_cap(cap_facts(session, store, erika, MONDAY), MONDAY) == (
        guards.wait_until(MONDAY + dt.timedelta(hours=22))
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
    # when the cap is asked for that same row
    mine = cap_facts(session, store, phone, MONDAY, row_id=row.id)
    # then it has room; for any other row the day is full
    assert guards.frequency_cap(mine, MONDAY) is guards.PASS
    other = cap_facts(session, store, phone, MONDAY, row_id=row.id + 1)
    assert guards.frequency_cap(other, MONDAY) == guards.wait_until(MONDAY + dt.timedelta(hours=23))


# --- the double opt-in's confirmation, through dispatch ---------------------------------------

CONFIRMATION = "shopnudge_optin_confirmation"
HOUR = dt.timedelta(hours=1)


def pending_buyer(session: Session, shop: Shop, phone: str, **fields: Any) -> Subscription:
    """A buyer who ticked the box and waits for the confirmation (7 days, the default)."""
    values: dict[str, Any] = {"state": "pending", "pending_expires_at": NOW + dt.timedelta(days=7)}
    values.update(fields)
    return make_subscription(session, shop.store, phone=phone, **values)


def confirmation_row(
    session: Session, store: Store, subscription: Subscription, key: str, **fields: Any
) -> Notification:
    values: dict[str, Any] = {
        "flow": Flow.OPTIN_CONFIRMATION,
        "subscription_id": subscription.id,
        "phone": subscription.phone,
        "template_name": CONFIRMATION,
        "context": {"purpose": "optin_confirmation"},
        "due_at": NOW - dt.timedelta(minutes=1),
    }
    values.update(fields)
    return make_notification(session, store, key, **values)


def confirmation_shop(session: Session, status: str = "APPROVED") -> Shop:
    shop = ready_shop(session)
    make_template(session, shop.store, "optin_confirmation", category="UTILITY", status=status)
    session.commit()
    return shop


def dispatched(
    app: Flask, session: Session, database: Database, row: Notification
) -> tuple[Any, ...]:
    """(state, reason, due_at) of the row after one dispatch run at NOW."""
    session.commit()
    dispatch_due(database, app.config["SHOPNUDGE"], NOW)
    session.expire_all()
    fresh = session.get(Notification, row.id)
    assert fresh is not None
    return fresh.state, fresh.reason, fresh.due_at


def test_the_confirmation_goes_to_a_buyer_still_waiting_for_it(
    app: Flask, session: Session, database: Database
) -> None:
    shop = confirmation_shop(session)
    buyer = pending_buyer(session, shop, "+4915100000021")
    row = confirmation_row(session, shop.store, buyer, "optin:1")
    assert dispatched(app, session, database, row) == ("sent", None, NOW - dt.timedelta(minutes=1))


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"pending_expires_at": NOW}, id="the opt-in lapsed this very moment"),
        pytest.param({"undeliverable": True}, id="the number cannot receive messages"),
        pytest.param({"state": "confirmed"}, id="already confirmed"),
    ],
)
def test_no_confirmation_to_a_buyer_not_waiting_for_one(
    app: Flask, session: Session, database: Database, fields: dict[str, Any]
) -> None:
    shop = confirmation_shop(session)
    buyer = pending_buyer(session, shop, "+4915100000022", **fields)
    row = confirmation_row(session, shop.store, buyer, "optin:1")
    outcome = dispatched(app, session, database, row)
    assert outcome == ("skipped", "confirmation_pending", NOW - dt.timedelta(minutes=1))


def test_an_opt_in_without_an_expiry_still_gets_its_confirmation(
    app: Flask, session: Session, database: Database
) -> None:
    shop = confirmation_shop(session)
    buyer = pending_buyer(session, shop, "+4915100000023", pending_expires_at=None)
    row = confirmation_row(session, shop.store, buyer, "optin:1")
    assert dispatched(app, session, database, row)[:2] == ("sent", None)


@pytest.mark.parametrize(
    ("earlier", "outcome"),
    [
        pytest.param({"state": "sent", "sent_at": NOW - HOUR}, "skipped", id="sent an hour ago"),
        pytest.param(
            {"state": "sending", "claimed_at": NOW - HOUR},
            "skipped",
            id="in flight under an older claim",
        ),
        pytest.param(
            {"state": "sent", "sent_at": NOW - dt.timedelta(days=7)},
            "sent",
            id="sent in an earlier pending period",
        ),
        pytest.param({"state": "failed", "sent_at": NOW - HOUR}, "sent", id="failed"),
        pytest.param(
            {"state": "sent", "sent_at": NOW - HOUR, "flow": "recommendation"},
            "sent",
            id="marketing, not a confirmation",
        ),
    ],
)
def test_a_second_confirmation_waits_only_on_one_sent_or_in_flight_in_this_pending_period(
    app: Flask, session: Session, database: Database, earlier: dict[str, Any], outcome: str
) -> None:
    # given a buyer's earlier message, and a new confirmation request of theirs
    shop = confirmation_shop(session)
    buyer = pending_buyer(session, shop, "+4915100000024")
    confirmation_row(session, shop.store, buyer, "optin:1", **{"due_at": NOW - HOUR, **earlier})
    row = confirmation_row(session, shop.store, buyer, "optin:2")
    # when dispatch runs, the new one is sent or held as the first confirmation's twin
    state, reason, _ = dispatched(app, session, database, row)
    expected = (outcome, "first_confirmation" if outcome == "skipped" else None)
    assert (state, reason) == expected


def test_another_buyers_confirmation_does_not_hold_this_one(
    app: Flask, session: Session, database: Database
) -> None:
    shop = confirmation_shop(session)
    first = pending_buyer(session, shop, "+4915100000025")
    second = pending_buyer(session, shop, "+4915100000026")
    confirmation_row(session, shop.store, first, "optin:1", state="sent", sent_at=NOW - HOUR)
    row = confirmation_row(session, shop.store, second, "optin:2")
    assert dispatched(app, session, database, row)[:2] == ("sent", None)


def test_a_younger_confirmation_in_flight_does_not_hold_the_older_one(
    app: Flask, session: Session, database: Database
) -> None:
    # given a buyer's confirmation claimed by another worker, and an older twin still due
    shop = confirmation_shop(session)
    buyer = pending_buyer(session, shop, "+4915100000027")
    row = confirmation_row(session, shop.store, buyer, "optin:1")
    confirmation_row(session, shop.store, buyer, "optin:2", state="sending", claimed_at=NOW)
    # when this worker dispatches: the older one goes (the younger yields in its own worker)
    assert dispatched(app, session, database, row)[:2] == ("sent", None)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        pytest.param(
            "PENDING", ("pending", None, NOW + dt.timedelta(minutes=15)), id="in Meta's review"
        ),
        pytest.param(
            "REJECTED",
            ("skipped", "confirmation_template", NOW - dt.timedelta(minutes=1)),
            id="rejected",
        ),
    ],
)
def test_a_confirmation_looks_again_in_a_quarter_hour_while_its_template_is_reviewed(
    app: Flask, session: Session, database: Database, status: str, outcome: tuple[Any, ...]
) -> None:
    shop = confirmation_shop(session, status=status)
    buyer = pending_buyer(session, shop, "+4915100000028")
    row = confirmation_row(session, shop.store, buyer, "optin:1")
    assert dispatched(app, session, database, row) == outcome


def test_a_confirmation_without_its_template_is_held(
    app: Flask, session: Session, database: Database
) -> None:
    shop = confirmation_shop(session)
    buyer = pending_buyer(session, shop, "+4915100000029")
    row = confirmation_row(session, shop.store, buyer, "optin:1", template_name="no_such")
    outcome = dispatched(app, session, database, row)
    assert outcome == ("skipped", "confirmation_template", NOW - dt.timedelta(minutes=1))


# --- the monthly budget at its edge -----------------------------------------------------------

#: EUR 1.00 a month; a German marketing message costs EUR 0.1131.
BUDGET_MINOR = 100
GERMAN_MARKETING = 113_100


def spent_this_month(session: Session, shop: Shop, micros: int, when: dt.datetime) -> None:
    """An earlier message of the shop, to another buyer, that cost `micros`."""
    make_notification(
        session,
        shop.store,
        "earlier",
        phone="+4915199000001",
        flow="recommendation",
        state="sent",
        sent_at=when,
        cost_micros=micros,
    )
    session.commit()


@pytest.mark.parametrize(
    ("spent", "outcome"),
    [
        pytest.param(
            1_000_000 - GERMAN_MARKETING, ("pending", None), id="the message fills the budget"
        ),
        pytest.param(
            1_000_000 - GERMAN_MARKETING + 50,
            ("skipped", "monthly_budget"),
            id="the message would overrun it by 50 micros",
        ),
    ],
)
def test_compose_counts_the_new_messages_own_cost_against_the_budget(
    session: Session, spent: int, outcome: tuple[str, str | None]
) -> None:
    # given a shop with EUR 1.00 a month that spent `spent` micros this month
    shop = ready_shop(session, monthly_budget_minor=BUDGET_MINOR)
    spent_this_month(session, shop, spent, MONDAY - dt.timedelta(hours=2))
    # when a German marketing message is composed
    state, reason, _ = composed(session, shop, draft_for(shop.subscription, customer=shop.customer))
    # then it fits exactly up to the budget, and not a micro beyond
    assert (state, reason) == outcome


def test_dispatch_counts_a_claimed_message_once_so_it_may_fill_the_budget_exactly(
    app: Flask, session: Session, database: Database
) -> None:
    # given a shop with EUR 1.00 a month, of which all but one message's cost is spent
    shop = ready_shop(session, monthly_budget_minor=BUDGET_MINOR)
    spent_this_month(session, shop, 1_000_000 - GERMAN_MARKETING, NOW - dt.timedelta(days=1))
    row = make_notification(
        session,
        shop.store,
        "due",
        phone=shop.subscription.phone,
        flow="recommendation",
        template_name="shopnudge_recommendation",
        context={"purpose": "recommendation"},
        due_at=NOW - dt.timedelta(minutes=1),
        cost_micros=GERMAN_MARKETING,
    )
    # when dispatch claims it (its cost is then in the month's spend) and sends
    # then it goes: its own cost is not counted twice
    assert dispatched(app, session, database, row) == ("sent", None, NOW - dt.timedelta(minutes=1))


# --- the cart: still unbought, young enough ---------------------------------------------------


def reminder_outcome(
    session: Session, shop: Shop, cart_fields: dict[str, Any], *orders: dict[str, Any]
) -> tuple[str, str | None]:
    """(state, reason) of the first reminder composed for a cart left an hour before MONDAY,
    after these orders were placed (each: the order's fields)."""
    fields: dict[str, Any] = {"last_activity_at": MONDAY - HOUR, "customer_id": shop.customer.id}
    fields.update(cart_fields)
    cart = make_cart(
        session, shop.store, shop.products[:1], phone=shop.subscription.phone, **fields
    )
    for n, order in enumerate(orders):
        values: dict[str, Any] = {"placed_at": MONDAY - dt.timedelta(minutes=30)}
        values.update(order)
        make_order(session, shop.store, None, shop.products[1:2], platform_id=f"o{n}", **values)
    session.commit()
    draft = draft_for(
        shop.subscription,
        dedupe_key=f"cart:{cart.id}:step:1",
        flow="cart_reminder",
        purpose="cart_reminder_1",
        customer=shop.customer,
        cart=cart,
    )
    state, reason, _ = composed(session, shop, draft)
    return state, reason


@pytest.mark.parametrize(
    ("hours", "outcome"),
    [
        pytest.param(71, ("pending", None), id="an hour short of the limit"),
        pytest.param(72, ("skipped", "cart_open"), id="exactly at the limit"),
    ],
)
def test_a_cart_left_open_past_its_age_gets_no_reminder(
    session: Session, hours: int, outcome: tuple[str, str | None]
) -> None:
    # given a cart still marked abandoned, last touched `hours` ago (the limit is 72 h)
    shop = ready_shop(session)
    cart = {"last_activity_at": MONDAY - dt.timedelta(hours=hours)}
    # then its reminder is composed only while the cart is younger than the limit
    assert reminder_outcome(session, shop, cart) == outcome


def test_an_order_by_the_buyers_number_alone_ends_the_reminders(session: Session) -> None:
    # given a cart known only by its number, and an order since from that number, no customer
    shop = ready_shop(session)
    order = {"phone": shop.subscription.phone}
    assert reminder_outcome(session, shop, {"customer_id": None}, order) == ("skipped", "cart_open")


def test_an_order_by_the_carts_customer_under_another_number_ends_the_reminders(
    session: Session,
) -> None:
    shop = ready_shop(session)
    order = {"customer_id": shop.customer.id, "phone": "+4930123456"}
    assert reminder_outcome(session, shop, {}, order) == ("skipped", "cart_open")


def test_another_buyers_order_does_not_end_the_reminders(session: Session) -> None:
    shop = ready_shop(session)
    order = {"phone": "+4915199887766"}
    assert reminder_outcome(session, shop, {"customer_id": None}, order) == ("pending", None)


@pytest.mark.parametrize("status", ["failed", "Cancelled", "checkout-draft"])
def test_an_order_that_is_no_purchase_does_not_end_the_reminders(
    session: Session, status: str
) -> None:
    # given an order of the buyer since the cart, which the platform says is no purchase
    shop = ready_shop(session)
    order = {"phone": shop.subscription.phone, "status": status}
    # then the reminder is still composed
    assert reminder_outcome(session, shop, {}, order) == ("pending", None)


def test_an_order_with_a_platform_status_of_purchase_ends_the_reminders(session: Session) -> None:
    shop = ready_shop(session)
    order = {"phone": shop.subscription.phone, "status": "processing"}
    assert reminder_outcome(session, shop, {}, order) == ("skipped", "cart_open")


def test_guard_names_are_the_reasons_rows_already_keep() -> None:
    # given the guards of marketing and of the opt-in confirmation
    names = [guard.name for guard in (*guards.GUARDS, *guards.CONFIRMATION_GUARDS)]
    # then their names are the stored reasons of every row written so far, in guard order
    assert names == [
        "store_active",
        "subscription_sendable",
        "cart_open",
        "phone_quality",
        "template_approved",
        "monthly_budget",
        "frequency_cap",
        "quiet_hours",
        "store_active",
        "confirmation_pending",
        "first_confirmation",
        "phone_quality",
        "confirmation_template",
    ]
