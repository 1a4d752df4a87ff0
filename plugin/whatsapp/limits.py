"""Meta's sending limits, held across every worker process through the database.

Throughput: a phone number sends at most `throughput_mps` messages per second (80 by default,
up to 1,000 on request): https://developers.facebook.com/docs/whatsapp/throughput
Messaging limit: a business portfolio may deliver to at most its limit's number of unique
recipients in a moving 24 hours, shared by every number of the portfolio (since 2025-10-07). It
arrives in the `business_capability_update` webhook (`max_daily_conversations_per_business`, -1
for unlimited) and in the number's details; the recipients are counted over every shop whose
number belongs to the same WhatsApp Business Account.
https://developers.facebook.com/docs/whatsapp/messaging-limits
https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/business_capability_update
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin import ratelimit
from plugin.db import Database, utcnow
from plugin.models import Notification, NotificationState, WhatsAppAccount

#: How an unlimited portfolio is stored (Meta's -1).
UNLIMITED = "UNLIMITED"
#: Default throughput when the account row has none.
DEFAULT_MPS = 80
#: A tenth of a second of tokens may be spent at once: smooth, but no lock per message wasted.
BURST_SECONDS = 0.1
#: Longest a worker sleeps for one token before giving the message back to the queue.
MAX_WAIT_SECONDS = 2.0


def recipients_per_day(tier: str | None) -> int | None:
    """Unique recipients a limit allows in 24 h: "TIER_2K", "2000" or "-1" (None: unlimited
    or not known yet, as Meta's own counting then decides)."""
    text = (tier or "").upper().removeprefix("TIER_")
    if not text or text in (UNLIMITED, "NOT_SET", "-1"):
        return None
    multiplier = {"K": 1_000, "M": 1_000_000}.get(text[-1], 1)
    digits = text[:-1] if multiplier > 1 else text
    return int(digits) * multiplier if digits.isdigit() else None


def bucket_key(account: WhatsAppAccount) -> str:
    return f"whatsapp:mps:{account.phone_number_id}"


def burst_of(account: WhatsAppAccount) -> float:
    return max(1.0, float(account.throughput_mps or DEFAULT_MPS) * BURST_SECONDS)


@contextmanager
def tokens(
    database: Database, account: WhatsAppAccount, wanted: int, until: float | None = None
) -> Iterator[tuple[Session, int]]:
    """Wait until the number may send some of `wanted` messages: how many (0: gave up), and the
    transaction that took them, committed after the block (rolled back, with the tokens, if
    it raises). The dispatcher records its hand-off there: one commit for both.

    Each lock grants what the bucket holds, up to a burst, so a batch costs a round trip or
    two rather than one per message, and the rate still holds across every process; the
    bucket's row stays locked for the block, so keep it short. Gives up after
    MAX_WAIT_SECONDS, or rather than wait past `until` (time.monotonic()).
    """
    rate = float(account.throughput_mps or DEFAULT_MPS)
    wanted = max(1, min(wanted, int(burst_of(account))))
    waited = 0.0
    while True:
        with database.session() as session:
            granted, wait = ratelimit.take_up_to(
                session, bucket_key(account), rate=rate, burst=burst_of(account), wanted=wanted
            )
            if (
                granted
                or waited + wait > MAX_WAIT_SECONDS
                or (until is not None and time.monotonic() + wait > until)
            ):
                yield session, granted
                return
        time.sleep(wait)
        waited += wait


def acquire(
    database: Database, account: WhatsAppAccount, wanted: int, until: float | None = None
) -> int:
    """`tokens`, taken and committed: how many of `wanted` the number may send now."""
    with tokens(database, account, wanted, until) as (_, granted):
        return granted


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
    """The portfolio's room for a claimed batch: two queries per batch, none without a limit.

    Recipients count over every shop whose number shares this account's WABA: the limit is the
    portfolio's, not one number's. The batch's own rows are `sending` already; they are left
    out, or every buyer in it would look reached and the limit would never hold.
    """
    limit = recipients_per_day(account.messaging_limit_tier if account else None)
    if account is None or limit is None:
        return TierRoom(None)
    now = now or utcnow()
    moment = func.coalesce(Notification.sent_at, Notification.claimed_at)
    portfolio = select(WhatsAppAccount.store_id).where(WhatsAppAccount.waba_id == account.waba_id)
    recent = (
        Notification.store_id.in_(portfolio.scalar_subquery()),
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
