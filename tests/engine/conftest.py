"""A shop ready to send: dry-run WhatsApp number, approved templates, a confirmed buyer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.engine import guards
from plugin.engine.preload import preload
from plugin.models import Customer, Notification, Product, Store, Subscription
from tests.factories import (
    make_customer,
    make_product,
    make_store,
    make_subscription,
    make_template,
    make_whatsapp_account,
)

BERLIN_PHONE = "+4915112340001"
#: A moment to dispatch at: 11:00 in Berlin, outside quiet hours.
NOW = dt.datetime(2026, 1, 6, 10, 0, tzinfo=dt.UTC)


@dataclass
class Shop:
    store: Store
    customer: Customer
    subscription: Subscription
    products: list[Product]


def ready_shop(session: Session, **settings: object) -> Shop:
    """A Berlin shop, holdout off unless asked, with one confirmed German buyer."""
    store = make_store(
        session,
        timezone="Europe/Berlin",
        credentials=None,  # no platform to pull from: the tests feed data in directly
        settings={"holdout_percent": 0, **settings},
    )
    make_whatsapp_account(session, store)
    for purpose in ("cart_reminder_1", "cart_reminder_2", "recommendation"):
        make_template(session, store, purpose)
    customer = make_customer(session, store, phone=BERLIN_PHONE, country="DE", first_name="Erika")
    subscription = make_subscription(session, store, phone=BERLIN_PHONE, customer_id=customer.id)
    products = [make_product(session, store, title=f"Bohne {n}") for n in range(3)]
    session.commit()
    return Shop(store, customer, subscription, products)


def due_rows(session: Session, shop: Shop, count: int, prefix: str = "+4915177") -> list[int]:
    """`count` recommendations due a minute before NOW, each to its own confirmed buyer."""
    ids = []
    for n in range(count):
        phone = f"{prefix}{n:06d}"
        session.add(
            Subscription(store_id=shop.store.id, phone=phone, state="confirmed", locale="de")
        )
        row = Notification(
            store_id=shop.store.id,
            dedupe_key=f"test:{phone}",
            flow="recommendation",
            phone=phone,
            template_name="shopnudge_recommendation",
            language="de",
            context={"purpose": "recommendation"},
            due_at=NOW - dt.timedelta(minutes=1),
            cost_micros=113100,
        )
        session.add(row)
        session.flush()
        ids.append(row.id)
    session.commit()
    return ids


def cap_facts(
    session: Session, store: Store, phone: str, now: dt.datetime, row_id: int | None = None
) -> guards.Facts:
    """A marketing message to `phone` (row `row_id`, or a new one), with the buyer's sends as
    the guards' loader finds them in the outbox."""
    found = preload(session, now, [store], phones={(store.id, phone)})
    return guards.Facts(
        store=store,
        phone=phone,
        flow="recommendation",
        purpose="recommendation",
        subscription=None,
        notification_id=row_id,
        recent_sends=found.recent_sends(store.id, phone, row_id),
    )


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def tick(runner: FlaskCliRunner, when: str) -> None:
    result = runner.invoke(args=["tick", "--now", when])
    assert result.exit_code == 0, result.output + repr(result.exception)


def notifications(session: Session, store: Store) -> list[Notification]:
    session.expire_all()
    return list(
        session.scalars(
            select(Notification).where(Notification.store_id == store.id).order_by(Notification.id)
        )
    )


@pytest.fixture
def shop(session: Session) -> Shop:
    return ready_shop(session)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The 10,000-message runs take minutes: only with SHOPNUDGE_RUN_SLOW=1 or `-m slow`."""
    import os

    if os.environ.get("SHOPNUDGE_RUN_SLOW") == "1" or "slow" in (config.getoption("-m") or ""):
        return
    here = Path(__file__).parent
    for item in items:
        if "slow" in item.keywords and here in item.path.parents:  # this area's tests only
            item.add_marker(pytest.mark.skip(reason="slow: set SHOPNUDGE_RUN_SLOW=1 to run"))
