"""Tracked links record the click and add UTM parameters; orders after a touch are credited once."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.engine.attribution import attribute_order, attribute_recent_orders
from plugin.models import Conversion, Notification
from tests.engine.conftest import Shop
from tests.factories import make_notification, make_order

SENT = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


def sent_message(session: Session, shop: Shop, **fields: object) -> Notification:
    values: dict[str, object] = {
        "phone": shop.subscription.phone,
        "customer_id": shop.customer.id,
        "state": "sent",
        "sent_at": SENT,
        "link_token": "tok-abc123",
        "context": {"link_url": "https://shop.example/products/beans?ref=wa&utm_source=x"},
    }
    values.update(fields)
    row = make_notification(session, shop.store, f"msg:{len(values)}:{fields}", **values)
    session.commit()
    return row


def test_tracked_link_records_the_click_and_redirects_with_utm(
    client: FlaskClient, session: Session, shop: Shop
) -> None:
    message = sent_message(session, shop)
    response = client.get("/r/tok-abc123")
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert (target.netloc, target.path) == ("shop.example", "/products/beans")
    assert parse_qs(target.query) == {
        "ref": ["wa"],
        "utm_source": ["whatsapp"],
        "utm_medium": ["shopnudge"],
        "utm_campaign": ["cart_reminder"],
        "utm_content": [str(message.id)],
    }
    session.expire_all()
    assert session.get(Notification, message.id).clicked_at is not None


def test_unknown_link_is_404_and_records_nothing(
    client: FlaskClient, session: Session, shop: Shop
) -> None:
    message = sent_message(session, shop)
    assert client.get("/r/not-a-token").status_code == 404
    session.expire_all()
    assert session.get(Notification, message.id).clicked_at is None


def test_order_within_the_window_after_a_click_is_credited_once(
    session: Session, shop: Shop
) -> None:
    # given a clicked message and a delivered later one
    clicked = sent_message(session, shop, clicked_at=SENT + dt.timedelta(minutes=5))
    delivered = sent_message(
        session, shop, link_token="tok-2", delivered_at=SENT + dt.timedelta(hours=2)
    )
    # when the buyer orders the next day
    order = make_order(
        session, shop.store, shop.customer, shop.products[:1], placed_at=SENT + dt.timedelta(days=1)
    )
    first = attribute_order(session, shop.store, order, SENT + dt.timedelta(days=1))
    again = attribute_recent_orders(session, shop.store, SENT + dt.timedelta(days=1))
    # then the last touch (the delivery) gets the one credit
    assert (first.notification_id, first.touch, first.revenue_minor) == (
        delivered.id,
        "delivered",
        1990,
    )
    assert again == 0
    assert len(session.scalars(select(Conversion)).all()) == 1
    assert clicked.id != delivered.id


def test_order_after_the_window_is_not_credited(session: Session, shop: Shop) -> None:
    sent_message(session, shop, clicked_at=SENT)
    order = make_order(
        session, shop.store, shop.customer, shop.products[:1], placed_at=SENT + dt.timedelta(days=6)
    )
    assert attribute_order(session, shop.store, order, SENT + dt.timedelta(days=6)) is None
    assert session.scalars(select(Conversion)).all() == []
