"""Opt-in wording: defaults per locale; each edit is a new immutable version."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import OptinWording, Store

#: Defaults name the business, the channel, what is sent and how to stop.
DEFAULT_WORDING: dict[str, str] = {
    "de": (
        "Ja, {business} darf mir Nachrichten per WhatsApp an die angegebene Nummer senden: "
        "Erinnerungen an meinen Warenkorb, Produktempfehlungen und Angebote. Ich kann mich "
        "jederzeit abmelden, z. B. mit der Antwort STOPP. Mehr in der Datenschutzerklärung."
    ),
    "en": (
        "Yes, {business} may send me WhatsApp messages at this number: reminders about my "
        "cart, product recommendations and offers. I can unsubscribe at any time, e.g. by "
        "replying STOP. See the privacy policy."
    ),
}


def current_wording(session: Session, store: Store, locale: str) -> OptinWording | None:
    """The newest version for a locale, or None when the shop has none for it."""
    return session.scalars(
        select(OptinWording)
        .where(OptinWording.store_id == store.id, OptinWording.locale == locale)
        .order_by(OptinWording.version.desc())
        .limit(1)
    ).first()


def add_wording_version(
    session: Session, store: Store, locale: str, text: str, created_by: str
) -> OptinWording:
    """Store a new version; earlier versions stay as they were, forever."""
    latest = session.scalar(
        select(func.max(OptinWording.version)).where(
            OptinWording.store_id == store.id, OptinWording.locale == locale
        )
    )
    wording = OptinWording(
        store_id=store.id,
        locale=locale,
        version=(latest or 0) + 1,
        text=text,
        privacy_url=store.privacy_url,
        created_by=created_by,
    )
    session.add(wording)
    session.flush()
    return wording


def ensure_default_wordings(session: Session, store: Store) -> dict[str, OptinWording]:
    """Give a new shop the default wording in every shipped locale it does not have yet."""
    result = {}
    for locale, template in DEFAULT_WORDING.items():
        wording = current_wording(session, store, locale)
        if wording is None:
            text = template.format(business=store.name)
            wording = add_wording_version(session, store, locale, text, "default")
        result[locale] = wording
    return result
