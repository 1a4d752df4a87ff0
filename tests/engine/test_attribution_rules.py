"""Attribution's rules at their edges: whose touches count, the window's two ends, ties, and the
recent-orders job's own window, each with the message that must not get the credit beside it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.engine.attribution import attribute_order, attribute_recent_orders, last_touch
from plugin.models import Conversion, Customer, Notification, NotificationState, Order, Store
from tests.factories import make_customer, make_notification, make_order, make_store

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
WINDOW = dt.timedelta(days=5)
HOUR = dt.timedelta(hours=1)


def shop(session: Session) -> Store:
    return make_store(session, settings={"attribution_window_days": 5})


def touch(
    session: Session,
    store: Store,
    key: str,
    customer: Customer | None,
    phone: str,
    **fields: object,
) -> Notification:
    """A message sent to a buyer (state SENT unless given), with its delivery or click time."""
    fields.setdefault("state", NotificationState.SENT)
    return make_notification(
        session,
        store,
        key,
        customer_id=customer.id if customer else None,
        phone=phone,
        sent_at=NOW - 10 * HOUR,
        **fields,
    )


def credited(session: Session, store: Store, order: Order) -> tuple[int, str] | None:
    found = last_touch(session, store, order)
    return (found[0].id, found[1]) if found else None


def test_only_this_buyers_sent_messages_in_this_shop_are_credited(session: Session) -> None:
    # given a buyer whose message was delivered 2 h before the order, another 3 h before
    store, elsewhere = shop(session), shop(session)
    buyer, other = make_customer(session, store), make_customer(session, store)
    right = touch(session, store, "right", buyer, buyer.phone, delivered_at=NOW - 2 * HOUR)
    touch(session, store, "older", buyer, buyer.phone, delivered_at=NOW - 3 * HOUR)
    # and later touches that are not this buyer's sent messages in this shop
    touch(session, store, "other", other, other.phone, delivered_at=NOW - HOUR)
    touch(session, store, "stranger", None, "+4915100000999", delivered_at=NOW - HOUR)
    touch(session, elsewhere, "elsewhere", None, buyer.phone, delivered_at=NOW - HOUR)
    touch(
        session,
        store,
        "failed",
        buyer,
        buyer.phone,
        state=NotificationState.FAILED,
        delivered_at=NOW - HOUR,
    )
    order = make_order(session, store, buyer, [], placed_at=NOW)
    # when the order is attributed
    conversion = attribute_order(session, store, order, NOW)
    # then the buyer's own latest delivered message gets it
    assert conversion is not None
    assert (conversion.notification_id, conversion.touch, conversion.order_id) == (
        right.id,
        "delivered",
        order.id,
    )


def test_a_buyer_is_matched_by_customer_or_by_phone(session: Session) -> None:
    store = shop(session)
    buyer = make_customer(session, store)
    # given a message to the customer's old number, and one to the number with no customer
    by_customer = touch(session, store, "old-number", buyer, "+4915100000001")
    by_phone = touch(session, store, "no-customer", None, buyer.phone)
    by_customer.delivered_at = NOW - 2 * HOUR
    by_phone.delivered_at = NOW - 3 * HOUR
    order = make_order(session, store, buyer, [], placed_at=NOW)
    # then the customer match counts (it is the later one) ...
    assert credited(session, store, order) == (by_customer.id, "delivered")
    # ... and so does the phone match, once the customer's message is older
    by_customer.delivered_at = NOW - 4 * HOUR
    assert credited(session, store, order) == (by_phone.id, "delivered")


def test_an_order_without_a_customer_is_matched_by_phone_only(session: Session) -> None:
    store = shop(session)
    mine = touch(session, store, "mine", None, "+4915100000002", delivered_at=NOW - 2 * HOUR)
    touch(session, store, "someone", None, "+4915100000003", delivered_at=NOW - HOUR)
    order = make_order(session, store, None, [], placed_at=NOW, phone="+4915100000002")
    assert credited(session, store, order) == (mine.id, "delivered")
    anonymous = make_order(session, store, None, [], placed_at=NOW, phone=None)
    assert last_touch(session, store, anonymous) is None


def test_the_window_includes_the_order_moment_and_excludes_its_far_end(session: Session) -> None:
    store = shop(session)
    buyer = make_customer(session, store)
    at_order = touch(session, store, "at-order", buyer, buyer.phone, delivered_at=NOW)
    order = make_order(session, store, buyer, [], placed_at=NOW)
    # a delivery at the very moment of the order counts
    assert credited(session, store, order) == (at_order.id, "delivered")
    # one exactly a window earlier does not; a second later it does
    at_order.delivered_at = NOW - WINDOW
    assert last_touch(session, store, order) is None
    at_order.delivered_at = NOW - WINDOW + dt.timedelta(seconds=1)
    assert credited(session, store, order) == (at_order.id, "delivered")


def test_a_click_beats_a_delivery_at_the_same_moment_and_ties_go_to_the_newer_row(
    session: Session,
) -> None:
    store = shop(session)
    buyer = make_customer(session, store)
    moment = NOW - 2 * HOUR
    clicked = touch(session, store, "clicked", buyer, buyer.phone, clicked_at=moment)
    delivered = touch(session, store, "delivered", buyer, buyer.phone, delivered_at=moment)
    order = make_order(session, store, buyer, [], placed_at=NOW)
    # a click and a delivery at the same moment: the click is the touch
    assert credited(session, store, order) == (clicked.id, "clicked")
    # a later delivery beats an earlier click
    delivered.delivered_at = moment + dt.timedelta(seconds=1)
    assert credited(session, store, order) == (delivered.id, "delivered")
    # two deliveries at the same moment: the newer row; a later one beats a newer row
    newer = touch(session, store, "newer", buyer, buyer.phone, delivered_at=delivered.delivered_at)
    assert credited(session, store, order) == (newer.id, "delivered")
    newer.delivered_at = moment
    assert credited(session, store, order) == (delivered.id, "delivered")


def test_an_order_is_credited_once_and_its_own_credit_is_returned(session: Session) -> None:
    store = shop(session)
    first_buyer, buyer = make_customer(session, store), make_customer(session, store)
    touch(session, store, "a", first_buyer, first_buyer.phone, delivered_at=NOW - HOUR)
    touch(session, store, "b", buyer, buyer.phone, delivered_at=NOW - HOUR)
    earlier = attribute_order(
        session, store, make_order(session, store, first_buyer, [], placed_at=NOW), NOW
    )
    order = make_order(session, store, buyer, [], placed_at=NOW)
    first = attribute_order(session, store, order, NOW)
    again = attribute_order(session, store, order, NOW + HOUR)
    assert earlier is not None and first is not None and again is not None
    assert (again.id, again.order_id, again.attributed_at) == (first.id, order.id, NOW)
    assert earlier.id != first.id
    assert session.scalar(select(func.count()).select_from(Conversion)) == 2


def test_the_recent_orders_job_credits_exactly_the_orders_of_its_window(session: Session) -> None:
    # given a notified buyer, and orders at each edge of the job's window
    store, elsewhere = shop(session), shop(session)
    buyer = make_customer(session, store)
    touch(session, store, "old", buyer, buyer.phone, delivered_at=NOW - WINDOW - 2 * HOUR)
    touch(session, store, "new", buyer, buyer.phone, delivered_at=NOW - 3 * HOUR)
    inside = [
        make_order(session, store, buyer, [], placed_at=NOW),
        make_order(session, store, buyer, [], placed_at=NOW - WINDOW + dt.timedelta(seconds=1)),
    ]
    outside = [
        make_order(session, store, buyer, [], placed_at=NOW - WINDOW),
        make_order(session, store, buyer, [], placed_at=NOW - WINDOW - HOUR),
        make_order(session, store, buyer, [], placed_at=NOW + dt.timedelta(seconds=1)),
        # another shop's order by the same number
        make_order(session, elsewhere, None, [], placed_at=NOW, phone=buyer.phone),
    ]
    # when the job runs twice
    assert attribute_recent_orders(session, store, NOW) == 2
    assert attribute_recent_orders(session, store, NOW) == 0
    # then exactly the two orders inside it are credited
    credited_orders = set(session.scalars(select(Conversion.order_id)))
    assert credited_orders == {order.id for order in inside}
    assert credited_orders.isdisjoint(order.id for order in outside)
    # and an hour later the orders placed since (then in its window) are credited beside them
    later = make_order(session, store, buyer, [], placed_at=NOW + HOUR)
    assert attribute_recent_orders(session, store, NOW + HOUR) == 2
    assert set(session.scalars(select(Conversion.order_id))) == credited_orders | {
        outside[2].id,
        later.id,
    }
