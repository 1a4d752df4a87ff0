"""Send prepared messages within each number's throughput, several at once; say how each went.

Meta answers a send in a few hundred milliseconds, so one call at a time would hold a worker far
below the 80 to 1,000 messages a second a number may send: each worker keeps up to
`send_concurrency` calls in flight (SHOPNUDGE_SEND_CONCURRENCY) from one sender thread (a
`Multiplexer`), owned by the worker's dispatcher (plugin.engine.dispatch.Dispatcher). The
throughput limiter, taken before a message is handed to a sender, bounds the rate across every
process. This module writes nothing to the outbox itself: the caller's `hand_off` records which
rows go to the network, in one statement per group, in the transaction that took their tokens
and committed before the calls start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

from sqlalchemy.orm import Session

from plugin.db import Database
from plugin.leases import worker_id
from plugin.models import WhatsAppAccount
from plugin.whatsapp import limits
from plugin.whatsapp.channel import Channel, SendError, TemplateMessage
from plugin.whatsapp.multiplex import Multiplexer

log = logging.getLogger(__name__)


class Senders:
    """A dispatcher's sender thread and its places for calls in flight.

    A place is taken before a row is handed off and given back once its answer is recorded,
    so the rows a killed worker leaves uncertain are at most its calls in flight: never more
    than `concurrency`, however many of its dispatcher's runs overlap.
    """

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.multiplexer = Multiplexer(concurrency, name="shopnudge-send")
        self._free = concurrency
        self._changed = threading.Condition()

    def take(self, wanted: int, timeout: float = 0.0) -> int:
        """Take up to `wanted` places, waiting up to `timeout` seconds for one; how many."""
        with self._changed:
            if not self._free and timeout > 0:
                self._changed.wait_for(lambda: self._free > 0, timeout)
            taken = min(wanted, self._free)
            self._free -= taken
            return taken

    def give(self, count: int) -> None:
        if count:
            with self._changed:
                self._free += count
                self._changed.notify_all()

    @property
    def in_flight(self) -> int:
        return self.concurrency - self._free

    def close(self, wait: bool = True) -> None:
        """End the thread once its calls are answered (waiting for that, with `wait`)."""
        self.multiplexer.close(wait)


class Prepared(NamedTuple):
    """A claimed row that passed its guards: what to send, through which number."""

    notification_id: int
    message: TemplateMessage
    account: WhatsAppAccount


@dataclass
class Outcomes:
    """What became of a batch: Meta's ids, errors, and rows the limiter never let go."""

    wamids: dict[int, str] = field(default_factory=dict)
    errors: dict[int, SendError] = field(default_factory=dict)
    unsent: list[int] = field(default_factory=list)


@dataclass
class InFlight:
    """One dispatch run's calls handed to the senders, each holding a place until recorded.

    Answers are counted as they come (in the sender thread), and a waiting dispatcher is woken
    once enough are there, not at every answer: at 1,000 msg/s, waking it per answer to look
    over every call in flight cost more than recording them.
    """

    senders: Senders
    calls: dict[int, Future[str]] = field(default_factory=dict)
    #: Rows whose calls are answered and not yet taken by `answered`.
    _ready: list[int] = field(default_factory=list)
    #: How many answers the waiting dispatcher wants before it wakes; 0: none waits.
    _wanted: int = 0
    _answer: threading.Condition = field(default_factory=threading.Condition)

    def submit(self, channel: Channel, item: Prepared, worker: str) -> None:
        """Log the attempt, then start the call: the log of every worker is the record of
        every send."""
        log.info("notification %s sending by %s", item.notification_id, worker)
        future = self.senders.multiplexer.submit(channel.template_steps(item.message))
        self.calls[item.notification_id] = future
        future.add_done_callback(partial(self._answered, item.notification_id))

    def _answered(self, notification_id: int, _future: Future[str]) -> None:
        with self._answer:
            self._ready.append(notification_id)
            if self._wanted and len(self._ready) >= self._wanted:
                self._answer.notify()

    def done(self) -> int:
        """How many of the calls are answered (and not yet taken by `answered`)."""
        return len(self._ready)

    def wait(self, timeout: float | None = None, count: int = 1) -> None:
        """Until at least `count` calls are answered (all, if fewer are out) or the timeout."""
        count = min(count, len(self.calls))
        if count:
            with self._answer:
                self._wanted = count
                self._answer.wait_for(lambda: len(self._ready) >= count, timeout)
                self._wanted = 0

    def answered(self, wait_all: bool = False) -> Outcomes:
        """The calls answered so far (every call with `wait_all`), no longer in this run."""
        with self._answer:
            ready, self._ready = self._ready, []
        if wait_all:  # (an answer's count may come after its future ends: take the futures)
            ready = list(self.calls)
        outcomes = Outcomes()
        for notification_id in ready:
            future = self.calls.pop(notification_id, None)
            if future is None:  # counted after a `wait_all` took it
                continue
            try:
                outcomes.wamids[notification_id] = future.result()
            except SendError as error:
                outcomes.errors[notification_id] = error
        return outcomes


def start_sending(
    database: Database,
    items: list[Prepared],
    hand_off: Callable[[Session, list[int]], list[int]],
    in_flight: InFlight,
    open_channel: Callable[[WhatsAppAccount], Channel],
    until: float | None = None,
) -> tuple[int, list[int]]:
    """Hand each item to a sender once its number's throughput allows it, holding a place each.

    `hand_off` records, in the transaction that took the rows' tokens, which rows go to the
    network and returns those still ours; only those are sent, once that commits. Returns how
    many were sent and the rows the limiter never let go (no tokens are waited for past
    `until`, time.monotonic()): those and what follows them go back.
    """
    by_number: dict[str, list[Prepared]] = {}
    for item in items:
        by_number.setdefault(item.account.phone_number_id, []).append(item)
    worker, handed, unsent = worker_id(), 0, []
    for group in by_number.values():
        account = group[0].account
        channel = open_channel(account)
        start = 0
        while start < len(group) and not unsent:
            with limits.tokens(database, account, len(group) - start, until) as (
                session,
                granted,
            ):
                chunk = group[start : start + granted]
                ours = set(
                    hand_off(session, [item.notification_id for item in chunk]) if chunk else []
                )
            if granted == 0:  # saturated, or the run is over: these go back to the queue unsent
                unsent = [item.notification_id for item in group[start:]]
                break
            for item in chunk:
                if item.notification_id in ours:
                    in_flight.submit(channel, item, worker)
            handed += len(ours)
            start += granted
        if unsent:
            rest = list(by_number.values())
            for later in rest[rest.index(group) + 1 :]:
                unsent.extend(item.notification_id for item in later)
            break
    return handed, unsent
