"""Which endpoint a template message goes to, and what Meta says about the number's onboarding.

Meta's guidance ("Route template messages by category"): MARKETING templates go to
`POST /<PHONE_NUMBER_ID>/marketing_messages` (the Marketing Messages API for WhatsApp), every
other category to `/messages`, by the template's latest category. A business that has not
accepted the API's terms is not refused there: with `product_policy` CLOUD_API_FALLBACK (the
default) Meta delivers its marketing through Cloud API instead, without the API's TTL and
delivery optimisation ("Send marketing messages": the fallback and `product_policy`).
https://developers.facebook.com/documentation/business-messaging/whatsapp/marketing-messages/send-marketing-messages

So onboarding is read, not guessed from a send: the WABA's `marketing_messages_onboarding_status`
(ONBOARDED, or ELIGIBLE and the other not-yet values) at each account refresh
(plugin.whatsapp.accounts), and Meta's error 134102 ("Template unavailable for use", HTTP 500:
the template's ad sync failed or the WABA is not eligible). A 134102 accepted nothing, so the
message goes through /messages at once, and marketing keeps to /messages until the next refresh
or a day later.
https://developers.facebook.com/documentation/business-messaging/whatsapp/marketing-messages/onboarding
https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import update

from plugin.db import Database
from plugin.models import WhatsAppAccount
from plugin.whatsapp.channel import SendError, TemplateMessage

log = logging.getLogger(__name__)

UNKNOWN, ONBOARDED, NOT_ONBOARDED = "unknown", "onboarded", "not_onboarded"
#: Meta's "Template unavailable for use" on /marketing_messages (HTTP 500): ad sync incomplete
#: for the template, or the WABA not eligible for the Marketing Messages API (error codes page,
#: "MM API for WhatsApp error codes").
NOT_ONBOARDED_CODE = 134102
#: The WABA field that says whether its business is onboarded (the onboarding page's "Check
#: WABA onboarding status and eligibility"); only ONBOARDED means it is.
ONBOARDING_FIELD = "marketing_messages_onboarding_status"
#: How long a 134102 stands before a marketing send tries the API again.
RECHECK = dt.timedelta(hours=24)
#: What the owner is told while marketing goes through /messages.
ONBOARDING_HINT = (
    "marketing goes through Cloud API (/messages): this WhatsApp Business account is not "
    "onboarded to Meta's Marketing Messages API, so late cart reminders do not expire and "
    "there is no delivery optimisation (Meta ends marketing through /messages in October "
    "2027). Onboard in WhatsApp Manager (Overview > Alerts: accept the Marketing Messages API "
    "terms) or in the app dashboard (WhatsApp > Quickstart); ShopNudge notices within an hour."
)


def is_not_onboarded(error: SendError) -> bool:
    """Meta refused a /marketing_messages send with 134102: nothing was accepted (Meta's own
    error body, not a lost answer), so the message may go through /messages instead."""
    return not error.maybe_sent and error.code == NOT_ONBOARDED_CODE


def marketing_route(
    state: str, checked_at: dt.datetime | None, message: TemplateMessage, now: dt.datetime
) -> bool:
    """True when this message should go to /marketing_messages, given the account's `state`
    of onboarding and when it was last found not onboarded (`checked_at`).

    MARKETING only; the Marketing Messages API addresses buyers by phone number (`to`), so a
    buyer known only by a business-scoped user id is sent through /messages.
    """
    if (message.category or "").upper() != "MARKETING":
        return False
    if not message.to.removeprefix("+").isdigit():
        return False
    if state != NOT_ONBOARDED:
        return True
    return checked_at is None or now - checked_at >= RECHECK


def state_of(onboarding_status: object) -> str | None:
    """Our state for Meta's `marketing_messages_onboarding_status` (None: no answer)."""
    status = str(onboarding_status or "").upper()
    if not status:
        return None
    return ONBOARDED if status == "ONBOARDED" else NOT_ONBOARDED


def remember(database: Database, account_id: int, state: str, now: dt.datetime) -> None:
    """Store what Meta's answer said about the account's onboarding (its own transaction)."""
    with database.session() as session:
        session.execute(
            update(WhatsAppAccount)
            .where(WhatsAppAccount.id == account_id)
            .values(marketing_messages=state, marketing_messages_checked_at=now)
        )
    log.info("whatsapp account %s: Marketing Messages API %s", account_id, state)


def warning(account: WhatsAppAccount | None) -> str | None:
    """The owner-facing warning while marketing cannot use the Marketing Messages API."""
    if account is None or account.dry_run or account.marketing_messages != NOT_ONBOARDED:
        return None
    return ONBOARDING_HINT
