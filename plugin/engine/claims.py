"""A notification's way through dispatch, as the outbox's row states: claimed (`sending` under
a run's token), handed off (`handed_at`: it goes to the network now), given back (`pending`),
recorded (`sent`, `failed`, `pending` later, or uncertain), and settled when a worker died
(`reconcile_sending`) or its moment passed (`expire_pending`).

Each function is one short transaction that repeats the state it expects, so two workers, or
a stalled one and reconciliation, never both move a row. The loop that drives them is
plugin/engine/dispatch.py.
"""

from __future__ import annotations

import datetime as dt
import functools
from enum import Enum
from typing import Any, NamedTuple

from sqlalchemy import Integer, String, bindparam, func, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update

from plugin.db import Database, among, among_bound, listed, skip_locked
from plugin.models import Notification, NotificationState, Store
from plugin.whatsapp.channel import SendError, delivery_status_of
from plugin.whatsapp.errors import ErrorKind, apply_send_error
from plugin.whatsapp.statuses import UNCONFIRMED  # a dead worker's uncertain rows

#: Rows a claim takes: what the run hands off in BATCH_SECONDS at its rate so far, between
#: BATCH and MOST_BATCH (`batch_size`). Each batch costs a dozen statements and the loading of
#: the guards' facts whatever its size, so a small one spends more on the database than on
#: sending; a large one sends its last row longer after its guards ran (and a dead worker's
#: unsent rows wait for reconciliation). So 50 rows at Meta's default 80 msg/s (0.6 s), 250 at
#: 1,000 msg/s.
BATCH = 50
MOST_BATCH = 500
BATCH_SECONDS = 0.25
#: A claimed row not handed off for this long belongs to a dead (or stalled) worker and goes
#: back to `pending`; a live claim hands off within a run's second. The hand-off checks the
#: claim token, so a stalled worker that wakes up later sends none of it.
CLAIM_TIMEOUT = dt.timedelta(minutes=2)
#: A handed-off row older than this is settled by reconciliation (a live send takes seconds;
#: Meta's status webhook usually comes within them).
SENDING_TIMEOUT = dt.timedelta(minutes=10)


#: The outbox as a table: the statements here move many rows by id, and ORM-enabled ones cost
#: more Python to run than PostgreSQL spends on them.
_OUTBOX = Notification.__table__
_COL = _OUTBOX.c
#: A row given back: `pending` for any worker, its claim and the reason of its last try gone.
_FREED = {
    "state": NotificationState.PENDING,
    "reason": None,
    "claimed_by": None,
    "claimed_at": None,
}


class Outcome(Enum):
    """What became of a claimed row in one run."""

    SENT = "sent"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    FAILED = "failed"
    EXPIRED = "expired"
    UNCERTAIN = "uncertain"


def batch_size(handed: int, seconds: float) -> int:
    """The next claim's size for a run that handed off `handed` rows in `seconds`."""
    wanted = handed * BATCH_SECONDS  # rows in BATCH_SECONDS, times `seconds`
    if wanted >= MOST_BATCH * seconds:  # (not divided: a run's first microseconds overflow)
        return MOST_BATCH if handed else BATCH
    return max(BATCH, int(wanted / seconds))


def claim(database: Database, now: dt.datetime, token: str, batch: int = BATCH) -> list[int]:
    """Mark up to `batch` due rows `sending` under `token`, committed; return their ids.

    Two statements in one transaction: the select locks due rows no other worker holds (SKIP
    LOCKED on PostgreSQL), and the update's own `state = 'pending'` keeps a row to one claimant
    anywhere. Not one `UPDATE … WHERE id IN (SELECT … LIMIT n)`: PostgreSQL may rescan that
    subquery for every row it updates and claim far more than `batch`.
    """
    due = (
        select(_COL.id)
        .where(_COL.state == NotificationState.PENDING, _COL.due_at <= now)
        .order_by(_COL.due_at, _COL.id)
        .limit(batch)
    )
    with database.session() as session:
        ids = list(session.scalars(skip_locked(due, session)))
        if not ids:
            return []
        claimed = session.scalars(
            _OUTBOX.update()
            .where(
                among(session, _COL.id, ids),
                _COL.state == NotificationState.PENDING,
            )
            .values(state=NotificationState.SENDING, claimed_by=token, claimed_at=now)
            .values(handed_at=None)
            .returning(_COL.id)
        )
        return sorted(claimed)


