"""Meta's sending limits, held across every worker process through the database.

Throughput: a phone number sends at most `throughput_mps` messages per second (80 by default,
up to 1,000 on request): https://developers.facebook.com/docs/whatsapp/throughput
Messaging limit: a business may start conversations with at most its tier's number of unique
recipients in a moving 24 hours:
https://developers.facebook.com/docs/whatsapp/messaging-limits
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin import ratelimit
from plugin.db import Database, utcnow
from plugin.models import Notification, NotificationState, WhatsAppAccount

#: Unique recipients per moving 24 h by tier; None: no limit.
TIER_RECIPIENTS: dict[str, int | None] = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1_000,
    "TIER_2K": 2_000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
    "TIER_UNLIMITED": None,
}
#: Default throughput when the account row has none.
DEFAULT_MPS = 80
#: A tenth of a second of tokens may be spent at once: smooth, but no lock per message wasted.
BURST_SECONDS = 0.1
#: Longest a worker sleeps for one token before giving the message back to the queue.
MAX_WAIT_SECONDS = 2.0


def bucket_key(account: WhatsAppAccount) -> str:
    return f"whatsapp:mps:{account.phone_number_id}"


def burst_of(account: WhatsAppAccount) -> float:
    return max(1.0, float(account.throughput_mps or DEFAULT_MPS) * BURST_SECONDS)


def acquire(
    database: Database, account: WhatsAppAccount, wanted: int, until: float | None = None
) -> int:
    """Block until the number may send some of `wanted` messages; how many (0: gave up).

    Each lock grants what the bucket holds, up to a burst, so a batch costs a round trip or
    two rather than one per message, and the rate still holds across every process. Gives up
    after MAX_WAIT_SECONDS, or rather than wait past `until` (time.monotonic()).
    """
    rate = float(account.throughput_mps or DEFAULT_MPS)
    wanted = max(1, min(wanted, int(burst_of(account))))
    waited = 0.0
    while True:
        with database.session() as session:
            granted, wait = ratelimit.take_up_to(
                session, bucket_key(account), rate=rate, burst=burst_of(account), wanted=wanted
            )
        if granted:
            return granted
        if waited + wait > MAX_WAIT_SECONDS or (
            until is not None and time.monotonic() + wait > until
        ):
            return 0
        time.sleep(wait)
        waited += wait


@dataclass
class TierRoom:
    """New buyers one number's messaging tier still admits in the moving 24 h, for one batch."""

    #: Unique recipients the tier allows; None: no limit.
    limit: int | None
    #: Buyers reached (sent or sending) in the window; these never count as new again.
    reached: set[str] = field(default_factory=set)
    #: New recipients still allowed.
    room: int = 0

    def admits(self, phone: str) -> bool:
        """True when this buyer may be messaged; a new one takes a place."""
        if self.limit is None or phone in self.reached:
            return True
        if self.room <= 0:
            return False
        self.room -= 1
        self.reached.add(phone)
        return True


def tier_room(
    session: Session,
    account: WhatsAppAccount | None,
    phones: set[str],
    claimed: list[int],
    now: dt.datetime | None = None,
) -> TierRoom:
    """The tier's room for a claimed batch: two queries per batch, none without a tier.

    The batch's own rows are `sending` already; they are left out, or every buyer in it would
    look reached and the tier would never hold.
    """
    limit = TIER_RECIPIENTS.get((account.messaging_limit_tier if account else None) or "")
    if account is None or limit is None:
        return TierRoom(None)
    now = now or utcnow()
    moment = func.coalesce(Notification.sent_at, Notification.claimed_at)
    recent = (
        Notification.store_id == account.store_id,
        Notification.state.in_([NotificationState.SENT, NotificationState.SENDING]),
        moment > now - dt.timedelta(hours=24),
        Notification.id.not_in(claimed),
    )
    distinct_phones = func.count(func.distinct(Notification.phone))
    recipients = session.scalar(select(distinct_phones).where(*recent))
    reached = session.scalars(
        select(Notification.phone).distinct().where(*recent, Notification.phone.in_(phones))
    )
    return TierRoom(limit, {phone for phone in reached if phone}, limit - int(recipients or 0))
