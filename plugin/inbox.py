"""Verified webhook deliveries: stored before we answer, processed after, never lost or doubled.

A receiver verifies the signature on the raw body, then calls `acknowledge` (one INSERT),
commits and answers. Processing runs right after the answer (`process_after_answer`) or, where
the web processes should only answer (SHOPNUDGE_WEBHOOK_PROCESSING=worker), in the workers'
`process_webhooks_job`, which also finishes anything a crash left behind: the platform's
5-second deadline never waits for our work, and a delivery stored is a delivery processed.

Processing is given the settings, which it hands to every handler, and the handlers (source ->
handler), usually `plugin.webhook_handlers.HANDLERS`: the platform modules import this one to
store their deliveries, so it cannot import them back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.config import PROCESS_IN_WORKER, Settings
from plugin.db import Database, get_database, skip_locked, utcnow
from plugin.models import WebhookDelivery

log = logging.getLogger(__name__)

#: A source's handler: the settings are passed in, so no handler reaches for the app.
Handler = Callable[[Session, WebhookDelivery, Settings], None]

#: A delivery that failed this often is left for a person to look at (last_error says why).
MAX_ATTEMPTS = 8


def accept(
    session: Session,
    *,
    source: str,
    delivery_id: str,
    topic: str,
    body: bytes,
    store_id: int | None,
) -> WebhookDelivery | None:
    """Store a delivery; None when the same delivery id was stored before (a replay)."""
    delivery = WebhookDelivery(
        source=source, delivery_id=delivery_id, topic=topic, body=body, store_id=store_id
    )
    try:
        with session.begin_nested():
            session.add(delivery)
            session.flush()
    except IntegrityError:
        return None
    return delivery


def acknowledge(
    session: Session,
    *,
    source: str,
    delivery_id: str,
    topic: str,
    body: bytes,
    store_id: int | None,
) -> int | None:
    """Store a delivery with one INSERT … ON CONFLICT DO NOTHING; its id, None for a replay.

    The answer to the platform waits for this alone: no savepoint, no ORM object, and a
    statement built once per dialect (SQLAlchemy compiles it once too)."""
    parameters = {
        "source": source,
        "delivery_id": delivery_id,
        "topic": topic,
        "body": body,
        "store_id": store_id,
        "received_at": utcnow(),
        "attempts": 0,
    }
    return session.execute(_acknowledge_statement(session), parameters).scalar()


_STATEMENTS: dict[str, Any] = {}


def _acknowledge_statement(session: Session) -> Any:
    name = session.get_bind().dialect.name
    if name not in _STATEMENTS:
        table = WebhookDelivery.__table__
        dialect = postgresql if name == "postgresql" else sqlite
        _STATEMENTS[name] = (
            dialect.insert(table)
            .on_conflict_do_nothing(index_elements=["source", "delivery_id"])
            .returning(table.c.id)
        )
    return _STATEMENTS[name]


def process_after_answer(
    app: Flask, response: Response, ids: list[int], handlers: Mapping[str, Handler]
) -> None:
    """Process the deliveries just stored once the answer has gone out, unless the workers
    do it (SHOPNUDGE_WEBHOOK_PROCESSING=worker); either way the job retries any failure."""
    if ids and app.config["SHOPNUDGE"].webhook_processing != PROCESS_IN_WORKER:
        response.call_on_close(lambda: process_stored(app, ids, handlers))


def process_stored(app: Flask, ids: list[int], handlers: Mapping[str, Handler]) -> int:
    """Process the given stored deliveries, each in its own transaction; how many succeeded."""
    done = 0
    settings: Settings = app.config["SHOPNUDGE"]
    try:
        with app.app_context(), get_database(app).session() as session:
            for delivery_id in ids:
                delivery = session.get(WebhookDelivery, delivery_id)
                if delivery is not None and delivery.processed_at is None:
                    done += process(session, settings, delivery, handlers)
                    session.commit()  # one delivery's locks at a time: no deadlock
    except Exception:  # the answer is gone already; process_webhooks picks these up again
        log.exception("webhook deliveries left for the process_webhooks job")
    return done


def process(
    session: Session,
    settings: Settings,
    delivery: WebhookDelivery,
    handlers: Mapping[str, Handler],
) -> bool:
    """Run the handler for one delivery in its own savepoint; True when it succeeded."""
    handler = handlers.get(delivery.source)
    if handler is None:
        delivery.last_error = f"no handler for source {delivery.source}"
        return False
    delivery.attempts += 1
    try:
        with session.begin_nested():
            handler(session, delivery, settings)
    except Exception as error:  # a handler bug must not lose the delivery
        log.exception("webhook %s %s failed", delivery.source, delivery.topic)
        delivery.last_error = f"{type(error).__name__}: {error}"[:2000]
        return False
    delivery.processed_at = utcnow()
    delivery.body = None
    delivery.last_error = None
    return True


def process_pending(
    database: Database, settings: Settings, handlers: Mapping[str, Handler], limit: int = 200
) -> int:
    """Process deliveries a crash or an error left unprocessed; returns how many succeeded."""
    done = 0
    with database.session() as session:
        rows = session.scalars(
            skip_locked(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.processed_at.is_(None),
                    WebhookDelivery.attempts < MAX_ATTEMPTS,
                )
                .order_by(WebhookDelivery.received_at, WebhookDelivery.id)
                .limit(limit),
                session,
            )
        ).all()
        for delivery in rows:
            done += process(session, settings, delivery, handlers)
    return done
