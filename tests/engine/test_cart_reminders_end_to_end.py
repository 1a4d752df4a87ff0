"""Orders, products and an abandoned cart in; `tick` at chosen times; exactly the right sends.

Runs on the suite's database (SQLite, or PostgreSQL with SHOPNUDGE_TEST_DATABASE_URL) through the
dry-run channel: every send leaves the row `sent` with its wamid, so the rows are the record.
"""

from __future__ import annotations

from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from connectors.base import LineRecord, OrderRecord
from plugin.consent import ledger
from plugin.models import CartState, NotificationState
from plugin.sync.orders import upsert_orders
from tests.engine.conftest import Shop, at, notifications, ready_shop, tick
from tests.factories import make_cart


def sent(session: Session, shop: Shop) -> list[tuple[str, str]]:
    return [
        (n.dedupe_key, n.sent_at.isoformat())
        for n in notifications(session, shop.store)
        if n.state == NotificationState.SENT
    ]


def abandon(session: Session, shop: Shop, when: str) -> int:
    cart = make_cart(
        session,
        shop.store,
        shop.products[:2],
        phone=shop.subscription.phone,
        customer_id=shop.customer.id,
        last_activity_at=at(when),
    )
    session.commit()
    return cart.id


def test_first_reminder_one_hour_after_the_cart_and_second_a_day_after_the_first(
    session: Session, runner: FlaskCliRunner, shop: Shop
) -> None:
    # given a cart last touched Monday 10:00 in Berlin (09:00 UTC)
    cart_id = abandon(session, shop, "2026-01-05T10:00:00+01:00")
    # when the clock ticks just before and at +1 h, twice
    tick(runner, "2026-01-05T09:59:00Z")
    assert notifications(session, shop.store) == []
    tick(runner, "2026-01-05T10:00:00Z")
    tick(runner, "2026-01-05T10:00:00Z")
    # then exactly one reminder went at +1 h
    assert sent(session, shop) == [(f"cart:{cart_id}:step:1", "2026-01-05T10:00:00+00:00")]
    # when the second step comes due at +24 h, the 1-per-24 h cap holds it to 24 h after the first
    tick(runner, "2026-01-06T09:00:00Z")
    second = notifications(session, shop.store)[1]
    assert (second.state, second.due_at.isoformat()) == ("pending", "2026-01-06T10:00:00+00:00")
    tick(runner, "2026-01-06T10:00:00Z")
    tick(runner, "2026-01-07T10:00:00Z")
    assert sent(session, shop) == [
        (f"cart:{cart_id}:step:1", "2026-01-05T10:00:00+00:00"),
        (f"cart:{cart_id}:step:2", "2026-01-06T10:00:00+00:00"),
    ]
    first = notifications(session, shop.store)[0]
    assert first.provider_message_id.startswith("wamid.dryrun.")
    assert first.template_name == "shopnudge_cart_reminder_1"
    assert first.parameters["buttons"][0]["parameters"][0]["text"] == first.link_token


def test_cart_abandoned_at_2130_local_is_reminded_at_0900_and_again_a_day_later(
    session: Session, runner: FlaskCliRunner, shop: Shop
) -> None:
    # given a cart abandoned Monday 21:30 Berlin time: +1 h falls in quiet hours (20:00-09:00)
    cart_id = abandon(session, shop, "2026-01-05T21:30:00+01:00")
    # when the clock ticks through the night
    for when in ("2026-01-05T21:30:00Z", "2026-01-06T03:00:00Z", "2026-01-06T07:59:00Z"):
        tick(runner, when)
    # then nothing went at night; the reminder waits for 09:00 local
    (waiting,) = notifications(session, shop.store)
    assert (waiting.state, waiting.due_at.isoformat()) == ("pending", "2026-01-06T08:00:00+00:00")
    tick(runner, "2026-01-06T08:00:00Z")
    # and the second step (due 21:30 Tuesday) also waits for 09:00, exactly 24 h after the first
    tick(runner, "2026-01-06T20:30:00Z")
    tick(runner, "2026-01-07T07:00:00Z")
    tick(runner, "2026-01-07T08:00:00Z")
    assert sent(session, shop) == [
        (f"cart:{cart_id}:step:1", "2026-01-06T08:00:00+00:00"),
        (f"cart:{cart_id}:step:2", "2026-01-07T08:00:00+00:00"),
    ]


