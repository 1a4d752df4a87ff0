"""What each Cloud API error code means, and what ShopNudge does about it.

https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes

| codes | kind | what happens |
| --- | --- | --- |
| 130429, 80007, 4, 131056, 131057, 131000, 131016, 5xx | RETRY | backoff with jitter |
| 131049 | HOLD_BUYER | Meta's per-buyer marketing cap: no marketing to that buyer for 24 h |
| 131050 | OPT_OUT | the buyer stopped marketing in WhatsApp: recorded as an opt-out |
| 131026 | UNDELIVERABLE | the number cannot get messages: flagged, not retried |
| 131047, 130472 | TERMINAL | outside the service window / experiment: ends this message |
| 132000, 132001, 132005, 132007, 132012, 132015, 132016 | TEMPLATE | flag it, hold its flow |
| 131048, 131064 | SPAM_LIMIT | spam limits: pause marketing for the shop |
| 131042, 131031, 368, 190 | ACCOUNT | account, payment or token: pause the shop, tell the owner |
| anything else | TERMINAL | ends this message with Meta's title |

131056 (pair rate: too many messages to one buyer) waits four times longer: never burst one
buyer. A transport failure before any answer (code 0) is retried like a 5xx.

A transport failure where the request may have reached Meta (a timeout after sending) is never
retried blindly: the row stays `sending` until a status webhook or the expiry settles it.
"""

from __future__ import annotations

import datetime as dt
import enum
import random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent import ledger
from plugin.models import (
    Notification,
    Store,
    StoreStatus,
    WhatsAppAccount,
    WhatsAppTemplate,
)
from plugin.whatsapp.channel import SendError


class ErrorKind(enum.StrEnum):
    RETRY = "retry"
    HOLD_BUYER = "hold_buyer"
    OPT_OUT = "opt_out"
    UNDELIVERABLE = "undeliverable"
    TEMPLATE = "template"
    SPAM_LIMIT = "spam_limit"
    ACCOUNT = "account"
    TERMINAL = "terminal"
    UNCERTAIN = "uncertain"  # may have been sent: reconcile, never resend


CODES: dict[int, ErrorKind] = {
    **dict.fromkeys((130429, 80007, 4, 131056, 131057, 131000, 131016), ErrorKind.RETRY),
    131049: ErrorKind.HOLD_BUYER,
    131050: ErrorKind.OPT_OUT,
    131026: ErrorKind.UNDELIVERABLE,
    **dict.fromkeys((131047, 130472), ErrorKind.TERMINAL),
    **dict.fromkeys((132000, 132001, 132005, 132007, 132012, 132015, 132016), ErrorKind.TEMPLATE),
    **dict.fromkeys((131048, 131064), ErrorKind.SPAM_LIMIT),
    **dict.fromkeys((131042, 131031, 368, 190), ErrorKind.ACCOUNT),
}

#: Meta's per-buyer marketing cap asks for at least 24 hours.
BUYER_HOLD = dt.timedelta(hours=24)
#: Retries before a retryable error ends the message.
MAX_ATTEMPTS = 6
#: Backoff base; attempt n waits base * 2**n, with jitter, capped.
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=1)


def classify(error: SendError) -> ErrorKind:
    if error.maybe_sent:
        return ErrorKind.UNCERTAIN
    if error.code == 0 or 500 <= error.code < 600:
        return ErrorKind.RETRY  # transport failure before Meta answered, or a server error
    return CODES.get(error.code, ErrorKind.TERMINAL)


@dataclass(frozen=True)
class ErrorDecision:
    kind: ErrorKind
    #: When to try again; None: the message ends (or waits for reconciliation if UNCERTAIN).
    retry_at: dt.datetime | None
    reason: str


def backoff(attempts: int, now: dt.datetime, pair_rate: bool = False) -> dt.datetime:
    """Exponential backoff with full jitter; one buyer's pair-rate limit waits longer."""
    base = BACKOFF_BASE * (4 if pair_rate else 1)
    delay = min(BACKOFF_CAP, base * (2 ** max(0, attempts - 1)))
    return now + delay / 2 + delay / 2 * random.random()


def apply_send_error(
    session: Session,
    store: Store,
    notification: Notification,
    error: SendError,
    now: dt.datetime,
) -> ErrorDecision:
    """Record what an error means for the buyer, template or shop; say whether to retry."""
    kind = classify(error)
    reason = f"whatsapp {error.code}: {error.title}"
    if kind == ErrorKind.RETRY:
        if notification.attempts >= MAX_ATTEMPTS:
            return ErrorDecision(kind, None, f"{reason} (gave up after {notification.attempts})")
        return ErrorDecision(
            kind, backoff(notification.attempts, now, error.code == 131056), reason
        )
    subscription = (
        ledger.find_subscription(session, store.id, notification.phone)
        if notification.phone
        else None
    )
    if kind == ErrorKind.HOLD_BUYER and subscription is not None:
        subscription.held_until = now + BUYER_HOLD
    elif kind == ErrorKind.OPT_OUT and notification.phone:
        ledger.opt_out(
            session,
            store,
            notification.phone,
            source="send_error",
            detail={"code": error.code},
            at=now,
        )
    elif kind == ErrorKind.UNDELIVERABLE and subscription is not None:
        subscription.undeliverable = True
    elif kind == ErrorKind.TEMPLATE:
        _flag_template(session, store, notification, reason, now)
    elif kind == ErrorKind.SPAM_LIMIT:
        _pause_marketing(session, store, reason)
    elif kind == ErrorKind.ACCOUNT:
        store.status = StoreStatus.PAUSED
        store.paused_reason = reason
    return ErrorDecision(kind, None, reason)


def _flag_template(
    session: Session, store: Store, notification: Notification, reason: str, now: dt.datetime
) -> None:
    template = session.scalars(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.store_id == store.id,
            WhatsAppTemplate.name == notification.template_name,
            WhatsAppTemplate.language == notification.language,
        )
    ).first()
    if template is not None:
        template.status = "PAUSED" if template.status == "APPROVED" else template.status
        template.rejection_reason = reason
        template.status_changed_at = now


def _pause_marketing(session: Session, store: Store, reason: str) -> None:
    account = session.scalars(
        select(WhatsAppAccount).where(WhatsAppAccount.store_id == store.id)
    ).first()
    if account is not None:
        account.marketing_paused_reason = reason
