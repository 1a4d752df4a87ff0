"""The owner and buyer interfaces in English and German, the gettext way (Flask-Babel).

Strings are marked with `_()` in code and templates; `python3 dev.py translations` extracts
them into `plugin/translations/messages.pot`, updates the `.po` catalogues and compiles the
`.mo` files that ship with the code. A string without a translation shows its English msgid,
never breaks a page (and `tests/test_translations.py` fails on it). The language comes from the
Shopify admin's `locale` parameter when present, else the browser's Accept-Language; times are
shown in the signed-in shop's time zone.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import numbers
from babel.support import NullTranslations, Translations
from flask import Flask, g, request
from flask_babel import (
    Babel,
    format_date,
    format_datetime,
    format_decimal,
    format_number,
    get_locale,
    gettext,
    lazy_gettext,
    ngettext,
)

from connectors.money import from_minor

SUPPORTED = ("en", "de")
DEFAULT = "en"
#: View code takes `_` (gettext), `ngettext` and `lazy_gettext` from here, as from Flask-Babel.
__all__ = [
    "BUYER_REASONS",
    "N_",
    "buyer_reason",
    "buyer_reasons",
    "current_language",
    "format_decimal",
    "gettext",
    "init_app",
    "lazy_gettext",
    "lint_text",
    "ngettext",
    "pick_language",
]
#: Where the catalogues live: `<language>/LC_MESSAGES/messages.po` and its compiled `.mo`.
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def N_(text: str) -> str:
    """Mark a string for extraction where it is translated later (at import time no locale)."""
    return text


#: Why an opt-in was refused, by machine-readable reason: the English msgid, translated per
#: request. The widget shows these; the API answers with them, never with a library's text.
BUYER_REASON_TEXTS: dict[str, str] = {
    "consent_missing": N_("Please tick the box to sign up."),
    "phone_missing": N_("Please enter your mobile number."),
    "phone_not_text": N_("Please enter your mobile number as text, e.g. +49 151 23456789."),
    "phone_unparseable": N_("This is not a phone number. Please check it."),
    "phone_invalid": N_("This does not look like a valid mobile number."),
    "phone_not_mobile": N_("WhatsApp needs a mobile number."),
    "customer_id_invalid": N_("The shop sent an invalid customer number. Please reload the page."),
    "cart_token_invalid": N_("The shop sent an invalid cart. Please reload the page."),
    "source_not_allowed": N_("This sign-up form may not be used here. Please reload the page."),
    "source_unknown": N_("This sign-up form is out of date. Please reload the page."),
    "wording_version_missing": N_("The sign-up text is missing. Please reload the page."),
    "wording_version_stale": N_(
        "The sign-up text has changed. Please reload the page and read it again."
    ),
    "locale_invalid": N_("The page's language is not valid. Please reload the page."),
    "locale_unknown": N_("Signing up is not available in this language yet."),
    "rate_limited": N_("Too many attempts. Please try again in a few minutes."),
    "body_invalid": N_("Something went wrong. Please reload the page."),
    "origin_not_allowed": N_("This page may not sign you up for this shop."),
}

#: Wording lint messages by code, for owners who read another language than English.
LINT_TEXTS: dict[str, str] = {
    "empty": N_("The wording is empty."),
    "business_missing": N_("The wording must name the business as buyers know it (%(business)s)."),
    "channel_missing": N_('The wording must name the channel "WhatsApp".'),
    "opt_out_hint_missing": N_(
        "Tell buyers how to stop, e.g. 'reply STOP' (Meta's opt-in policy expects it)."
    ),
}


@functools.cache
def catalogue(language: str) -> NullTranslations:
    """The compiled catalogue of one language (English has none: its msgids are the text)."""
    return Translations.load(str(TRANSLATIONS), [language], domain="messages")


def translate(text: str, language: str) -> str:
    """Translate outside a request's locale, e.g. into the language a buyer's page names."""
    return catalogue(language).gettext(text)


#: Every refusal in every language, read from the catalogues once.
BUYER_REASONS: dict[str, dict[str, str]] = {
    reason: {language: translate(text, language) for language in SUPPORTED}
    for reason, text in BUYER_REASON_TEXTS.items()
}


def buyer_reason(reason: str, language: str) -> str:
    """A refusal in the buyer's language (English where the language has no catalogue)."""
    texts = BUYER_REASONS.get(reason, BUYER_REASONS["body_invalid"])
    return texts.get(language, texts[DEFAULT])


