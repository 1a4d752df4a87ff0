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

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent import ledger
from plugin.consent.replies import ReplyOutcome, handle_inbound
from plugin.models import AuditEntry, Store, Subscription, WhatsAppAccount
from plugin.whatsapp.channel import SendError, channel_for
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


def phone_of(wa_id: Any) -> str | None:
    digits = str(wa_id or "").lstrip("+")
    return f"+{digits}" if digits.isdigit() else None


def remember_user_ids(session: Session, store: Store, value: dict[str, Any]) -> None:
    """Keep each buyer's business-scoped user id next to their number (hidden numbers later)."""
    pairs = [(c.get("wa_id"), c.get("user_id")) for c in value.get("contacts") or []]
    pairs += [
        (s.get("recipient_id"), s.get("recipient_user_id")) for s in value.get("statuses") or []
    ]
    for wa_id, user_id in pairs:
        phone = phone_of(wa_id)
        if not phone or not user_id:
            continue
        subscription = ledger.find_subscription(session, store.id, phone)
        if subscription is not None:
            subscription.whatsapp_user_id = str(user_id)[:128]


def _by_user_id(session: Session, store: Store, user_id: str | None) -> Subscription | None:
    if not user_id:
        return None
    return session.scalars(
        select(Subscription).where(
            Subscription.store_id == store.id, Subscription.whatsapp_user_id == user_id
        )
    ).first()


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
    session: Session, store: Store, account: WhatsAppAccount | None, value: dict[str, Any]
) -> ReplyOutcome | None:
    """Apply one inbound message to the buyer's consent; answer an opt-out or confirmation."""
    message = (value.get("messages") or [{}])[0]
    contacts = value.get("contacts") or [{}]
    user_id = message.get("from_user_id") or contacts[0].get("user_id")
    phone = phone_of(message.get("from"))
    if phone is None:
        known = _by_user_id(session, store, user_id)
        phone = known.phone if known is not None else None
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
        user_id=user_id,
        message_id=message.get("id"),
        at=timestamp(message.get("timestamp")),
    )
    if outcome in REPLIES:
        _reply(session, store, account, phone, outcome)
    return outcome


def _reply(
    session: Session,
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
        channel_for(account, current_app.config["SHOPNUDGE"]).send_text(phone, body)
    except SendError as error:
        log.warning("confirmation reply not sent: %s", error)


def apply_preference(session: Session, store: Store, preference: dict[str, Any]) -> str | None:
    """user_preferences: "stop" is an opt-out; "resume" and others only leave a note."""
    phone = phone_of(preference.get("wa_id"))
    if phone is None:
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
