"""Dispatch: claim due notifications, check the guards again, send each at most once.

1. Claim: one short transaction selects due `pending` rows (FOR UPDATE SKIP LOCKED on
   PostgreSQL), marks them `sending` with this worker's claim token, and commits. The update
   repeats `state = 'pending'`, so even without SKIP LOCKED (SQLite) a row has one claimant.
2. Guards run again; a veto ends the row `skipped`, a wait gives it back as `pending` later.
3. The throughput limiter and the messaging tier are respected across all workers.
4. Send, several calls in flight per worker (`plugin/engine/sending.py`), then record the
   wamids. While a batch is in flight the worker claims and judges the next one, so its
   senders never wait for the database. A worker that dies between 1 and 4 leaves the row
   `sending`: `reconcile_sending` settles it from status webhooks or expires it. It is never
   resent.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from concurrent import futures
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from plugin.db import Database, skip_locked
from plugin.engine import guards
from plugin.engine.batch import BatchFacts, facts_for, load_batch
from plugin.engine.sending import DEFAULT_CONCURRENCY, InFlight, Prepared, start_sending
from plugin.models import Flow, Notification, NotificationState, Store
from plugin.scheduler import worker_id
from plugin.whatsapp import limits
from plugin.whatsapp.channel import SendError, TemplateMessage
from plugin.whatsapp.errors import ErrorKind, apply_send_error

log = logging.getLogger(__name__)

#: Rows one claim takes. Each batch costs a dozen statements whatever its size, so a small one
#: spends more on PostgreSQL than on sending; a large one strands more rows if its worker dies
#: (they expire, never resent) and sends its last row longer after its guards ran. 50 is 50 ms
#: of sending at 1,000 msg/s and 0.6 s at Meta's default 80 msg/s.
BATCH = 50
#: A `sending` row older than this is settled by reconciliation (a live send takes seconds).
SENDING_TIMEOUT = dt.timedelta(minutes=10)
#: A reason for rows that a dead worker left unconfirmed.
UNCONFIRMED = "sending_unconfirmed"
#: New recipients over the messaging tier wait this long before the next try.
TIER_RETRY = dt.timedelta(minutes=15)


@dataclass
class DispatchCounts:
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    expired: int = 0
    uncertain: int = 0


def claim(database: Database, now: dt.datetime, batch: int = BATCH) -> list[int]:
    """Mark up to `batch` due rows `sending` for this worker, committed; return their ids.

    Two statements in one transaction: the select locks due rows no other worker holds (SKIP
    LOCKED on PostgreSQL), and the update's own `state = 'pending'` keeps a row to one claimant
    anywhere. Not one `UPDATE … WHERE id IN (SELECT … LIMIT n)`: PostgreSQL may rescan that
    subquery for every row it updates and claim far more than `batch`.
    """
    token = f"{worker_id()}:{uuid.uuid4().hex[:12]}"
    due = (
        select(Notification.id)
        .where(Notification.state == NotificationState.PENDING, Notification.due_at <= now)
        .order_by(Notification.due_at, Notification.id)
        .limit(batch)
    )
    with database.session() as session:
        ids = list(session.scalars(skip_locked(due, session)))
        if not ids:
            return []
        claimed = session.scalars(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.state == NotificationState.PENDING)
            .values(state=NotificationState.SENDING, claimed_by=token, claimed_at=now)
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(claimed)


def release(notification: Notification, state: str, reason: str | None) -> None:
    notification.state, notification.reason = state, reason
    if state == NotificationState.PENDING:
        notification.claimed_by = notification.claimed_at = None


def message_for(notification: Notification, now: dt.datetime) -> TemplateMessage:
    ttl = None
    if notification.flow == Flow.CART_REMINDER and notification.expires_at is not None:
        ttl = max(30, int((notification.expires_at - now).total_seconds()))
    return TemplateMessage(
        to=notification.phone or "",
        template=notification.template_name,
        language=notification.language,
        components=notification.parameters,
        callback_data=str(notification.id),
        ttl_seconds=ttl,
    )


def judge(
    session: Session,
    batch: BatchFacts,
    tiers: dict[int, limits.TierRoom],
    notification: Notification,
    now: dt.datetime,
) -> str:
    """Guards and the messaging tier for one claimed row: "send", or what became of it."""
    facts = facts_for(batch, notification)
    verdict = guards.evaluate(session, facts, now, notification.expires_at)
    outcome = "send"
    if verdict.expired:
        release(notification, NotificationState.EXPIRED, verdict.guard)
        outcome = "expired"
    elif not verdict.passed:
        release(notification, NotificationState.SKIPPED, verdict.guard)
        outcome = "skipped"
    elif verdict.at > now:
        release(notification, NotificationState.PENDING, None)
        notification.due_at, outcome = verdict.at, "deferred"
    elif not tiers[notification.store_id].admits(facts.phone):
        release(notification, NotificationState.PENDING, None)
        notification.due_at, outcome = now + TIER_RETRY, "deferred"
    if outcome != "send":  # no longer counts against this buyer's caps
        key = (notification.store_id, facts.phone)
        batch.recent[key] = [e for e in batch.recent.get(key, []) if e[0] != notification.id]
    return outcome


def prepare(
    database: Database, ids: list[int], now: dt.datetime, counts: DispatchCounts
) -> list[Prepared]:
    """Re-check every claimed row; settle the ones that must not go now; return the rest."""
    ready = []
    with database.session() as session:
        rows = list(
            session.scalars(
                select(Notification).where(Notification.id.in_(ids)).order_by(Notification.id)
            )
        )
        batch = load_batch(session, rows, now)  # templates read now: Meta may have paused one
        phones = {row.phone or "" for row in rows}
        tiers = {
            store_id: limits.tier_room(session, account, phones, ids, now)
            for store_id, account in batch.accounts.items()
        }
        for notification in rows:
            outcome = judge(session, batch, tiers, notification, now)
            if outcome == "send":
                account = batch.accounts[notification.store_id]
                assert account is not None  # phone_quality passed
                ready.append(Prepared(notification.id, message_for(notification, now), account))
            else:
                setattr(counts, outcome, getattr(counts, outcome) + 1)
        session.flush()  # the settled rows are written before the objects are detached
        session.expunge_all()
    return ready


def record(
    database: Database, in_flight: InFlight, now: dt.datetime, counts: DispatchCounts
) -> None:
    """Wait for a batch's answers and record them; rows the limiter kept go back unsent."""
    outcomes = in_flight.outcomes()
    record_sent(database, outcomes.wamids, now)
    counts.sent += len(outcomes.wamids)
    for notification_id, error in outcomes.errors.items():
        outcome = record_error(database, notification_id, error, now)
        setattr(counts, outcome, getattr(counts, outcome) + 1)
    if outcomes.unsent:  # the limiter gave up on these: nothing of them was sent
        with database.session() as session:
            session.execute(
                update(Notification)
                .where(Notification.id.in_(outcomes.unsent))
                .values(state=NotificationState.PENDING, reason=None)
                .values(claimed_by=None, claimed_at=None)
            )
        counts.deferred += len(outcomes.unsent)


