"""Send prepared messages within each number's throughput, several at once; say how each went.

Meta answers a send in a few hundred milliseconds, so one call at a time would hold a worker far
below the 80 to 1,000 messages a second a number may send: each worker keeps up to
`send_concurrency` calls in flight (SHOPNUDGE_SEND_CONCURRENCY), one sender thread each. The
throughput limiter, taken before a message is handed to a sender, bounds the rate across every
process; this module writes nothing to the outbox.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

from plugin.db import Database
from plugin.models import WhatsAppAccount
from plugin.scheduler import worker_id
from plugin.whatsapp import limits
from plugin.whatsapp.channel import Channel, SendError, TemplateMessage, channel_for

log = logging.getLogger(__name__)

#: Calls to Meta in flight per worker process when the settings do not say.
DEFAULT_CONCURRENCY = 64

_executor: tuple[tuple[int, int], ThreadPoolExecutor] | None = None


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


def senders(concurrency: int) -> ThreadPoolExecutor:
    """This process's sender threads (a forked worker starts its own)."""
    global _executor
    key = (os.getpid(), concurrency)
    if _executor is None or _executor[0] != key:
        if _executor is not None and _executor[0][0] == os.getpid():
            _executor[1].shutdown(wait=False)  # resized: its threads end once idle
        _executor = (key, ThreadPoolExecutor(concurrency, thread_name_prefix="shopnudge-send"))
    return _executor[1]


def send_one(channel: Channel, notification_id: int, message: TemplateMessage, worker: str) -> str:
    """Log the attempt, then call Meta: the log of every worker is the record of every send."""
    log.info("notification %s sending by %s", notification_id, worker)
    try:
        return channel.send_template(message)
    except SendError:
        raise
    except Exception as error:  # a bug of ours after the call may have gone out: never resend
        log.exception("notification %s: unexpected error while sending", notification_id)
        raise SendError(
            0, "unexpected error", maybe_sent=True, details=type(error).__name__
        ) from error


@dataclass
class InFlight:
    """A batch handed to the senders: its calls, and the rows the limiter never let go."""

    calls: list[tuple[int, Future[str]]] = field(default_factory=list)
    unsent: list[int] = field(default_factory=list)

    def done(self) -> bool:
        return all(future.done() for _, future in self.calls)

    def outcomes(self) -> Outcomes:
        """Wait for every answer."""
        outcomes = Outcomes(unsent=list(self.unsent))
        for notification_id, future in self.calls:
            try:
                outcomes.wamids[notification_id] = future.result()
            except SendError as error:
                outcomes.errors[notification_id] = error
        return outcomes


def start_sending(
    database: Database,
    ready: list[Prepared],
    until: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> InFlight:
    """Hand each message to the senders once its number's throughput allows it; return at once.

    The caller judges its next batch while these are sent, then waits with `outcomes()`.

    No tokens are waited for past `until` (time.monotonic()): what is left then goes back.
    """
    by_number: dict[str, list[Prepared]] = {}
    for item in ready:
        by_number.setdefault(item.account.phone_number_id, []).append(item)
    in_flight = InFlight()
    worker, pool = worker_id(), senders(concurrency)
    for items in by_number.values():
        account = items[0].account
        channel = channel_for(account)  # here, where the app's settings are at hand
        start = 0
        while start < len(items):
            granted = limits.acquire(database, account, len(items) - start, until)
            if granted == 0:  # saturated, or the run is over: these go back to the queue unsent
                in_flight.unsent.extend(item.notification_id for item in items[start:])
                break
            for item in items[start : start + granted]:
                future = pool.submit(send_one, channel, item.notification_id, item.message, worker)
                in_flight.calls.append((item.notification_id, future))
            start += granted
    return in_flight
