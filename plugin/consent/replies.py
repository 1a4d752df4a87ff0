"""What a buyer's WhatsApp reply means for their consent: stop, yes, or a person should look.

Only a reply that *is* a keyword counts (case, spacing, punctuation, accents and emoji aside):
"STOP" opts out, "Stop sending me the red one" does not — it is flagged for the shop owner.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent import ledger
from plugin.db import utcnow
from plugin.models import (
    AuditEntry,
    ConsentEvent,
    ConsentKind,
    OptinWording,
    Store,
    Subscription,
    SubscriptionState,
)

#: Quick-reply payloads our templates carry.
OPT_OUT_PAYLOAD = "shopnudge:opt_out"
CONFIRM_PAYLOAD = "shopnudge:confirm"

#: Opt-out keywords by language, normalised (upper case, no accents, single spaces).
STOP_KEYWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        {"STOP", "UNSUBSCRIBE", "STOP ALL", "CANCEL", "END", "QUIT", "OPT OUT", "STOP PROMOTIONS"}
    ),
    "de": frozenset(
        {"STOPP", "STOP", "ABMELDEN", "KEINE WERBUNG", "ABBESTELLEN", "AUSTRAGEN", "ENDE"}
    ),
    "fr": frozenset({"ARRET", "STOP", "DESABONNER", "DESINSCRIRE", "DESINSCRIPTION"}),
    "es": frozenset({"BAJA", "PARAR", "STOP", "CANCELAR", "DARSE DE BAJA"}),
    "it": frozenset({"STOP", "BASTA", "ANNULLA", "DISISCRIVIMI", "CANCELLAMI"}),
    "nl": frozenset({"STOP", "AFMELDEN", "UITSCHRIJVEN", "GEEN RECLAME"}),
    "pl": frozenset({"STOP", "WYPISZ", "REZYGNUJE", "WYPISZ MNIE"}),
    "tr": frozenset({"DUR", "IPTAL", "STOP", "ABONELIKTEN CIK", "ISTEMIYORUM"}),
}
ALL_STOP_KEYWORDS = frozenset().union(*STOP_KEYWORDS.values())

#: Confirmation words for a pending double opt-in (de, en, fr, es, it, nl, pl, tr), normalised.
YES_KEYWORDS = frozenset(
    {"JA", "YES", "OUI", "SI", "Y", "OK", "JA BITTE", "YES PLEASE", "TAK", "EVET", "BESTATIGEN"}
)

_COMPACT_STOP_KEYWORDS = frozenset(keyword.replace(" ", "") for keyword in ALL_STOP_KEYWORDS)
_KEYWORD_WORDS = {word for keyword in ALL_STOP_KEYWORDS for word in keyword.split()}


class ReplyOutcome(enum.StrEnum):
    OPTED_OUT = "opted_out"
    CONFIRMED = "confirmed"
    FLAGGED = "flagged"  # contains a keyword but is not one: the owner decides
    IGNORED = "ignored"


def normalise(text: str) -> str:
    """Upper case, accents and emoji dropped, punctuation to spaces, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category == "Mn":
            continue  # combining accent
        if char.isalnum():
            kept.append(char)
        else:
            kept.append(" ")  # punctuation, symbols, emoji, whitespace
    collapsed = re.sub(r"\s+", " ", "".join(kept)).strip()
    return collapsed.upper()


def is_stop(text: str) -> bool:
    """The whole reply is a stop keyword ("S.T.O.P" and "keine-werbung" count too)."""
    words = normalise(text)
    return words in ALL_STOP_KEYWORDS or words.replace(" ", "") in _COMPACT_STOP_KEYWORDS


def mentions_stop(text: str) -> bool:
    words = set(normalise(text).split())
    return bool(words & _KEYWORD_WORDS)


def handle_inbound(
    session: Session,
    store: Store,
    *,
    phone: str,
    text: str | None = None,
    button_payload: str | None = None,
    user_id: str | None = None,
    message_id: str | None = None,
    at: dt.datetime | None = None,
) -> ReplyOutcome:
    """Apply one inbound message or button press from a buyer to their consent."""
    at = at or utcnow()
    subscription = ledger.find_subscription(session, store.id, phone)
    if subscription is not None:
        subscription.last_inbound_at = at
        if user_id:
            subscription.whatsapp_user_id = user_id
    if button_payload == OPT_OUT_PAYLOAD or (text is not None and is_stop(text)):
        source = "template_button" if button_payload == OPT_OUT_PAYLOAD else "whatsapp_reply"
        ledger.opt_out(
            session,
            store,
            phone,
            source=source,
            message_id=message_id,
            at=at,
            detail={"keyword": normalise(text)} if text else {},
        )
        return ReplyOutcome.OPTED_OUT
    if subscription is not None and subscription.state == SubscriptionState.PENDING:
        words = normalise(text or "")
        code = subscription.confirmation_code
        if (
            button_payload == CONFIRM_PAYLOAD
            or words in YES_KEYWORDS
            or (code and code.upper() in words.split())
        ):
            request = _open_request(session, subscription)
            ledger.record(
                session,
                store,
                phone,
                ConsentKind.CONFIRMED,
                "whatsapp_reply",
                wording=_wording_of(session, request),
                locale=request.locale if request is not None else None,
                message_id=message_id,
                at=at,
                detail={
                    "reply": "button" if button_payload else words[:32],
                    "requested_event_id": request.id if request is not None else None,
                },
            )
            return ReplyOutcome.CONFIRMED
    if text is not None and mentions_stop(text):
        session.add(
            AuditEntry(
                store_id=store.id,
                actor="buyer",
                action="reply_needs_review",
                field="consent",
                new_value={"message_id": message_id},
                occurred_at=at,
            )
        )
        return ReplyOutcome.FLAGGED
    return ReplyOutcome.IGNORED


def _open_request(session: Session, subscription: Subscription) -> ConsentEvent | None:
    """The request a confirmation answers: the subscription's latest `requested` event."""
    return session.scalars(
        select(ConsentEvent)
        .where(
            ConsentEvent.subscription_id == subscription.id,
            ConsentEvent.kind == ConsentKind.REQUESTED,
        )
        .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc())
    ).first()


def _wording_of(session: Session, request: ConsentEvent | None) -> OptinWording | None:
    """The wording the buyer was shown: what the confirmation confirms, kept on its record."""
    if request is None or request.wording_id is None:
        return None
    return session.get(OptinWording, request.wording_id)