def record_sent(database: Database, wamids: dict[int, str], now: dt.datetime) -> None:
    """Mark the batch's sent rows in one statement (a status webhook may have come first)."""
    if not wamids:
        return
    table = Notification.__table__
    statement = (
        table.update()
        .where(table.c.id == bindparam("row_id"))
        .values(
            state=NotificationState.SENT,
            reason=None,
            sent_at=now,
            provider_message_id=bindparam("wamid"),
            delivery_status=func.coalesce(table.c.delivery_status, "sent"),
        )
    )
    with database.session() as session:
        session.execute(statement, [{"row_id": i, "wamid": w} for i, w in wamids.items()])


def record_error(
    database: Database, notification_id: int, error: SendError, now: dt.datetime
) -> str:
    with database.session() as session:
        notification = session.get(Notification, notification_id)
        assert notification is not None
        store = session.get(Store, notification.store_id)
        assert store is not None
        decision = apply_send_error(session, store, notification, error, now)
        notification.attempts += 1
        if decision.kind == ErrorKind.UNCERTAIN:
            notification.reason = decision.reason  # stays `sending`: reconciled, never resent
            return "uncertain"
        if decision.retry_at is not None:
            release(notification, NotificationState.PENDING, decision.reason)
            notification.due_at = decision.retry_at
            return "deferred"
        release(notification, NotificationState.FAILED, decision.reason)
        return "failed"


def dispatch_due(
    database: Database,
    now: dt.datetime,
    *,
    budget_seconds: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> DispatchCounts:
    """Send what is due until nothing is left or the time budget is spent.

    Batches overlap: the next one is claimed, judged and handed to the senders while those
    in flight are answered, as soon as one of the `concurrency` senders is free, and each
    batch is recorded once all its answers are in. So sending never waits for the database,
    and at Meta's answer times every sender stays busy with at most one batch queued behind
    them (rows a dying worker strands: they expire unconfirmed, never resent). A batch's
    guards may run before an earlier batch's errors are recorded (as in another worker); a
    buyer in both is protected by the caps, since in-flight rows count as sent. A batch still
    waiting for tokens when the budget ends gives its unsent rows back rather than hold the
    run (and the worker's next run) for up to a second at Meta's 80 msg/s, and the run ends
    there: claiming again would only hand the next batch back too.
    """
    counts = DispatchCounts()
    until = None if budget_seconds is None else time.monotonic() + budget_seconds
    in_flight: list[InFlight] = []
    try:
        while until is None or time.monotonic() < until:
            ids = claim(database, now)
            if not ids:
                break
            batch = start_sending(database, prepare(database, ids, now, counts), until, concurrency)
            in_flight.append(batch)
            while True:  # record what is answered; claim again once a sender is free
                for done in [b for b in in_flight if b.done()]:
                    in_flight.remove(done)
                    record(database, done, now, counts)
                waiting = [f for b in in_flight for _, f in b.calls if not f.done()]
                if len(waiting) < concurrency:
                    break
                futures.wait(waiting, return_when=futures.FIRST_COMPLETED)
            if batch.unsent:
                break
    finally:
        for batch in in_flight:
            record(database, batch, now, counts)
    return counts


def reconcile_sending(database: Database, now: dt.datetime) -> tuple[int, int]:
    """Settle rows a dead worker left `sending`: sent if Meta reported them, else expired."""
    cutoff = now - SENDING_TIMEOUT
    stale = (Notification.state == NotificationState.SENDING) & (Notification.claimed_at < cutoff)
    with database.session() as session:
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
