"""Dispatch: claim due notifications, check the guards again, send each at most once.

1. Claim: one short transaction selects due `pending` rows (FOR UPDATE SKIP LOCKED on
   PostgreSQL), marks them `sending` with this run's claim token, and commits. The update
   repeats `state = 'pending'`, so even without SKIP LOCKED (SQLite) a row has one claimant.
2. Guards run again; a veto ends the row `skipped`, a wait gives it back as `pending` later.
3. The throughput limiter and the messaging tier are respected across all workers.
4. Hand off: right before the calls, one statement per group sets `handed_at` on the rows
   still claimed by this token, and commits with the rate tokens taken for them. Only those
   are sent.
5. Send, several calls in flight per worker (`plugin/engine/sending.py`), and record the
   answers as they come, a group at a time (GROUP), each place held until then. While calls
   are in flight the worker claims and judges the next batch, so its senders never wait for
   the database.

Each worker has one `Dispatcher` (`worker_dispatcher(app)`): it owns the sender thread and its
places, the connections to the Graph API and the settings they follow, so two runs of a
worker that overlap share one bound on calls in flight. The row states each step moves
through live in plugin/engine/claims.py.

A worker that dies leaves its rows `sending`. Those without `handed_at` never reached the
network: `reconcile_sending` gives them back as `pending` and they are sent once. Those with it
are uncertain (at most the worker's calls in flight): a status webhook settles them, or they
expire with their reason. They are never resent. A stalled worker whose claim was given back
meanwhile hands off nothing: step 4 checks its token.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
import weakref
from dataclasses import dataclass
from types import TracebackType

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.config import Settings
from plugin.db import Database, among, get_database
from plugin.engine import guards
from plugin.engine.batch import BatchFacts, Claimed, facts_for, load_batch
from plugin.engine.claims import (
    Outcome,
    Settled,
    batch_size,
    claim,
    give_back,
    hand_off,
    record_error,
    record_sent,
    settle,
)
from plugin.engine.sending import InFlight, Outcomes, Prepared, Senders, start_sending
from plugin.leases import worker_id
from plugin.models import Flow, Notification, NotificationState, WhatsAppAccount
from plugin.whatsapp import limits
from plugin.whatsapp.channel import Channel, TemplateMessage
from plugin.whatsapp.client import channel_for

log = logging.getLogger(__name__)

#: New recipients over the messaging tier wait this long before the next try.
TIER_RETRY = dt.timedelta(minutes=15)
#: Answers are recorded, and the places they free handed off again, a group at a time: Meta's
#: answers trickle in one by one, and a statement each for the record, the tokens and the
#: hand-off of every single message would cost more than the send. A group is this many
#: answers (half the senders, if fewer), or what there is once the first of them
#: waited GROUP_WAIT seconds. Places stay taken until recorded, so the bound holds.
GROUP = 32
GROUP_WAIT = 0.02


@dataclass
class DispatchCounts:
    """What one run did with the rows it claimed, by outcome, and what its hand-offs cost."""

    sent: int = 0
    skipped: int = 0
    deferred: int = 0
    failed: int = 0
    expired: int = 0
    uncertain: int = 0
    #: What the hand-off record cost: statements (each one commit) and their wall time.
    hand_offs: int = 0
    hand_off_seconds: float = 0.0

    def add(self, outcome: Outcome, count: int = 1) -> None:
        """Count `count` rows that ended so in this run."""
        match outcome:
            case Outcome.SENT:
                self.sent += count
            case Outcome.SKIPPED:
                self.skipped += count
            case Outcome.DEFERRED:
                self.deferred += count
            case Outcome.FAILED:
                self.failed += count
            case Outcome.EXPIRED:
                self.expired += count
            case Outcome.UNCERTAIN:
                self.uncertain += count


def claim_token() -> str:
    """A claim token: this worker, and one dispatch run of it."""
    return f"{worker_id()}:{uuid.uuid4().hex[:12]}"


def message_for(
    notification: Claimed, now: dt.datetime, category: str | None = None
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
    batch: BatchFacts,
    tiers: dict[int, limits.TierRoom],
    notification: Claimed,
    now: dt.datetime,
) -> Settled | None:
    """Guards and the messaging tier for one claimed row: None when it goes now, else what
    becomes of it."""
    facts = facts_for(batch, notification)
    verdict = guards.evaluate(facts, now, notification.expires_at)
    row_id = notification.id
    if verdict.expired:
        settled = Settled(row_id, Outcome.EXPIRED, NotificationState.EXPIRED, verdict.guard)
    elif not verdict.passed:
        settled = Settled(row_id, Outcome.SKIPPED, NotificationState.SKIPPED, verdict.guard)
    elif verdict.at > now:
        settled = Settled(row_id, Outcome.DEFERRED, NotificationState.PENDING, None, verdict.at)
    elif not tiers[notification.store_id].admits(facts.phone):
        again = now + TIER_RETRY
        settled = Settled(row_id, Outcome.DEFERRED, NotificationState.PENDING, None, again)
    else:
        return None
    # no longer counts against this buyer's caps
    subscription = facts.subscription.id if facts.subscription else None
    batch.preloaded.forget(notification.store_id, facts.phone, subscription, row_id)
    return settled


#: What judging and sending a claimed row reads (the columns `Claimed` names), loaded as plain
#: rows: a row has thirty columns, and an ORM object of even these cost as much as the guards.
JUDGED = select(*(getattr(Notification, name) for name in Claimed.__annotations__)).order_by(
    Notification.id
)


def prepare(
    database: Database, ids: list[int], now: dt.datetime, counts: DispatchCounts
) -> list[Prepared]:
    """Re-check every claimed row; settle the ones that must not go now; return the rest."""
    ready, settled = [], []
    with database.session() as session:
        rows = session.execute(JUDGED.where(among(session, Notification.id, ids))).all()
        batch = load_batch(session, rows, now)  # templates read now: Meta may have paused one
        phones = {row.phone or "" for row in rows}
        tiers = {
            store_id: limits.tier_room(session, account, phones, ids, now)
            for store_id, account in batch.accounts.items()
        }
        for notification in rows:
            ending = judge(batch, tiers, notification, now)
            if ending is None:
                account = batch.accounts[notification.store_id]
                assert account is not None  # phone_quality passed
                key = (notification.store_id, notification.template_name, notification.language)
                template = batch.templates.get(key)
                category = template.category if template is not None else None
                message = message_for(notification, now, category)
                ready.append(Prepared(notification.id, message, account))
            else:
                settled.append(ending)
                counts.add(ending.outcome)
        settle(session, settled)
        session.expunge_all()
    return ready


def record(
    database: Database, outcomes: Outcomes, now: dt.datetime, counts: DispatchCounts
) -> None:
    """Record answered calls: Meta's ids in one statement, each error by its meaning."""
    record_sent(database, outcomes.wamids, now)
    counts.add(Outcome.SENT, len(outcomes.wamids))
    for notification_id, error in outcomes.errors.items():
        counts.add(record_error(database, notification_id, error, now))