def buyer_reasons(language: str) -> dict[str, str]:
    """Every refusal in one language, for the widget to show by reason."""
    return {reason: buyer_reason(reason, language) for reason in BUYER_REASONS}


def lint_text(code: str, message: str, business: str) -> str:
    """A lint message in the owner's language; English and unknown codes keep the original."""
    if current_language() == DEFAULT or code not in LINT_TEXTS:
        return message
    return gettext(LINT_TEXTS[code], business=business)


def pick_language(locale_parameter: str | None, accept_language: Any) -> str:
    """Shopify admin's locale first (e.g. "de-DE"), then the browser's preference."""
    if locale_parameter:
        primary = locale_parameter.replace("_", "-").split("-")[0].lower()
        if primary in SUPPORTED:
            return primary
    return accept_language.best_match(SUPPORTED, default=DEFAULT) or DEFAULT


def current_language() -> str:
    if "language" not in g:
        g.language = pick_language(request.args.get("locale"), request.accept_languages)
    return g.language


def money_minor(minor: float, currency: str | None, signed: bool = False) -> str:
    """An amount in minor units (cents) as the owner's locale writes money: `8.065,00 €`."""
    return _money(from_minor(minor, currency), currency, signed)


def money_whole(minor: float, currency: str, signed: bool = False) -> str:
    """An estimate in whole units (`+1.234 €`): cents would claim a precision it lacks."""
    locale = get_locale() or DEFAULT
    pattern = locale.currency_formats["standard"].pattern.split(";")[0].replace("0.00", "0")
    amount = Decimal(round(from_minor(minor, currency)))
    text = numbers.format_currency(amount, currency, pattern, locale=locale, currency_digits=False)
    return f"+{text}" if signed and amount > 0 else text


def money_micros(micros: float, currency: str | None, signed: bool = False) -> str:
    """Message costs are micro-units; show every digit that is there (`0,1131 €`)."""
    return _money(Decimal(str(micros)) / 1_000_000, currency, signed)


def _money(amount: Decimal, currency: str | None, signed: bool) -> str:
    locale = get_locale() or DEFAULT
    if currency:
        text = numbers.format_currency(amount, currency, locale=locale, decimal_quantization=False)
    else:
        text = numbers.format_decimal(amount, locale=locale, decimal_quantization=False)
    return f"+{text}" if signed and amount > 0 else text


def percent(share: float, signed: bool = False) -> str:
    """A share (0.123) in percent with one decimal (12,3 in German), under a "%" heading."""
    pattern = "+#,##0.0;-#,##0.0" if signed else "#,##0.0"
    return numbers.format_decimal(share * 100, pattern, locale=get_locale() or DEFAULT)


def signed_number(value: float) -> str:
    """A whole number with its sign (+3, -2), grouped as the locale groups."""
    return numbers.format_decimal(round(value), "+#,##0;-#,##0", locale=get_locale() or DEFAULT)


def _shop_timezone() -> str | None:
    """The signed-in shop's time zone (None outside an owner's request: Babel's default, UTC)."""
    store = g.get("current_store")
    return store.timezone if store is not None and store.timezone else None


def init_app(app: Flask) -> None:
    """Install Flask-Babel: `_`, `gettext`, `ngettext` and the format filters in every template."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    Babel(
        app,
        locale_selector=current_language,
        timezone_selector=_shop_timezone,
        default_translation_directories=str(TRANSLATIONS),
    )
    app.jinja_env.globals.update(
        current_language=current_language,
        format_date=format_date,
        format_datetime=format_datetime,
        format_decimal=format_decimal,
        format_number=format_number,
        money_micros=money_micros,
        money_minor=money_minor,
        money_whole=money_whole,
        percent=percent,
        signed_number=signed_number,
    )
    from plugin import labels  # uses Flask-Babel's lazy strings, so only once it is set up

    labels.init_app(app)
