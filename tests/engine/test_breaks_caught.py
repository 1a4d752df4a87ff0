"""Each engine rule driven through `shopnudge tick`, at ordinary values, so a break shows.

Every test here runs the real jobs (compose, dispatch, expiry, attribution) through the CLI with a
fixed clock and checks the rows they leave: the holdout at its default share, quiet hours for a
buyer in another zone than the shop, the cap against a message sent earlier, carts past their
age, a late tick, the next recommendation period, attribution only of touches before the order,
and a job lease held by another process.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import Cart, CartState, Conversion, Notification, NotificationState
from tests.engine.conftest import Shop, at, notifications, ready_shop, tick
from tests.factories import (
    make_cart,
    make_customer,
    make_notification,
    make_order,
    make_subscription,
)

ROOT = Path(__file__).resolve().parents[2]


def abandon(session: Session, shop: Shop, when: str, phone: str | None = None, **fields) -> int:  # type: ignore[no-untyped-def]
    cart = make_cart(
        session,
        shop.store,
        shop.products[:2],
        phone=phone or shop.subscription.phone,
        last_activity_at=at(when),
        **({"customer_id": shop.customer.id} | fields),
    )
    session.commit()
    return cart.id


def states(session: Session, shop: Shop) -> list[tuple[str, str, str | None, str | None]]:
    """(dedupe key, state, reason, sent_at) of every row of the shop, oldest first."""
    return [
        (n.dedupe_key, n.state, n.reason, n.sent_at.isoformat() if n.sent_at else None)
        for n in notifications(session, shop.store)
    ]


# --- the holdout at its default share ---------------------------------------------------------

#: Buyers in the holdout run: enough that 10 % is measurable (expected 60, sd ~7.3).
HOLDOUT_BUYERS = 600


def expected_held_out(store_id: int, phones: list[str], percent: float) -> set[str]:
    """The buyers a `percent` holdout must hold out: SHA-256 buckets, computed independently."""
    held = set()
    for phone in phones:
        digest = hashlib.sha256(f"{store_id}:cart_reminder:{phone}".encode()).digest()
        if int.from_bytes(digest[:8], "big") % 10_000 < percent * 100:
            held.add(phone)
    return held


def test_default_holdout_withholds_exactly_its_ten_percent_of_buyers(
    session: Session, runner: FlaskCliRunner
) -> None:
    # given a shop at the default holdout (10 %) and 600 buyers, each with an abandoned cart
    shop = ready_shop(session)
    settings = dict(shop.store.settings)
    settings.pop("holdout_percent")
    shop.store.settings = settings
    assert shop.store.setting("holdout_percent") == 10
    phones = [f"+49151{n:08d}" for n in range(HOLDOUT_BUYERS)]
    for phone in phones:
        make_subscription(session, shop.store, phone=phone)
        make_cart(
            session,
            shop.store,
            shop.products[:1],
            phone=phone,
            last_activity_at=at("2026-01-05T09:00:00Z"),
        )
    session.commit()
    # when the first reminders come due
    tick(runner, "2026-01-05T10:00:00Z")
    # then exactly the buyers in the bottom 10 % of buckets were held out, all others messaged
    rows = notifications(session, shop.store)
    held = {n.phone for n in rows if n.reason == "holdout"}
    messaged = {n.phone for n in rows if n.reason is None}
    expected = expected_held_out(shop.store.id, phones, 10)
    assert held == expected
    assert messaged == set(phones) - expected
    assert len(rows) == HOLDOUT_BUYERS
    assert {n.state for n in rows if n.phone in held} == {NotificationState.SKIPPED}
    assert {n.state for n in rows if n.phone in messaged} <= {"sent", "pending"}
    # and the share is 10 % within four standard deviations of a fair coin
    assert 31 <= len(held) <= 89, len(held)


# --- quiet hours in the buyer's zone ----------------------------------------------------------


@pytest.mark.parametrize(
    ("known_by", "phone"),
    [("address country", "+4915112349999"), ("phone number", "+12125550147")],
)
def test_quiet_hours_hold_a_reminder_until_nine_in_the_buyers_zone_not_the_shops(
    session: Session, runner: FlaskCliRunner, known_by: str, phone: str
) -> None:
    # given a Berlin shop and a buyer in New York (by address country, or by +1 number alone)
    shop = ready_shop(session)
    if known_by == "address country":
        buyer = make_customer(session, shop.store, phone=phone, country="US", timezone=None)
    else:
        buyer = make_customer(session, shop.store, phone=phone, country=None, timezone=None)
    make_subscription(session, shop.store, phone=phone, customer_id=buyer.id)
    # whose cart goes quiet at 09:00 UTC: +1 h is 11:00 in Berlin but 05:00 in New York
    cart_id = abandon(session, shop, "2026-01-05T09:00:00Z", phone=phone, customer_id=buyer.id)
    # when the clock ticks at the step's time and just before 09:00 in New York
    tick(runner, "2026-01-05T10:00:00Z")
    tick(runner, "2026-01-05T13:59:00Z")
    # then nothing went yet: the reminder waits for 09:00 New York time (14:00 UTC)
    (waiting,) = notifications(session, shop.store)
    assert (waiting.state, waiting.due_at.isoformat()) == ("pending", "2026-01-05T14:00:00+00:00")
    tick(runner, "2026-01-05T14:00:00Z")
    assert states(session, shop) == [
        (f"cart:{cart_id}:step:1", "sent", None, "2026-01-05T14:00:00+00:00")
    ]


# --- the frequency cap against an earlier send ------------------------------------------------


def test_send_time_cap_holds_a_reminder_composed_before_the_buyers_earlier_message_went(
    session: Session, runner: FlaskCliRunner, shop: Shop
) -> None:
    # given two carts of one buyer at dawn; both reminders are composed while nothing was sent
    first = abandon(session, shop, "2026-01-05T06:00:00Z")
    second = abandon(session, shop, "2026-01-05T06:30:00Z")
    tick(runner, "2026-01-05T07:00:00Z")
    tick(runner, "2026-01-05T07:30:00Z")
    assert [(n.state, n.due_at.isoformat()) for n in notifications(session, shop.store)] == [
        ("pending", "2026-01-05T08:00:00+00:00"),
        ("pending", "2026-01-05T08:00:00+00:00"),
    ]
    # when 09:00 Berlin comes, one goes; the other is looked at again right after it went
    tick(runner, "2026-01-05T08:00:00Z")
    tick(runner, "2026-01-05T08:30:00Z")
    # then the 1-per-24 h cap, counting the message that went at 08:00, holds the other a day
    rows = notifications(session, shop.store)
    assert {n.dedupe_key for n in rows} == {f"cart:{first}:step:1", f"cart:{second}:step:1"}
    assert sorted((n.state, n.sent_at, n.due_at) for n in rows) == [
        ("pending", None, at("2026-01-06T08:00:00Z")),
        ("sent", at("2026-01-05T08:00:00Z"), at("2026-01-05T08:00:00Z")),
    ]


# --- carts past their age ---------------------------------------------------------------------


def test_cart_past_its_age_expires_and_gets_no_later_step(
    session: Session, runner: FlaskCliRunner
) -> None:
    # given a shop whose carts expire after 48 h, with a second step at 72 h
    shop = ready_shop(
        session,
        cart_max_age_hours=48,
        reminder_steps=[
            {"delay_minutes": 60, "template": "cart_reminder_1"},
            {"delay_minutes": 72 * 60, "template": "cart_reminder_2"},
        ],
    )
    cart_id = abandon(session, shop, "2026-01-05T09:00:00Z")
    # when the first step goes, and the clock passes 48 h and then the second step's time
    tick(runner, "2026-01-05T10:00:00Z")
    tick(runner, "2026-01-07T08:59:00Z")
    session.expire_all()
    assert session.get(Cart, cart_id).state == CartState.ABANDONED
    tick(runner, "2026-01-07T09:00:00Z")
    tick(runner, "2026-01-08T09:00:00Z")
    # then the cart expired at 48 h and its second step was never composed
    session.expire_all()
    assert session.get(Cart, cart_id).state == CartState.EXPIRED
    assert states(session, shop) == [
        (f"cart:{cart_id}:step:1", "sent", None, "2026-01-05T10:00:00+00:00")
    ]


def test_reminder_waiting_past_the_carts_age_expires_unsent(
    session: Session, runner: FlaskCliRunner
) -> None:
    # given carts that expire after 2 h and a cart touched at 19:30 Berlin: +1 h is quiet
    shop = ready_shop(session, cart_max_age_hours=2)
    cart_id = abandon(session, shop, "2026-01-05T18:30:00Z")
    # when the step comes due at night and the clock reaches 09:00 Berlin
    tick(runner, "2026-01-05T19:30:00Z")
    tick(runner, "2026-01-06T08:00:00Z")
    # then the reminder never went: the cart was too old by morning
    ((key, state, reason, sent_at),) = states(session, shop)
    assert (key, state, sent_at) == (f"cart:{cart_id}:step:1", "expired", None)
    assert reason in ("quiet_hours", "cart_open")


# --- a late tick ------------------------------------------------------------------------------


def test_late_tick_sends_only_the_latest_due_step(
    session: Session, runner: FlaskCliRunner, shop: Shop
) -> None:
    # given a cart abandoned Monday 09:00 UTC and a scheduler that was down for a day
    cart_id = abandon(session, shop, "2026-01-05T09:00:00Z")
    # when the first tick in 25 hours runs (both steps are due by now)
    tick(runner, "2026-01-06T10:00:00Z")
    # then only the second step was composed and sent; the first never will be
    tick(runner, "2026-01-06T11:00:00Z")
    assert states(session, shop) == [
        (f"cart:{cart_id}:step:2", "sent", None, "2026-01-06T10:00:00+00:00")
    ]


# --- the next recommendation period -----------------------------------------------------------


def test_buyer_gets_one_recommendation_per_period_and_the_next_in_the_next_period(
    session: Session, runner: FlaskCliRunner
) -> None:
    # given five buyers who bought bean 0 with bean 1 in October
    shop = ready_shop(session, recommendation_delay_days=7, recommendation_period_days=30)
    beans = shop.products
    for n in range(5):
        other = make_customer(session, shop.store)
        make_order(session, shop.store, other, beans[:2], placed_at=at(f"2025-10-0{n + 1}T12:00Z"))
    # and our buyer, who bought bean 0 on 1 December and again on 20 December
    for day in ("2025-12-01", "2025-12-20"):
        make_order(session, shop.store, shop.customer, beans[:1], placed_at=at(f"{day}T12:00Z"))
    session.commit()
    # when the recommendation hour (10:00 Berlin) comes on days within one period and after it
    for day in ("2025-12-09", "2025-12-10", "2026-01-07", "2026-01-09", "2026-01-10"):
        tick(runner, f"{day}T09:00:00Z")
    # then one went on 9 December, none within its 30 days, the next on 9 January
    rows = notifications(session, shop.store)
    days = 86_400 * 30
    assert [(n.dedupe_key, n.state, n.sent_at, n.context["product_id"]) for n in rows] == [
        (
            f"rec:{shop.customer.id}:period:{int(at('2025-12-09T09:00Z').timestamp() // days)}",
            "sent",
            at("2025-12-09T09:00:00Z"),
            beans[1].id,
        ),
        (
            f"rec:{shop.customer.id}:period:{int(at('2026-01-09T09:00Z').timestamp() // days)}",
            "sent",
            at("2026-01-09T09:00:00Z"),
            beans[1].id,
        ),
    ]
    assert rows[0].dedupe_key != rows[1].dedupe_key


# --- attribution through the job --------------------------------------------------------------


def test_attribution_job_credits_the_order_to_the_last_touch_before_it_never_after(
    session: Session, runner: FlaskCliRunner, shop: Shop
) -> None:
    # given a reminder that went at 10:00 and was delivered at 10:01
    abandon(session, shop, "2026-01-05T09:00:00Z")
    tick(runner, "2026-01-05T10:00:00Z")
    (reminder,) = notifications(session, shop.store)
    reminder.delivered_at = at("2026-01-05T10:01:00Z")
    # and an order at 12:00, then a message to the same buyer delivered and clicked after it
    order = make_order(
        session, shop.store, shop.customer, shop.products[:2], placed_at=at("2026-01-05T12:00:00Z")
    )
    later = make_notification(
        session,
        shop.store,
        "later",
        phone=shop.subscription.phone,
        customer_id=shop.customer.id,
        state="sent",
        sent_at=at("2026-01-05T12:30:00Z"),
        delivered_at=at("2026-01-05T12:31:00Z"),
        clicked_at=at("2026-01-05T12:40:00Z"),
    )
    session.commit()
    # when the attribution job runs in the next tick
    tick(runner, "2026-01-05T13:00:00Z")
    # then the order is credited once, to the reminder delivered before it
    session.expire_all()
    conversions = session.scalars(select(Conversion)).all()
    assert [(c.order_id, c.notification_id, c.touch, c.revenue_minor) for c in conversions] == [
        (order.id, reminder.id, "delivered", order.total_minor)
    ]
    assert later.id != reminder.id


def test_attribution_job_credits_nothing_to_touches_only_after_the_order(
    session: Session, runner: FlaskCliRunner, shop: Shop
) -> None:
    # given an order at 12:00 and the buyer's only message delivered and clicked after it
    make_order(
        session, shop.store, shop.customer, shop.products[:1], placed_at=at("2026-01-05T12:00:00Z")
    )
    make_notification(
        session,
        shop.store,
        "after",
        phone=shop.subscription.phone,
        customer_id=shop.customer.id,
        state="sent",
        sent_at=at("2026-01-05T12:30:00Z"),
        delivered_at=at("2026-01-05T12:31:00Z"),
        clicked_at=at("2026-01-05T12:40:00Z"),
    )
    session.commit()
    # when the attribution job runs
    tick(runner, "2026-01-05T13:00:00Z")
    # then nothing was credited
    assert session.scalar(select(func.count()).select_from(Conversion)) == 0


# --- leases across processes ------------------------------------------------------------------

HOLD_LEASE = """
import sys
from plugin.db import Database
from plugin.leases import take_lease
database = Database(sys.argv[1])
print(take_lease(database, sys.argv[2], 600))
database.dispose()
"""


def test_tick_skips_a_job_whose_lease_another_process_holds(
    app: Flask, session: Session, runner: FlaskCliRunner, shop: Shop
) -> None:
    # given a cart due for its first reminder
    abandon(session, shop, "2026-01-05T09:00:00Z")
    # and another process (a worker elsewhere) that holds the compose_reminders lease
    url = app.config["SHOPNUDGE"].database_url
    other = subprocess.run(
        [sys.executable, "-c", HOLD_LEASE, url, "compose_reminders"],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        check=True,
    )
    assert other.stdout.strip() == "True"
    # when this process ticks at the reminder's time
    result = runner.invoke(args=["tick", "--now", "2026-01-05T10:00:00Z"])
    # then it skipped that job: nothing was composed, and it said so
    assert result.exit_code == 0, result.output
    assert "  compose_reminders: another process holds its lease; skipped\n" in result.output
    assert notifications(session, shop.store) == []
    # and the other jobs ran
    assert "  expire:" not in result.output
    assert "  dispatch:" not in result.output
    assert session.scalar(select(func.count()).select_from(Notification)) == 0
