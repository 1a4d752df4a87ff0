"""What each Cloud API error code means, and what ShopNudge does about it: one table.

`TABLE` holds every code ShopNudge treats specially: its kind (what happens), the explanation
the owner reads, and where Meta documents it. `docs/whatsapp-errors.md` is rendered from it
(`render_markdown`, checked by a test); a code not in it ends that one message (TERMINAL).

Meta's code 0 is AuthException (HTTP 401: the token no longer authenticates): the shop pauses.
A failure on our side of the wire has no Meta code at all: `SendError.transport`
(plugin/whatsapp/channel.py). A connection that never opened is retried; a request that may
have reached Meta (a timeout after sending) is never retried blindly: the row stays `sending`
until a status webhook or the expiry settles it.
https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes
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
    WhatsAppTemplate,
)
from plugin.whatsapp.channel import SendError
from plugin.whatsapp.templates.catalog import account_of


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


#: Meta's error codes page, the source of every row unless a row names another.
ERROR_CODES = (
    "https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes"
)
GRAPH_ERRORS = "https://developers.facebook.com/docs/graph-api/guides/error-handling"
PER_USER_LIMITS = (
    "https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/"
    "marketing-templates#per-user-marketing-template-message-limits"
)


@dataclass(frozen=True)
class ErrorRule:
    """One row of the table: the codes, what ShopNudge does, what the owner reads, the source."""

    codes: tuple[int, ...]
    kind: ErrorKind
    explanation: str
    source: str = ERROR_CODES


TABLE: tuple[ErrorRule, ...] = (
    ErrorRule(
        (0,),
        ErrorKind.ACCOUNT,
        "Meta could not authenticate the access token (AuthException): the shop is paused "
        "until you connect the number again with a new token.",
    ),
    ErrorRule(
        (190,),
        ErrorKind.ACCOUNT,
        "The access token has expired: the shop is paused until you connect the number again "
        "with a new token.",
    ),
    ErrorRule(
        (3, 10, *range(200, 300)),
        ErrorKind.ACCOUNT,
        "The token lacks a permission the call needs (whatsapp_business_messaging, "
        "whatsapp_business_management) or it was removed: the shop is paused until you grant "
        "it and connect the number again.",
    ),
    ErrorRule(
        (368, 131031),
        ErrorKind.ACCOUNT,
        "Meta restricted or locked the WhatsApp Business Account for a policy violation: the "
        "shop is paused; see Business Support Home.",
    ),
    ErrorRule(
        (131042,),
        ErrorKind.ACCOUNT,
        "Meta reports a payment problem with the WhatsApp Business Account: the shop is paused "
        "until a valid payment method is set in WhatsApp Manager.",
    ),
    ErrorRule(
        (133010,),
        ErrorKind.ACCOUNT,
        "The phone number is not registered on the Cloud API: the shop is paused until the "
        "number is registered (WhatsApp Manager, or POST /<PHONE_NUMBER_ID>/register).",
    ),
    ErrorRule(
        (131037,),
        ErrorKind.ACCOUNT,
        "The number's display name is not approved yet: the shop is paused until Meta approves "
        "it in WhatsApp Manager.",
    ),
    ErrorRule(
        (1, 2, 4, 80007, 130429, 131000, 131016, 131057, 133004),
        ErrorKind.RETRY,
        "A temporary problem at Meta (server error, overload, maintenance or a rate limit): "
        "the message is tried again later, with growing pauses.",
    ),
    ErrorRule(
        (131056,),
        ErrorKind.RETRY,
        "Too many messages to one buyer in a short time: that buyer's message waits four "
        "times longer before the next try.",
    ),
    ErrorRule(
        (131049,),
        ErrorKind.HOLD_BUYER,
        "Meta's per-buyer limit on marketing from all businesses: no marketing to this buyer "
        "for 24 hours.",
        PER_USER_LIMITS,
    ),
    ErrorRule(
        (131050,),
        ErrorKind.OPT_OUT,
        "The buyer stopped marketing messages from this shop inside WhatsApp: recorded as an "
        "opt-out.",
    ),
    ErrorRule(
        (131026,),
        ErrorKind.UNDELIVERABLE,
        "The number cannot receive this message (not on WhatsApp, old app, terms not "
        "accepted): the buyer is marked undeliverable.",
    ),
    ErrorRule(
        (131047, 130472),
        ErrorKind.TERMINAL,
        "Outside the buyer's 24-hour service window, or the buyer is in one of Meta's "
        "experiments: this message ends.",
    ),
    ErrorRule(
        (130497,),
        ErrorKind.TERMINAL,
        "The business may not message buyers in this buyer's country: this message ends.",
    ),
    ErrorRule(
        (131053,),
        ErrorKind.TERMINAL,
        "Meta could not fetch or process the header image: this message ends; check the "
        "image setting (whatsapp_example_image_handle) and the product images.",
    ),
    ErrorRule(
        (131062,),
        ErrorKind.TERMINAL,
        "Meta does not accept this buyer's business-scoped user id as a recipient (the number "
        "is hidden): this message ends; it can be sent once the buyer's number is known.",
    ),
    ErrorRule(
        (132000, 132001, 132005, 132007, 132012, 132015, 132016),
        ErrorKind.TEMPLATE,
        "A problem with the template (missing, paused, disabled, wrong parameters): the "
        "template is marked PAUSED and its messages wait; see Templates.",
    ),
    ErrorRule(
        (131048,),
        ErrorKind.SPAM_LIMIT,
        "Meta limits this number because buyers blocked or reported its messages: marketing "
        "pauses until you lift the pause.",
    ),
)

#: Each code's kind, from the table.
CODES: dict[int, ErrorKind] = {code: rule.kind for rule in TABLE for code in rule.codes}
_RULES: dict[int, ErrorRule] = {code: rule for rule in TABLE for code in rule.codes}
#: What a transport failure tells the owner (it never reached Meta's answer).
TRANSPORT_EXPLANATION = (
    "ShopNudge could not reach Meta (network): tried again later, never resent if the request "
    "may have arrived."
)

#: A failure Meta reported without a code (a status webhook's error lacks one): the message
#: ends with Meta's title; not 0, which is AuthException.
NO_CODE = -2

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
    if error.transport or 500 <= error.code < 600:
        return ErrorKind.RETRY  # nothing reached Meta, or a bare server error
    return CODES.get(error.code, ErrorKind.TERMINAL)


def explanation(error: SendError) -> str:
    """The owner's words for an error: the table's row, else Meta's own title."""
    if error.transport:
        return TRANSPORT_EXPLANATION
    rule = _RULES.get(error.code)
    return rule.explanation if rule is not None else f"Meta: {error.title}"


