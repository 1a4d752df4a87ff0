"""Opt-in wording: defaults per locale; each edit is a new immutable version."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.i18n import N_, translate
from plugin.models import OptinWording, Store
from plugin.stores.lookup import kept_for_shop, watch

#: Defaults name the business, the channel, what is sent and how to stop. They do not point to
#: the privacy policy in words: the widget links it after the text where the shop has set its
#: address (`privacy_url`), and a sentence pointing to nothing would be left dangling without.
#: The default opt-in text: an English msgid, in every language of the gettext catalogue
#: (German first: the languages the settings page lists, in its order).
DEFAULT_WORDING_MSGID = N_(
    "Yes, {business} may send me WhatsApp messages at this number: reminders about my "
    "cart, product recommendations and offers. I can unsubscribe at any time, e.g. by "
    "replying STOP."
)
DEFAULT_WORDING: dict[str, str] = {
    language: translate(DEFAULT_WORDING_MSGID, language) for language in ("de", "en")
}


def current_wording(session: Session, store: Store, locale: str) -> OptinWording | None:
    """The newest version for a locale, or None when the shop has none for it."""
    return session.scalars(
        select(OptinWording)
        .where(OptinWording.store_id == store.id, OptinWording.locale == locale)
        .order_by(OptinWording.version.desc())
        .limit(1)
    ).first()


def shared_current_wording(
    session: Session, store: Store, locale: str, *, fresh: bool = False
) -> OptinWording | None:
    """`current_wording`, kept between this process's requests once it has been used.

    A used version never changes again (its first use is the last write to it), so the row can
    be shared, detached from every session: read it, never change it. A new version flushed by
    this process applies at once; one added by another process within a few seconds
    (store_lookup.STOREFRONT_TTL_SECONDS), or at once with `fresh`: a buyer shown the previous
    version meanwhile is recorded with it (the text they read). A version not used yet is
    returned attached and not kept (its first use writes it).
    """

    def load() -> tuple[OptinWording | None, bool]:
        current = current_wording(session, store, locale)
        if current is None or current.first_used_at is None or session.is_modified(current):
            return current, False
        session.expunge(current)
        return current, True

    return kept_for_shop(session, store.id, ("wording", store.id, locale), load, fresh=fresh)


watch(OptinWording)


def add_wording_version(
    session: Session, store: Store, locale: str, text: str, created_by: str
) -> OptinWording:
    """Store a new version; earlier versions stay as they were, forever."""
    locale = normalise_locale(locale)
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


#: A well-formed BCP-47 tag (RFC 5646): language, optional script, region, variants.
_BCP47 = re.compile(
    r"^(?P<language>[a-z]{2,3})"
    r"(-(?P<script>[a-z]{4}))?"
    r"(-(?P<region>[a-z]{2}|[0-9]{3}))?"
    r"(-([a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*$",
    re.IGNORECASE,
)


class InvalidLocale(ValueError):
    """Not a BCP-47 language tag."""


def normalise_locale(tag: str | None) -> str:
    """The canonical spelling of a BCP-47 tag (de, de-AT, zh-Hant-TW); InvalidLocale otherwise."""
    text = (tag or "").strip().replace("_", "-")
    match = _BCP47.match(text)
    if not match or len(text) > 35:
        raise InvalidLocale(f"{tag!r} is not a BCP-47 language tag (e.g. de, en-GB)")
    parts = text.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) == 2 or (len(part) == 3 and part.isdigit()):
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def locale_candidates(requested: str | None, default: str) -> list[str]:
    """The locales to try for a page's language, most specific first, the shop's default last."""
    candidates: list[str] = []
    try:
        tag = normalise_locale(requested)
    except InvalidLocale:
        tag = ""
    parts = tag.split("-") if tag else []
    while parts:
        candidates.append("-".join(parts))
        parts.pop()
    if default not in candidates:
        candidates.append(default)
    return candidates


def wording_for_page(session: Session, store: Store, requested: str | None) -> OptinWording | None:
    """The current wording for a page's language (de-AT → de), else in the shop's default."""
    for locale in locale_candidates(requested, store.default_locale):
        wording = current_wording(session, store, locale)
        if wording is not None:
            return wording
    return None


@dataclass(frozen=True)
class LintMessage:
    #: "error" blocks saving the wording; "warning" is shown to the owner.
    level: str
    code: str
    message: str


#: Words that tell the buyer how to stop, in the languages we know (any of them will do).
_OPT_OUT_HINTS = (
    "stop",
    "abmelden",
    "widerruf",
    "unsubscribe",
    "opt out",
    "opt-out",
    "arret",
    "arrêt",
    "désabonner",
    "baja",
    "annulla",
    "afmelden",
    "wypisz",
    "iptal",
)


def lint_wording(text: str, store: Store) -> list[LintMessage]:
    """Check opt-in wording before it is saved: it must name the business and WhatsApp."""
    messages: list[LintMessage] = []
    folded = (text or "").casefold()
    if not folded.strip():
        return [LintMessage("error", "empty", "The wording is empty.")]
    if not store.name or store.name.casefold() not in folded:
        messages.append(
            LintMessage(
                "error",
                "business_missing",
                f"The wording must name the business as buyers know it ({store.name!r}).",
            )
        )
    if "whatsapp" not in folded:
        messages.append(
            LintMessage("error", "channel_missing", 'The wording must name the channel "WhatsApp".')
        )
    if not any(hint in folded for hint in _OPT_OUT_HINTS):
        messages.append(
            LintMessage(
                "warning",
                "opt_out_hint_missing",
                "Tell buyers how to stop, e.g. 'reply STOP' (Meta's opt-in policy expects it).",
            )
        )
    return messages
