"""Dispatch: claim due notifications, check the guards again, send each at most once.

1. Claim: one short transaction selects due `pending` rows (FOR UPDATE SKIP LOCKED on
   PostgreSQL), marks them `sending` with this run's claim token, and commits. The update
   repeats `state = 'pending'`, so even without SKIP LOCKED (SQLite) a row has one claimant.
2. Guards run again; a veto ends the row `skipped`, a wait gives it back as `pending` later.
3. The throughput limiter and the messaging tier are respected across all workers.
4. Hand off: right before the calls, one statement per group sets `handed_at` on the rows
   still claimed by this token, and commits. Only those are sent.
5. Send, several calls in flight per worker (`plugin/engine/sending.py`), and record the
   answers as they come, a group at a time (GROUP), each place held until then. While calls
   are in flight the worker claims and judges the next batch, so its senders never wait for
   the database.

A worker that dies leaves its rows `sending`. Those without `handed_at` never reached the
network: `reconcile_sending` gives them back as `pending` and they are sent once. Those with it
are uncertain (at most the worker's calls in flight): a status webhook settles them, or they
expire with their reason. They are never resent. A stalled worker whose claim was given back
meanwhile hands off nothing: step 4 checks its token.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from plugin.db import Database, skip_locked
from plugin.engine import guards
from plugin.engine.batch import BatchFacts, facts_for, load_batch
from plugin.engine.sending import (
    DEFAULT_CONCURRENCY,
    InFlight,
    Outcomes,
    Prepared,
    senders,
    start_sending,
)
from plugin.models import Flow, Notification, NotificationState, Store
from plugin.scheduler import worker_id
from plugin.whatsapp import limits
from plugin.whatsapp.channel import SendError, TemplateMessage, delivery_status_of
from plugin.whatsapp.errors import ErrorKind, apply_send_error
from plugin.whatsapp.statuses import UNCONFIRMED  # a dead worker's uncertain rows

log = logging.getLogger(__name__)

#: Rows one claim takes. Each batch costs a dozen statements whatever its size, so a small one
#: spends more on PostgreSQL than on sending; a large one sends its last row longer after its
#: guards ran (a dead worker's unsent rows go back to `pending`). 50 is 50 ms of sending at
#: 1,000 msg/s and 0.6 s at Meta's default 80 msg/s.
BATCH = 50
#: A claimed row not handed off for this long belongs to a dead (or stalled) worker and goes
#: back to `pending`; a live claim hands off within a run's second. The hand-off checks the
#: claim token, so a stalled worker that wakes up later sends none of it.
CLAIM_TIMEOUT = dt.timedelta(minutes=2)
#: A handed-off row older than this is settled by reconciliation (a live send takes seconds;
#: Meta's status webhook usually comes within them).
SENDING_TIMEOUT = dt.timedelta(minutes=10)
#: New recipients over the messaging tier wait this long before the next try.
TIER_RETRY = dt.timedelta(minutes=15)
#: Answers are recorded, and the places they free handed off again, a group at a time: Meta's
#: answers trickle in one by one, and a statement each for the record, the tokens and the
#: hand-off of every single message would cost more than the send. A group is this many
#: answers (a quarter of the senders, if fewer), or what there is once the first of them
#: waited GROUP_WAIT seconds. Places stay taken until recorded, so the bound holds.
GROUP = 16
GROUP_WAIT = 0.02


@dataclass
class DispatchCounts:
    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    expired: int = 0
    uncertain: int = 0
    #: What the hand-off record cost: statements (each one commit) and their wall time.
    hand_offs: int = 0
    hand_off_seconds: float = 0.0


def claim_token() -> str:
    """A claim token: this worker, and one dispatch run of it."""
    return f"{worker_id()}:{uuid.uuid4().hex[:12]}"


def claim(
    database: Database, now: dt.datetime, batch: int = BATCH, token: str | None = None
) -> list[int]:
    """Mark up to `batch` due rows `sending` under `token`, committed; return their ids.

    Two statements in one transaction: the select locks due rows no other worker holds (SKIP
    LOCKED on PostgreSQL), and the update's own `state = 'pending'` keeps a row to one claimant
    anywhere. Not one `UPDATE … WHERE id IN (SELECT … LIMIT n)`: PostgreSQL may rescan that
    subquery for every row it updates and claim far more than `batch`.
    """
    token = token or claim_token()
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
            .values(handed_at=None)
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(claimed)


def hand_off(database: Database, token: str, ids: list[int], now: dt.datetime) -> list[int]:
    """Record, committed, that these rows go to the network now; the ones still ours.

    Called right before the calls, for the few rows the senders take at once: a worker killed
    after this leaves them uncertain, one killed before leaves them to be sent again. A row
    whose claim reconciliation gave back (or another run holds) is not returned.
    """
    if not ids:
        return []
    with database.session() as session:
        handed = session.scalars(
            update(Notification)
            .where(
                Notification.id.in_(ids),
                Notification.state == NotificationState.SENDING,
                Notification.claimed_by == token,
                Notification.handed_at.is_(None),
            )
            .values(handed_at=now)
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(handed)


def give_back(database: Database, token: str, ids: list[int]) -> None:
    """Rows this claim never handed off: `pending` again, for any worker."""
    if ids:
        with database.session() as session:
            session.execute(
                update(Notification)
                .where(
                    Notification.id.in_(ids),
                    Notification.claimed_by == token,
                    Notification.handed_at.is_(None),
                )
                .values(state=NotificationState.PENDING, reason=None)
                .values(claimed_by=None, claimed_at=None)
                .execution_options(synchronize_session=False)
            )


def release(notification: Notification, state: str, reason: str | None) -> None:
    notification.state, notification.reason = state, reason
    if state == NotificationState.PENDING:
        notification.claimed_by = notification.claimed_at = notification.handed_at = None


def message_for(
    notification: Notification, now: dt.datetime, category: str | None = None
) -> TemplateMessage:
    """The message for a row; `category` is its template's latest (it picks the endpoint)."""
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
        category=category,
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
                key = (notification.store_id, notification.template_name, notification.language)
                template = batch.templates.get(key)
                category = template.category if template is not None else None
                message = message_for(notification, now, category)
                ready.append(Prepared(notification.id, message, account))
            else:
                setattr(counts, outcome, getattr(counts, outcome) + 1)
        session.flush()  # the settled rows are written before the objects are detached
        session.expunge_all()
    return ready


