"""Verified webhook deliveries: stored before we answer, processed after, never lost or doubled.

A receiver verifies the signature on the raw body, then calls `accept`, commits and answers.
Processing runs right after the answer and again from `process_webhooks_job` for anything a
crash left behind, so the platform's 5-second deadline never waits for our work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.db import Database, skip_locked, utcnow
from plugin.models import WebhookDelivery

log = logging.getLogger(__name__)

Handler = Callable[[Session, WebhookDelivery], None]

#: One handler per source; each platform module registers its own.
HANDLERS: dict[str, Handler] = {}

#: A delivery that failed this often is left for a person to look at (last_error says why).
MAX_ATTEMPTS = 8


def register_handler(source: str, handler: Handler) -> None:
    HANDLERS[source] = handler


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


def process(
    session: Session, delivery: WebhookDelivery, handlers: Mapping[str, Handler] | None = None
) -> bool:
    """Run the handler for one delivery in its own savepoint; True when it succeeded.

    `handlers` maps sources to handlers (default: the ones the platform modules registered)."""
    handler = (HANDLERS if handlers is None else handlers).get(delivery.source)
    if handler is None:
        delivery.last_error = f"no handler for source {delivery.source}"
        return False
    delivery.attempts += 1
    try:
        with session.begin_nested():
            handler(session, delivery)
    except Exception as error:  # a handler bug must not lose the delivery
        log.exception("webhook %s %s failed", delivery.source, delivery.topic)
        delivery.last_error = f"{type(error).__name__}: {error}"[:2000]
        return False
    delivery.processed_at = utcnow()
    delivery.body = None
    delivery.last_error = None
    return True


def process_pending(
    database: Database, limit: int = 200, handlers: Mapping[str, Handler] | None = None
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
            done += process(session, delivery, handlers)
    return done
