"""Every shop's rows stay its own."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.db import for_store, get_for_store
from plugin.models import Customer, Notification, Order
from tests.factories import make_customer, make_notification, make_order, make_product, make_store


def test_same_dedupe_key_is_allowed_once_per_store(session: Session) -> None:
    shop_a, shop_b = make_store(session), make_store(session)
    make_notification(session, shop_a, "cart:1:step:1")
    make_notification(session, shop_b, "cart:1:step:1")
    session.commit()

    with pytest.raises(IntegrityError):
        make_notification(session, shop_a, "cart:1:step:1")
    session.rollback()

    rows = session.scalars(select(Notification.store_id).order_by(Notification.store_id)).all()
    assert rows == [shop_a.id, shop_b.id]


def test_store_queries_never_return_another_stores_rows(session: Session) -> None:
    shop_a, shop_b = make_store(session), make_store(session)
    buyer_a = make_customer(session, shop_a)
    buyer_b = make_customer(session, shop_b)
    order_b = make_order(session, shop_b, buyer_b, [make_product(session, shop_b)])
    session.commit()

    assert session.scalars(for_store(Customer, shop_a.id)).all() == [buyer_a]
    assert session.scalars(for_store(Order, shop_a.id)).all() == []
    assert get_for_store(session, Customer, shop_a.id, buyer_b.id) is None
    assert get_for_store(session, Order, shop_a.id, order_b.id) is None
    assert get_for_store(session, Order, shop_b.id, order_b.id) == order_b


def test_for_store_refuses_a_model_that_has_no_store() -> None:
    from plugin.models import JobLease

    with pytest.raises(TypeError):
        for_store(JobLease, 1)
