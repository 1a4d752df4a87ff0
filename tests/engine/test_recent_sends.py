"""The sends the caps count, as the guards' loader finds them: this shop's marketing sent or
sending to these buyers in the last seven days, newest first; nothing else."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from plugin.engine.preload import preload
from plugin.models import Flow, NotificationState
from tests.factories import make_notification, make_store

NOW = dt.datetime(2026, 3, 9, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
WEEK = dt.timedelta(days=7)
ERIKA, MAX, OTHER = "+4915100000001", "+4915100000002", "+4915100000003"


def test_recent_sends_are_this_shops_marketing_of_the_last_week_newest_first(
    session: Session,
) -> None:
    store, elsewhere = make_store(session), make_store(session)
    rows = [
        # counted: sent (by sent_at) and in flight (by claimed_at), to the buyers asked about
        (store, ERIKA, NotificationState.SENT, NOW - 3 * HOUR, None, "recommendation"),
        (store, ERIKA, NotificationState.SENDING, None, NOW - HOUR, "cart_reminder"),
        (store, ERIKA, NotificationState.SENT, NOW - WEEK + dt.timedelta(seconds=1), None, "x"),
        (store, MAX, NotificationState.SENT, NOW - 2 * HOUR, NOW - 5 * HOUR, "recommendation"),
        # not counted: a week old, not sent, another shop, another buyer, the opt-in message
        (store, ERIKA, NotificationState.SENT, NOW - WEEK, None, "recommendation"),
        (store, ERIKA, NotificationState.FAILED, NOW - HOUR, None, "recommendation"),
        (store, ERIKA, NotificationState.PENDING, None, None, "recommendation"),
        (elsewhere, ERIKA, NotificationState.SENT, NOW - HOUR, None, "recommendation"),
        (store, OTHER, NotificationState.SENT, NOW - HOUR, None, "recommendation"),
        (store, ERIKA, NotificationState.SENT, NOW - HOUR, None, Flow.OPTIN_CONFIRMATION),
    ]
    for n, (shop, phone, state, sent_at, claimed_at, flow) in enumerate(rows):
        make_notification(
            session,
            shop,
            f"r:{n}",
            phone=phone,
            state=state,
            sent_at=sent_at,
            claimed_at=claimed_at,
            flow=flow,
        )
    found = preload(session, NOW, [store], phones={(store.id, ERIKA), (store.id, MAX)})
    assert found.recent_sends(store.id, ERIKA) == [
        NOW - HOUR,
        NOW - 3 * HOUR,
        NOW - WEEK + dt.timedelta(seconds=1),
    ]
    assert found.recent_sends(store.id, MAX) == [NOW - 2 * HOUR]
    assert found.recent_sends(store.id, OTHER) == []
    assert preload(session, NOW, [store]).recent == {}