def test_no_reminder_after_the_order_arrives(
    session: Session, runner: FlaskCliRunner, shop: Shop
) -> None:
    # given the first reminder went
    cart_id = abandon(session, shop, "2026-01-05T10:00:00+01:00")
    tick(runner, "2026-01-05T10:00:00Z")
    # when the buyer's order arrives through the sync path
    placed = at("2026-01-05T15:00:00Z")
    upsert_orders(
        session,
        shop.store,
        [
            OrderRecord(
                platform_id="order-1",
                placed_at=placed,
                updated_at=placed,
                total_minor=3980,
                currency="EUR",
                customer_id=shop.customer.platform_id,
                lines=(LineRecord("Bohne 0", 1, 1990, product_id=shop.products[0].platform_id),),
            )
        ],
    )
    session.commit()
    for when in ("2026-01-06T09:00:00Z", "2026-01-06T10:00:00Z", "2026-01-07T10:00:00Z"):
        tick(runner, when)
    # then nothing more was composed or sent
    assert [n.dedupe_key for n in notifications(session, shop.store)] == [f"cart:{cart_id}:step:1"]
    assert len(sent(session, shop)) == 1
    session.expire_all()
    from plugin.models import Cart

    assert session.get(Cart, cart_id).state == CartState.RECOVERED


def test_pending_reminder_is_skipped_when_an_order_lands_before_it_goes(
    session: Session, runner: FlaskCliRunner, shop: Shop
) -> None:
    # given a reminder composed at 21:30 that waits for the morning
    abandon(session, shop, "2026-01-05T21:30:00+01:00")
    tick(runner, "2026-01-05T21:30:00Z")
    # when the buyer orders at night on another device (no checkout token, same customer)
    from tests.factories import make_order

    make_order(
        session, shop.store, shop.customer, shop.products[:1], placed_at=at("2026-01-06T01:00:00Z")
    )
    session.commit()
    tick(runner, "2026-01-06T08:00:00Z")
    # then the guard ends it before sending
    (reminder,) = notifications(session, shop.store)
    assert (reminder.state, reminder.reason, reminder.sent_at) == ("skipped", "cart_open", None)


def test_no_reminder_after_stop(session: Session, runner: FlaskCliRunner, shop: Shop) -> None:
    # given a reminder waiting for the morning
    abandon(session, shop, "2026-01-05T21:30:00+01:00")
    tick(runner, "2026-01-05T21:30:00Z")
    # when the buyer replies STOP
    ledger.opt_out(session, shop.store, shop.subscription.phone, source="whatsapp_reply")
    session.commit()
    for when in ("2026-01-06T08:00:00Z", "2026-01-06T21:00:00Z", "2026-01-07T08:00:00Z"):
        tick(runner, when)
    # then nothing is sent and no further step is composed
    (reminder,) = notifications(session, shop.store)
    assert (reminder.state, reminder.reason, reminder.sent_at) == (
        "skipped",
        "subscription_sendable",
        None,
    )


def test_nothing_to_the_holdout(session: Session, runner: FlaskCliRunner) -> None:
    # given a shop that holds every buyer out
    shop = ready_shop(session, holdout_percent=100)
    abandon(session, shop, "2026-01-05T10:00:00+01:00")
    # when both steps come due
    for when in ("2026-01-05T10:00:00Z", "2026-01-06T10:00:00Z", "2026-01-06T11:00:00Z"):
        tick(runner, when)
    # then both are recorded as holdout and none is sent
    rows = notifications(session, shop.store)
    assert [(n.state, n.reason, n.sent_at) for n in rows] == [
        ("skipped", "holdout", None),
        ("skipped", "holdout", None),
    ]


def test_paused_shop_sends_nothing(session: Session, runner: FlaskCliRunner, shop: Shop) -> None:
    # given a reminder waiting for the morning
    abandon(session, shop, "2026-01-05T21:30:00+01:00")
    tick(runner, "2026-01-05T21:30:00Z")
    # when the owner pauses the shop
    shop.store.status = "paused"
    session.commit()
    tick(runner, "2026-01-06T08:00:00Z")
    # then the guard ends the row and nothing new is composed
    assert [(n.state, n.reason) for n in notifications(session, shop.store)] == [
        ("skipped", "store_active")
    ]
