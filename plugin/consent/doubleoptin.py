"""Double opt-in: a new opt-in stays pending until the buyer confirms it on WhatsApp.

Two modes per shop (setting `double_optin_mode`):
- "template": an outbox row asks the dispatcher to send the approved UTILITY template
  `shopnudge_optin_confirmation`, whose "Yes"/"Ja" quick reply confirms. It goes to a pending
  subscription, so dispatch holds it to its own guards (plugin.engine.guards), not marketing's.
- "link": the widget shows a "Confirm on WhatsApp" link (wa.me with the shop's number and a
  one-time code in the prefilled text). Sending it proves the buyer owns the number and opens a
  free service window. https://faq.whatsapp.com/5913398998672934 (click to chat links)

Unconfirmed opt-ins lapse after `pending_optin_days` and are purged by `expire_pending`.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from plugin.consent.ledger import derive_state
from plugin.consent.replies import CONFIRM_PAYLOAD
from plugin.models import (
    ConsentEvent,
    ConsentKind,
    Flow,
    Notification,
    NotificationState,
    Store,
    Subscription,
    SubscriptionState,
    WhatsAppAccount,
    WhatsAppTemplate,
)
from plugin.stores.lookup import kept_for_shop, watch
from plugin.whatsapp.templates.catalog import account_of, template_for
from plugin.whatsapp.templates.wording import template_name

log = logging.getLogger(__name__)

#: Letters and digits that cannot be mistaken for one another when typed or read aloud.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 6
#: The template purpose (and outbox flow) of the confirmation request.
PURPOSE = "optin_confirmation"

#: Prefilled text of the wa.me link; the code is what confirms, the words are for the buyer.
_LINK_TEXT = {
    "de": "Ja, ich möchte WhatsApp-Nachrichten von {business} erhalten. Code: {code}",
    "en": "Yes, I would like WhatsApp messages from {business}. Code: {code}",
    "fr": "Oui, je souhaite recevoir des messages WhatsApp de {business}. Code : {code}",
    "es": "Sí, quiero recibir mensajes de WhatsApp de {business}. Código: {code}",
    "it": "Sì, voglio ricevere messaggi WhatsApp da {business}. Codice: {code}",
    "nl": "Ja, ik wil WhatsApp-berichten van {business} ontvangen. Code: {code}",
    "pl": "Tak, chcę otrzymywać wiadomości WhatsApp od {business}. Kod: {code}",
    "tr": "Evet, {business} adlı işletmeden WhatsApp mesajları almak istiyorum. Kod: {code}",  # noqa: RUF001
}


@dataclass(frozen=True)
class ConfirmationStep:
    """What the buyer has to do next: wait for the template, or open the link."""

    #: "template", "link" or "none" (already confirmed).
    mode: str
    #: The wa.me link in link mode.
    url: str | None = None
    #: The outbox row in template mode.
    notification_id: int | None = None


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))


def pending_expiry(store: Store, now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(days=int(store.setting("pending_optin_days")))


def start_confirmation(
    session: Session,
    store: Store,
    subscription: Subscription,
    requested: ConsentEvent,
    now: dt.datetime,
) -> ConfirmationStep:
    """Set a pending opt-in on its way to confirmation in the shop's mode."""
    if subscription.state != SubscriptionState.PENDING:
        return ConfirmationStep("none")
    subscription.pending_expires_at = pending_expiry(store, now)
    if store.setting("double_optin_mode") == "link":
        number = _display_number(session, store)
        if number:
            subscription.confirmation_code = new_code()
            session.flush()
            return ConfirmationStep("link", url=confirmation_link(store, subscription, number))
        log.warning(
            "store %s: link mode without a WhatsApp display number, using template", store.id
        )
    return ConfirmationStep(
        "template", notification_id=_compose(session, store, subscription, requested, now)
    )


def _display_number(session: Session, store: Store) -> str | None:
    """The digits of the shop's WhatsApp number, kept per shop (store_lookup.kept_for_shop)."""

    def load() -> tuple[str | None, bool]:
        account = account_of(session, store)
        number = account.display_phone_number if account else None
        return "".join(c for c in (number or "") if c.isdigit()) or None, True

    return kept_for_shop(session, store.id, ("display_number", store.id), load)


watch(WhatsAppAccount)


def confirmation_link(store: Store, subscription: Subscription, number: str) -> str:
    """wa.me/<number>?text=… with the one-time code; https://faq.whatsapp.com/5913398998672934"""
    language = (subscription.locale or store.default_locale).split("-")[0]
    text = _LINK_TEXT.get(language, _LINK_TEXT["en"]).format(
        business=store.name, code=subscription.confirmation_code
    )
    return f"https://wa.me/{number}?text={quote(text)}"