def record(
    database: Database, outcomes: Outcomes, now: dt.datetime, counts: DispatchCounts
) -> None:
    """Record answered calls: Meta's ids in one statement, each error by its meaning."""
    record_sent(database, outcomes.wamids, now)
    counts.sent += len(outcomes.wamids)
    for notification_id, error in outcomes.errors.items():
        outcome = record_error(database, notification_id, error, now)
        setattr(counts, outcome, getattr(counts, outcome) + 1)


_NOTIFICATIONS = Notification.__table__
#: Built once, as a group of answers is recorded every few milliseconds at 1,000 msg/s and
#: building the statement (and its cache key) each time cost more Python than executing it.
_RECORD_SENT = (
    _NOTIFICATIONS.update()
    .where(_NOTIFICATIONS.c.id == bindparam("row_id"))
    .values(
        state=NotificationState.SENT,
        reason=None,
        sent_at=bindparam("sent"),
        provider_message_id=bindparam("wamid"),
        delivery_status=func.coalesce(_NOTIFICATIONS.c.delivery_status, bindparam("delivery")),
    )
)


def record_sent(database: Database, wamids: dict[int, str], now: dt.datetime) -> None:
    """Mark the batch's sent rows in one statement (a status webhook may have come first)."""
    if not wamids:
        return
    with database.session() as session:
        rows = [  # one lock order; a message Meta holds for pacing shows as held, not failed
            {
                "row_id": i,
                "wamid": wamids[i],
                "delivery": delivery_status_of(wamids[i]),
                "sent": now,
            }
            for i in sorted(wamids)
        ]
        session.execute(_RECORD_SENT, rows)


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

    Rows are handed off as places for calls free up, a few at a time, each group recorded
    (`hand_off`) right before its calls; answers are recorded as they come and free their
    places. A batch is claimed and judged while the previous one's calls are in flight, so
    sending never waits for the database. A batch's guards may run before an earlier batch's
    errors are recorded (as in another worker); a buyer in both is protected by the caps,
    since in-flight rows count as sent. Rows still waiting for tokens when the budget ends go
    back unsent rather than hold the run (and the worker's next run) for up to a second at
    Meta's 80 msg/s, and the run ends there: claiming again would only hand them back too.
    """
    counts = DispatchCounts()
    until = None if budget_seconds is None else time.monotonic() + budget_seconds
    token = claim_token()
    pool = senders(concurrency)
    in_flight = InFlight(pool)
    queue: list[Prepared] = []
    group = max(1, min(GROUP, concurrency // 4))
    waiting_since: float | None = None  # when an answer first waited to be recorded

    def handed_off(ids: list[int]) -> list[int]:
        started = time.perf_counter()
        ours = hand_off(database, token, ids, now)
        counts.hand_offs += 1
        counts.hand_off_seconds += time.perf_counter() - started
        return ours

    try:
        while True:
            done = in_flight.done()
            if done and waiting_since is None:
                waiting_since = time.monotonic()
            if done and (
                done >= min(group, len(in_flight.calls))
                or time.monotonic() - (waiting_since or 0.0) >= GROUP_WAIT
                or not queue  # about to claim: the places may be wanted
            ):
                answered, waiting_since = in_flight.answered(), None
                try:
                    record(database, answered, now, counts)
                finally:  # recorded, or left `sending` to reconciliation: the places are free
                    pool.give(len(answered.wamids) + len(answered.errors))
            if not queue:
                if until is not None and time.monotonic() >= until:
                    break
                ids = claim(database, now, token=token)
                if not ids:
                    break
                queue = prepare(database, ids, now, counts)
                continue
            places = pool.take(len(queue), timeout=0 if in_flight.calls else 0.05)
            if not places:  # they come back a group at a time
                in_flight.wait(GROUP_WAIT, count=group)
                continue
            taken, queue = queue[:places], queue[places:]
            before = len(in_flight.calls)
            try:
                _, unsent = start_sending(database, taken, handed_off, in_flight, until)
            finally:  # a place is held only by a call handed to a sender
                pool.give(places - (len(in_flight.calls) - before))
            if unsent:  # the limiter gave up on these: nothing of them was sent
                unsent += [item.notification_id for item in queue]
                give_back(database, token, unsent)
                counts.deferred += len(unsent)
                queue = []
                break
    finally:
        give_back(database, token, [item.notification_id for item in queue])
        counts.deferred += len(queue)
        answered = in_flight.answered(wait_all=True)
        try:
            record(database, answered, now, counts)
        finally:
            pool.give(len(answered.wamids) + len(answered.errors))
    return counts


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
            .values(state=NotificationState.PENDING, reason=None)
            .values(claimed_by=None, claimed_at=None)
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
