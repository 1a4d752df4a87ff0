"""Inbox dedupe and job leases: the pieces that keep work exactly-once across processes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin import inbox
from plugin.config import Settings
from plugin.db import Database, utcnow
from plugin.leases import release_lease, take_lease
from plugin.models import WebhookDelivery
from plugin.webhook_handlers import HANDLERS


def test_a_replayed_delivery_is_stored_once(session: Session) -> None:
    first = inbox.accept(
        session,
        source="shopify",
        delivery_id="evt-1",
        topic="orders/create",
        body=b"{}",
        store_id=None,
    )
    replay = inbox.accept(
        session,
        source="shopify",
        delivery_id="evt-1",
        topic="orders/create",
        body=b"{}",
        store_id=None,
    )
    session.commit()
    assert first is not None and replay is None
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1


def test_unprocessed_deliveries_are_finished_later(database: Database, settings: Settings) -> None:
    # given a stored delivery nobody processed yet
    seen: list[str] = []
    handlers = {"test": lambda session, delivery, settings: seen.append(delivery.topic)}
    with database.session() as session:
        inbox.accept(session, source="test", delivery_id="d1", topic="a", body=b"x", store_id=None)
    # when the pending deliveries are processed twice
    assert inbox.process_pending(database, settings, handlers=handlers) == 1
    assert inbox.process_pending(database, settings, handlers=handlers) == 0
    # then the handler ran once, and the body is gone
    assert seen == ["a"]
    with database.session() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        assert (delivery.body, delivery.attempts, delivery.last_error) == (None, 1, None)
        assert delivery.processed_at is not None
    assert "test" not in HANDLERS  # the platform handlers were left as they are


def test_a_delivery_without_a_handler_waits_and_says_why(
    database: Database, settings: Settings
) -> None:
    with database.session() as session:
        inbox.accept(session, source="test", delivery_id="d3", topic="a", body=b"x", store_id=None)
    assert inbox.process_pending(database, settings, handlers={}) == 0
    with database.session() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        assert (delivery.processed_at, delivery.body, delivery.attempts) == (None, b"x", 0)
        assert delivery.last_error == "no handler for source test"


def test_a_failing_handler_keeps_the_delivery_for_a_retry(
    database: Database, settings: Settings
) -> None:
    def broken(session: Session, delivery: WebhookDelivery, settings: Settings) -> None:
        raise ValueError("boom")

    with database.session() as session:
        inbox.accept(session, source="test", delivery_id="d2", topic="a", body=b"x", store_id=None)
    assert inbox.process_pending(database, settings, handlers={"test": broken}) == 0
    with database.session() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        assert (delivery.processed_at, delivery.body, delivery.attempts) == (None, b"x", 1)
        assert delivery.last_error == "ValueError: boom"


def test_a_held_lease_is_not_taken_until_it_expires(database: Database) -> None:
    # given a lease taken by one worker for 60 s
    now = utcnow()
    assert take_lease(database, "compose", 60, now, holder="first-host:1")
    # then another worker cannot take it within the 60 s, and can after they passed
    assert not take_lease(database, "compose", 60, now + dt.timedelta(seconds=30), "other-host:1")
    assert take_lease(database, "compose", 60, now + dt.timedelta(seconds=61), "other-host:1")
    # and once that worker releases it, the first takes it again at once
    release_lease(database, "compose", holder="other-host:1")
    assert take_lease(database, "compose", 60, now + dt.timedelta(seconds=62), "first-host:1")