def _compose(
    session: Session,
    store: Store,
    subscription: Subscription,
    requested: ConsentEvent,
    now: dt.datetime,
) -> int:
    """The outbox row for the confirmation template; composing twice writes nothing new.

    One INSERT … ON CONFLICT DO NOTHING on the outbox's dedupe key; only a second composition
    for the same request reads the row that is already there.
    """
    key = f"optin:{subscription.id}:{requested.id}"
    locale = subscription.locale or store.default_locale
    name, language = kept_for_shop(
        session,
        store.id,
        ("confirmation_template", store.id, locale),
        lambda: (_template(session, store, locale), True),
    )
    row = {
        "store_id": store.id,
        "dedupe_key": key,
        "flow": Flow.OPTIN_CONFIRMATION,
        "subscription_id": subscription.id,
        "customer_id": subscription.customer_id,
        "phone": subscription.phone,
        "template_name": name,
        "language": language,
        "parameters": confirmation_parameters(store),
        "context": {
            "purpose": PURPOSE,
            "requested_event_id": requested.id,
            "wording_id": requested.wording_id,
        },
        "due_at": now,
        "expires_at": subscription.pending_expires_at,
    }
    session.flush()  # the subscription's changes first, as the ORM would before its INSERT
    created = session.scalar(_INSERT[session.get_bind().dialect.name], row)
    if created is not None:
        return created
    return session.scalars(
        select(Notification.id).where(
            Notification.store_id == store.id, Notification.dedupe_key == key
        )
    ).one()


def _template(session: Session, store: Store, locale: str) -> tuple[str, str]:
    """The name and language the confirmation goes out with (dispatch checks it again).

    Kept between requests (store_lookup.kept_for_shop): a template that Meta approves or
    pauses, written by another process, counts for new opt-ins within a few seconds.
    """
    template = template_for(session, store, PURPOSE, locale)
    if template is None:
        return template_name(PURPOSE), locale.split("-")[0]
    return template.name, template.language


watch(WhatsAppTemplate)


#: Built once: building a statement costs more Python time than sending it.
_INSERT = {
    name: dialect.insert(Notification.__table__)
    .on_conflict_do_nothing(index_elements=["store_id", "dedupe_key"])
    .returning(Notification.__table__.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def confirmation_parameters(store: Store) -> dict[str, Any]:
    """The shop's name in the body, and our payload on the "Ja"/"Yes" quick reply (index 0).

    With the payload set, the `button` webhook carries CONFIRM_PAYLOAD rather than only the
    button's text. https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates
    """
    return {
        "body": [{"type": "text", "text": store.name or store.domain}],
        "buttons": [
            {
                "index": 0,
                "sub_type": "quick_reply",
                "parameters": [{"type": "payload", "payload": CONFIRM_PAYLOAD}],
            }
        ],
    }


def expire_pending(session: Session, now: dt.datetime) -> int:
    """Purge opt-ins left unconfirmed past their time; returns how many lapsed.

    The unconfirmed request events go (with the IP and user agent they held); earlier history
    (an opt-out, say) stays and the state is derived again from it. A subscription with nothing
    left is deleted. Confirmation messages not yet sent expire and lose the number.
    """
    lapsed = session.scalars(
        select(Subscription).where(
            Subscription.state == SubscriptionState.PENDING,
            Subscription.pending_expires_at.is_not(None),
            Subscription.pending_expires_at < now,
        )
    ).all()
    for subscription in lapsed:
        _purge_request(session, subscription, now)
    session.flush()
    return len(lapsed)


def _purge_request(session: Session, subscription: Subscription, now: dt.datetime) -> None:
    session.execute(
        update(Notification)
        .where(
            Notification.subscription_id == subscription.id,
            Notification.state == NotificationState.PENDING,
        )
        .values(state=NotificationState.EXPIRED, reason="opt-in not confirmed in time")
    )
    session.execute(
        update(Notification)
        .where(
            Notification.subscription_id == subscription.id,
            Notification.flow == Flow.OPTIN_CONFIRMATION,
        )
        .values(phone=None)
    )
    events = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.subscription_id == subscription.id)
        .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
    ).all()
    kept = _history_before_last_request(events)
    session.execute(
        delete(ConsentEvent).where(ConsentEvent.id.in_([e.id for e in events if e not in kept]))
    )
    state = derive_state(e.kind for e in kept)
    if state is None:
        session.delete(subscription)
        return
    subscription.state = state
    subscription.pending_expires_at = subscription.confirmation_code = None


def _history_before_last_request(events: list[ConsentEvent]) -> list[ConsentEvent]:
    """The events up to the last one that was not an unconfirmed request."""
    kept = list(events)
    while kept and kept[-1].kind == ConsentKind.REQUESTED:
        kept.pop()
    return kept