class Dispatcher:
    """One worker's dispatcher: its sender thread, its places for calls in flight and its
    connections to the Graph API, and the settings (limits, endpoints) they follow.

    Made in the process that sends (a fork makes its own: `worker_dispatcher`); closed, its
    thread ends and its connections close.
    """

    def __init__(
        self, database: Database, settings: Settings, *, concurrency: int | None = None
    ) -> None:
        self.database = database
        self.settings = settings
        self.senders = Senders(concurrency or settings.send_concurrency)
        self.pid = os.getpid()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, wait: bool = True) -> None:
        """End the sender thread (once its calls are answered, with `wait`) and close its
        connections."""
        self.senders.close(wait)

    def channel(self, account: WhatsAppAccount) -> Channel:
        """The channel a number sends through, on this dispatcher's connections."""
        return channel_for(account, self.settings, self.database, self.senders.multiplexer)

    def dispatch_due(
        self, now: dt.datetime, *, budget_seconds: float | None = None
    ) -> DispatchCounts:
        """Send what is due until nothing is left or the time budget is spent.

        Rows are handed off as places for calls free up, a few at a time, each group recorded
        (`hand_off`) right before its calls; answers are recorded as they come and free their
        places. A batch is claimed and judged while the previous one's calls are in flight, so
        sending never waits for the database. A batch's guards may run before an earlier
        batch's errors are recorded (as in another worker); a buyer in both is protected by the
        caps, since in-flight rows count as sent. Rows still waiting for tokens when the budget
        ends go back unsent rather than hold the run (and the worker's next run) for up to a
        second at Meta's 80 msg/s, and the run ends there: claiming again would only hand them
        back too.
        """
        database, pool = self.database, self.senders
        counts = DispatchCounts()
        started = time.monotonic()
        until = None if budget_seconds is None else started + budget_seconds
        token = claim_token()
        handed = 0  # rows this run handed to the senders: its rate sizes the next claim
        in_flight = InFlight(pool)
        queue: list[Prepared] = []
        group = max(1, min(GROUP, pool.concurrency // 2))
        waiting_since: float | None = None  # when an answer first waited to be recorded

        def handed_off(session: Session, ids: list[int]) -> list[int]:
            began = time.perf_counter()
            ours = hand_off(session, token, ids, now)
            counts.hand_offs += 1
            counts.hand_off_seconds += time.perf_counter() - began
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
                    finally:  # recorded, or left `sending` to reconciliation: places are free
                        pool.give(len(answered.wamids) + len(answered.errors))
                if not queue:
                    if until is not None and time.monotonic() >= until:
                        break
                    size = batch_size(handed, time.monotonic() - started)
                    ids = claim(database, now, token, size)
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
                    sent, unsent = start_sending(
                        database, taken, handed_off, in_flight, self.channel, until
                    )
                    handed += sent
                finally:  # a place is held only by a call handed to a sender
                    pool.give(places - (len(in_flight.calls) - before))
                if unsent:  # the limiter gave up on these: nothing of them was sent
                    unsent += [item.notification_id for item in queue]
                    give_back(database, token, unsent)
                    counts.add(Outcome.DEFERRED, len(unsent))
                    queue = []
                    break
        finally:
            give_back(database, token, [item.notification_id for item in queue])
            counts.add(Outcome.DEFERRED, len(queue))
            answered = in_flight.answered(wait_all=True)
            try:
                record(database, answered, now, counts)
            finally:
                pool.give(len(answered.wamids) + len(answered.errors))
        return counts


#: Where an app keeps its worker's dispatcher.
DISPATCHER = "shopnudge.dispatcher"


def worker_dispatcher(app: Flask) -> Dispatcher:
    """This process's dispatcher for the app, made on first use; a forked worker makes its own
    (threads and sockets do not cross a fork)."""
    dispatcher: Dispatcher | None = app.extensions.get(DISPATCHER)
    if dispatcher is None or dispatcher.pid != os.getpid():
        dispatcher = Dispatcher(get_database(app), app.config["SHOPNUDGE"])
        app.extensions[DISPATCHER] = dispatcher
        # closed with the app, not left to the collector: its sockets close explicitly, and
        # without waiting, as the collector may run in its own sender thread
        weakref.finalize(app, dispatcher.close, wait=False)
    return dispatcher


def dispatch_due(
    database: Database,
    settings: Settings,
    now: dt.datetime,
    *,
    budget_seconds: float | None = None,
    concurrency: int | None = None,
) -> DispatchCounts:
    """One run of a dispatcher made for it and closed after (tests, one-off runs); a worker
    keeps its own (`worker_dispatcher`)."""
    with Dispatcher(database, settings, concurrency=concurrency) as dispatcher:
        return dispatcher.dispatch_due(now, budget_seconds=budget_seconds)