def hand_off(where: Database | Session, token: str, ids: list[int], now: dt.datetime) -> list[int]:
    """Record that these rows go to the network now; the ones still ours.

    Called right before the calls, for the few rows the senders take at once, and committed
    before them: in its own transaction given the database, else in the caller's (dispatch
    commits it with the rate tokens it took for the rows). A worker killed after this leaves
    them uncertain, one killed before leaves them to be sent again. A row whose claim
    reconciliation gave back (or another run holds) is not returned.
    """
    if not ids:
        return []
    if isinstance(where, Database):
        with where.session() as session:
            return hand_off(session, token, ids, now)
    dialect = where.get_bind().dialect.name
    values = {"ids": listed(dialect, ids), "token": token, "moment": now}
    return sorted(where.scalars(_hand_off_statement(dialect), values))


@functools.cache
def _hand_off_statement(dialect: str) -> Update:
    """Built once per kind of database: a hand-off runs every few milliseconds at 1,000 msg/s, and
    building the statement cost more Python than running it."""
    return (
        _OUTBOX.update()
        .where(
            among_bound(dialect, _COL.id, "ids"),
            _COL.state == NotificationState.SENDING,
            _COL.claimed_by == bindparam("token"),
            _COL.handed_at.is_(None),
        )
        .values(handed_at=bindparam("moment"))
        .returning(_COL.id)
    )


def give_back(database: Database, token: str, ids: list[int]) -> None:
    """Rows this claim never handed off: `pending` again, for any worker."""
    if ids:
        with database.session() as session:
            session.execute(
                _OUTBOX.update()
                .where(
                    among(session, _COL.id, ids),
                    _COL.claimed_by == token,
                    _COL.handed_at.is_(None),
                )
                .values(_FREED)
            )


class Settled(NamedTuple):
    """A claimed row that does not go now: how it ends, or when it is due again (`pending`)."""

    row_id: int
    outcome: Outcome
    state: str
    reason: str | None
    due_at: dt.datetime | None = None


_END = (
    _OUTBOX.update()
    .where(_COL.id == bindparam("row_id"))
    .values(state=bindparam("new_state"), reason=bindparam("new_reason"))
)
_AGAIN = (
    _OUTBOX.update()
    .where(_COL.id == bindparam("row_id"))
    .values(_FREED)
    .values(handed_at=None, due_at=bindparam("due"))
)


def settle(session: Session, rows: list[Settled]) -> None:
    """Write what became of claimed rows that do not go now (the caller commits): ended rows
    keep their claim as a record of the run that judged them; rows due again are free."""
    ended = [
        {"row_id": row.row_id, "new_state": row.state, "new_reason": row.reason}
        for row in rows
        if row.due_at is None
    ]
    again = [{"row_id": row.row_id, "due": row.due_at} for row in rows if row.due_at is not None]
    for statement, values in ((_END, ended), (_AGAIN, again)):
        if values:
            session.execute(statement, values)


def release(notification: Notification, state: str, reason: str | None) -> None:
    notification.state, notification.reason = state, reason
    if state == NotificationState.PENDING:
        notification.claimed_by = notification.claimed_at = notification.handed_at = None


def _sent(row: Any, wamid: Any, delivery: Any) -> Update:
    """The statement marking `row` sent with Meta's id (a status webhook may have come first)."""
    return (
        _OUTBOX.update()
        .where(_COL.id == row)
        .values(state=NotificationState.SENT, reason=None, sent_at=bindparam("sent"))
        .values(
            provider_message_id=wamid,
            delivery_status=func.coalesce(_COL.delivery_status, delivery),
        )
    )


