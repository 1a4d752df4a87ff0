"""The guards' loader: what it finds for many buyers at once, and that compose asks the database
the same few questions for one cart reminder as for twenty (no guard queries per buyer)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from plugin.engine.outbox import Draft, compose
from plugin.engine.preload import preload
from plugin.models import Cart, Flow, Subscription
from tests.engine.conftest import Shop, ready_shop
from tests.factories import make_cart, make_notification, make_order, make_subscription

NOW = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)  # a Monday, 11:00 in Berlin
HOUR = dt.timedelta(hours=1)


def abandoned_cart(session: Session, shop: Shop, phone: str, **fields: Any) -> Cart:
    values: dict[str, Any] = {"last_activity_at": NOW - 2 * HOUR}
    values.update(fields)
    return make_cart(session, shop.store, shop.products[:1], phone=phone, **values)


def test_an_order_since_the_cart_by_its_number_or_its_customer_ends_only_that_reminder(
    session: Session,
) -> None:
    # given four reminders: one whose number ordered since, one whose customer ordered under
    # another number, one whose number ordered only before the cart, one with no order at all
    shop = ready_shop(session)
    since, before = NOW - HOUR, NOW - 3 * HOUR
    by_number = abandoned_cart(session, shop, "+4915100000101", customer_id=None)
    by_customer = abandoned_cart(session, shop, "+4915100000102", customer_id=shop.customer.id)
    ordered_before = abandoned_cart(session, shop, "+4915100000103", customer_id=None)
    untouched = abandoned_cart(session, shop, "+4915100000104", customer_id=None)
    orders = [
        ("o1", None, "+4915100000101", since),
        ("o2", shop.customer, "+4930123456", since),
        ("o3", None, "+4915100000103", before),
    ]
    for platform_id, customer, phone, placed_at in orders:
        products = shop.products[1:2]
        make_order(
            session, shop.store, customer, products, placed_at, platform_id=platform_id, phone=phone
        )
    session.commit()
    carts = [by_number, by_customer, ordered_before, untouched]
    # when the loader is asked once for all four
    found = preload(session, NOW, [shop.store], carts=[(c, c.phone or "") for c in carts])
    # then exactly the two with an order since the cart are known to have ordered
    assert found.ordered == {
        (by_number.id, "+4915100000101"),
        (by_customer.id, "+4915100000102"),
    }


def test_a_confirmation_waits_on_one_sent_or_an_older_one_in_flight(session: Session) -> None:
    # given a pending opt-in with a confirmation in flight (row a) and a younger twin (row b),
    # and another opt-in whose confirmation was sent
    shop = ready_shop(session)
    waiting = make_subscription(session, shop.store, phone="+4915100000201", state="pending")
    answered = make_subscription(session, shop.store, phone="+4915100000202", state="pending")
    rows = {}
    for key, subscription, state in [
        ("a", waiting, "sending"),
        ("b", waiting, "sending"),
        ("c", answered, "sent"),
    ]:
        rows[key] = make_notification(
            session,
            shop.store,
            f"optin:{key}",
            flow=Flow.OPTIN_CONFIRMATION,
            subscription_id=subscription.id,
            phone=subscription.phone,
            state=state,
            claimed_at=NOW - HOUR,
            sent_at=NOW - HOUR if state == "sent" else None,
        )
    session.commit()
    requests = [(shop.store, waiting.id), (shop.store, answered.id)]
    found = preload(session, NOW, [shop.store], confirmations=requests)
    # then the older row goes and the younger yields; a new request waits on both; the answered
    # opt-in's question is not asked twice
    assert found.earlier_confirmation(waiting.id, rows["a"].id) is False
    assert found.earlier_confirmation(waiting.id, rows["b"].id) is True
    assert found.earlier_confirmation(waiting.id, None) is True
    assert found.earlier_confirmation(answered.id, None) is True
    # and once the older row is settled without sending, the younger one may go
    found.forget(shop.store.id, waiting.phone, waiting.id, rows["a"].id)
    assert found.earlier_confirmation(waiting.id, rows["b"].id) is False


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements the session's engine runs inside the block."""
    seen: list[str] = []
    engine = session.get_bind()

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def compose_reminders(session: Session, count: int) -> list[str]:
    """The statements compose runs for `count` cart reminders, each to its own buyer."""
    shop = ready_shop(session, cap_per_24h=3, monthly_budget_minor=100_000)
    drafts = []
    for n in range(count):
        phone = f"+49151000003{n:02d}"
        subscription = make_subscription(session, shop.store, phone=phone)
        cart = abandoned_cart(session, shop, phone, customer_id=None)
        drafts.append(reminder(subscription, cart))
    session.commit()
    with statements(session) as seen:
        compose(session, shop.store, drafts, NOW)
    return seen


def reminder(subscription: Subscription, cart: Cart) -> Draft:
    return Draft(
        dedupe_key=f"cart:{cart.id}:step:1",
        flow="cart_reminder",
        purpose="cart_reminder_1",
        subscription=subscription,
        due_at=NOW,
        expires_at=None,
        body=["Erika"],
        cart=cart,
    )


def test_compose_asks_the_same_questions_for_one_reminder_as_for_twenty(
    session: Session,
) -> None:
    # given a shop with a cap and a budget, so every guard has something to look at
    # when compose writes one cart reminder, and then twenty for twenty other buyers
    one = compose_reminders(session, 1)
    twenty = compose_reminders(session, 20)
    # then it runs the same statements: the guards' questions are asked once per batch
    assert len(twenty) == len(one)
    assert [s.split()[0] for s in twenty] == [s.split()[0] for s in one]