def _codes_cell(codes: tuple[int, ...]) -> str:
    """Write three or more consecutive codes as a range, as in "3, 10, 200-299"."""
    parts: list[str] = []
    start = previous = codes[0]
    for code in (*codes[1:], None):
        if code is not None and code == previous + 1:
            previous = code
            continue
        parts.append(
            f"{start}-{previous}"
            if previous - start >= 2
            else ", ".join(str(c) for c in range(start, previous + 1))
        )
        if code is not None:
            start = previous = code
    return ", ".join(parts)


def render_markdown() -> str:
    """The table as the markdown page `docs/whatsapp-errors.md`."""
    lines = [
        "# WhatsApp error codes and what ShopNudge does",
        "",
        "Rendered from `plugin/whatsapp/errors.py` (`TABLE`); a code not listed ends that one "
        "message with Meta's title. HTTP 5xx without a Meta code is retried like `retry`.",
        "",
        "| codes | kind | what the owner reads | source |",
        "| --- | --- | --- | --- |",
    ]
    for rule in TABLE:
        lines.append(
            f"| {_codes_cell(rule.codes)} | {rule.kind} | {rule.explanation} | {rule.source} |"
        )
    lines.append(f"| (transport) | retry | {TRANSPORT_EXPLANATION} | ShopNudge |")
    return "\n".join(lines) + "\n"


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


def reason_for(error: SendError) -> str:
    """The row's reason: Meta's code and title, or that the transport failed."""
    if error.transport:
        return f"transport: {error.title}"
    if error.code == NO_CODE:
        return f"whatsapp: {error.title}"
    return f"whatsapp {error.code}: {error.title}"


def apply_send_error(
    session: Session,
    store: Store,
    notification: Notification,
    error: SendError,
    now: dt.datetime,
) -> ErrorDecision:
    """Record what an error means for the buyer, template or shop; say whether to retry."""
    kind = classify(error)
    reason = reason_for(error)
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
    account = account_of(session, store)
    if account is not None:
        account.marketing_paused_reason = reason