#: Built once, as a group of answers is recorded every few milliseconds at 1,000 msg/s and
#: building the statement (and its cache key) each time cost more Python than executing it.
#: SQLite runs it once per row (in process, that is cheap); PostgreSQL gets the answers as
#: three arrays, unnested into rows and joined by id: one statement and one round trip for the
#: group, in one text whatever its size, so the server prepares it once.
_RECORD_SENT = _sent(bindparam("row_id"), bindparam("wamid"), bindparam("delivery"))
_ANSWERS = select(
    func.unnest(bindparam("row_ids", type_=postgresql.ARRAY(Integer))).label("id"),
    func.unnest(bindparam("wamids", type_=postgresql.ARRAY(String))).label("wamid"),
    func.unnest(bindparam("deliveries", type_=postgresql.ARRAY(String))).label("delivery"),
).subquery("answers")
_RECORD_ALL_SENT = _sent(_ANSWERS.c.id, _ANSWERS.c.wamid, _ANSWERS.c.delivery)


def record_sent(database: Database, wamids: dict[int, str], now: dt.datetime) -> None:
    """Mark the group's sent rows, in id order (a status webhook may have come first; a
    message Meta holds for pacing shows as held, not failed)."""
    if not wamids:
        return
    ids = sorted(wamids)
    deliveries = [delivery_status_of(wamids[i]) for i in ids]
    with database.session() as session:
        if database.engine.dialect.name == "postgresql":
            answers = {"row_ids": ids, "wamids": [wamids[i] for i in ids], "deliveries": deliveries}
            session.execute(_RECORD_ALL_SENT, {**answers, "sent": now})
        else:
            rows = [
                {"row_id": i, "wamid": wamids[i], "delivery": delivery, "sent": now}
                for i, delivery in zip(ids, deliveries, strict=True)
            ]
            session.execute(_RECORD_SENT, rows)


def record_error(
    database: Database, notification_id: int, error: SendError, now: dt.datetime
) -> Outcome:
    """Record one refused or failed call by what its error means (errors.py's table)."""
    with database.session() as session:
        notification = session.get(Notification, notification_id)
        assert notification is not None
        store = session.get(Store, notification.store_id)
        assert store is not None
        decision = apply_send_error(session, store, notification, error, now)
        notification.attempts += 1
        if decision.kind == ErrorKind.UNCERTAIN:
            notification.reason = decision.reason  # stays `sending`: reconciled, never resent
            return Outcome.UNCERTAIN
        if decision.retry_at is not None:
            release(notification, NotificationState.PENDING, decision.reason)
            notification.due_at = decision.retry_at
            return Outcome.DEFERRED
        release(notification, NotificationState.FAILED, decision.reason)
        return Outcome.FAILED


def reconcile_sending(database: Database, now: dt.datetime) -> tuple[int, int]:
    """Settle rows a dead worker left `sending`: never handed off, `pending` again; handed off,
    `sent` if Meta reported them, else expired. Returns (confirmed, expired)."""
    sending = Notification.state == NotificationState.SENDING
    stale = sending & (Notification.claimed_at < now - SENDING_TIMEOUT)
    stale &= Notification.handed_at.is_not(None)
    with database.session() as session:
        session.execute(
            update(Notification)
            .where(
                sending,
                Notification.handed_at.is_(None),
                Notification.claimed_at < now - CLAIM_TIMEOUT,
            )
            .values(_FREED)
        )
        confirmed = session.execute(
            update(Notification)
            .where(
                stale,
                Notification.provider_message_id.is_not(None)
                | Notification.delivery_status.is_not(None),
            )
            .values(state=NotificationState.SENT)
        ).rowcount
        expired = session.execute(
            update(Notification)
            .where(stale)
            .values(state=NotificationState.EXPIRED, reason=UNCONFIRMED)
        ).rowcount
    return confirmed, expired


def expire_pending(database: Database, now: dt.datetime) -> int:
    """Pending rows whose moment passed end `expired`."""
    with database.session() as session:
        return session.execute(
            update(Notification)
            .where(
                Notification.state == NotificationState.PENDING,
                Notification.expires_at.is_not(None),
                Notification.expires_at <= now,
            )
            .values(state=NotificationState.EXPIRED, reason="expired")
        ).rowcount
