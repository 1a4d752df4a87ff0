"""What buyers send us: messages, button replies, and WhatsApp's own marketing preferences.

Every reply goes to the consent rules (plugin.consent.replies); an opt-out or a confirmation
is answered with one short free-form message in the buyer's language. It costs nothing: the
buyer's own message opened the 24-hour service window.
https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages
https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/user_preferences
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from plugin.config import Settings
from plugin.consent import ledger
from plugin.consent.replies import ReplyOutcome, handle_inbound
from plugin.models import AuditEntry, Store, WhatsAppAccount
from plugin.whatsapp import identity
from plugin.whatsapp.channel import SendError
from plugin.whatsapp.client import channel_for
from plugin.whatsapp.identity import phone_of
from plugin.whatsapp.statuses import timestamp

log = logging.getLogger(__name__)

#: The answer to an opt-out or a confirmation, by language ({shop}: the business name).
REPLIES: dict[str, dict[str, str]] = {
    ReplyOutcome.OPTED_OUT: {
        "de": "Du bist abgemeldet: {shop} schickt dir keine Werbung mehr per WhatsApp.",
        "en": "You are unsubscribed: {shop} will send you no more promotions on WhatsApp.",
    },
    ReplyOutcome.CONFIRMED: {
        "de": "Danke, deine Anmeldung bei {shop} ist bestätigt. Abmelden kannst du dich "
        "jederzeit mit STOPP.",
        "en": "Thank you, your subscription to {shop} is confirmed. Reply STOP at any time to "
        "unsubscribe.",
    },
}


def _content(message: dict[str, Any]) -> tuple[str | None, str | None]:
    """(text, button payload) of a text message, a template quick reply or a button reply."""
    kind = message.get("type")
    if kind == "text":
        return (message.get("text") or {}).get("body"), None
    if kind == "button":
        button = message.get("button") or {}
        return button.get("text"), button.get("payload")
    if kind == "interactive":
        reply = (message.get("interactive") or {}).get("button_reply") or {}
        return reply.get("title"), reply.get("id")
    return None, None


def handle_message(
    session: Session,
    settings: Settings,
    store: Store,
    account: WhatsAppAccount | None,
    value: dict[str, Any],
) -> ReplyOutcome | None:
    """Apply one inbound message to the buyer's consent; answer an opt-out or confirmation."""
    message = (value.get("messages") or [{}])[0]
    contacts = value.get("contacts") or [{}]
    user_id = message.get("from_user_id") or contacts[0].get("user_id")
    phone = phone_of(message.get("from"))
    subscription = identity.resolve(session, store, phone=phone, user_id=user_id)
    if phone is None and subscription is not None:
        phone = subscription.phone
    if phone is None:
        log.info("message from an unknown hidden number ignored")
        return None
    text, payload = _content(message)
    outcome = handle_inbound(
        session,
        store,
        phone=phone,
        text=text,
        button_payload=payload,
        message_id=message.get("id"),
        at=timestamp(message.get("timestamp")),
    )
    if outcome in REPLIES:
        _reply(session, settings, store, account, phone, outcome)
    return outcome


def _reply(
    session: Session,
    settings: Settings,
    store: Store,
    account: WhatsAppAccount | None,
    phone: str,
    outcome: ReplyOutcome,
) -> None:
    subscription = ledger.find_subscription(session, store.id, phone)
    language = ((subscription.locale if subscription else None) or "en")[:2].lower()
    texts = REPLIES[outcome]
    body = texts.get(language, texts["en"]).format(shop=store.name or store.domain)
    try:
        channel_for(account, settings).send_text(phone, body)
    except SendError as error:
        log.warning("confirmation reply not sent: %s", error)


def apply_preference(session: Session, store: Store, preference: dict[str, Any]) -> str | None:
    """user_preferences: "stop" is an opt-out; "resume" and others only leave a note.

    A preference that names the buyer only by an unknown BSUID changes nothing.
    """
    phone = phone_of(preference.get("wa_id"))
    subscription = identity.resolve(session, store, phone=phone, user_id=preference.get("user_id"))
    if phone is None and subscription is not None:
        phone = subscription.phone
    if phone is None:
        log.info("preference of an unknown hidden number ignored")
        return None
    value = str(preference.get("value") or "")
    at = timestamp(preference.get("timestamp"))
    detail = {"category": preference.get("category"), "detail": preference.get("detail")}
    if value == "stop":
        ledger.opt_out(session, store, phone, source="meta_preferences", detail=detail, at=at)
    else:
        session.add(
            AuditEntry(
                store_id=store.id,
                actor="buyer",
                action=f"meta_preferences_{value}"[:64],
                field="consent",
                new_value=detail,
                occurred_at=at,
            )
        )
    return value
