"""The owner interface in English and German: a small in-code message catalogue.

English text is the key; the German catalogue translates it. A missing entry falls back to the
English key, so an untranslated string is visible but never breaks a page. The language comes
from the Shopify admin's `locale` parameter when present, else the browser's Accept-Language.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request

SUPPORTED = ("en", "de")
DEFAULT = "en"

GERMAN: dict[str, str] = {
    "Dashboard": "Übersicht",
    "Settings": "Einstellungen",
    "Outbox": "Postausgang",
    "Consent lookup": "Einwilligung suchen",
    "Sign out": "Abmelden",
    "Skip to content": "Zum Inhalt springen",
    "Save": "Speichern",
    "Saved.": "Gespeichert.",
    "Nothing changed.": "Nichts geändert.",
    "Please correct the marked fields.": "Bitte die markierten Felder korrigieren.",
    "Opt-in wording": "Text der Einwilligung",
    "Language": "Sprache",
    "German": "Deutsch",
    "English": "Englisch",
    "Checkbox text": "Text neben dem Kästchen",
    "Preview, as buyers see it": "Vorschau, wie Kunden es sehen",
    "Save as new version": "Als neue Version speichern",
    "Version history": "Versionen",
    "Version": "Version",
    "Created": "Erstellt",
    "First used": "Zuerst verwendet",
    "not used yet": "noch nicht verwendet",
    "Text": "Text",
    "No wording yet.": "Noch kein Text.",
    "Business": "Geschäft",
    "Business name": "Name des Geschäfts",
    "Privacy policy URL": "Adresse der Datenschutzerklärung",
    "Privacy policy": "Datenschutzerklärung",
    "Double opt-in": "Double-Opt-in",
    "Confirmation by": "Bestätigung per",
    "WhatsApp button (template)": "WhatsApp-Schaltfläche (Vorlage)",
    "Link to WhatsApp with a code": "Link zu WhatsApp mit Code",
    "Days an unconfirmed opt-in waits": "Tage, die eine unbestätigte Anmeldung wartet",
    "Cart reminders": "Warenkorb-Erinnerungen",
    "Step": "Schritt",
    "Delay in minutes": "Verzögerung in Minuten",
    "Template": "Vorlage",
    "Discount code (optional)": "Rabattcode (optional)",
    "Recommendations": "Empfehlungen",
    "Days after an order": "Tage nach einer Bestellung",
    "At most once every (days)": "Höchstens alle (Tage)",
    "Excluded categories (comma-separated)": "Ausgeschlossene Kategorien (durch Komma getrennt)",
    "Consumable categories (comma-separated)": "Verbrauchsgüter-Kategorien (durch Komma getrennt)",
    "Quiet hours and caps": "Ruhezeiten und Obergrenzen",
    "Quiet from": "Ruhe ab",
    "Quiet until": "Ruhe bis",
    "Quiet days": "Ruhetage",
    "Messages per buyer in 24 hours": "Nachrichten pro Kunde in 24 Stunden",
    "Messages per buyer in 7 days": "Nachrichten pro Kunde in 7 Tagen",
    "Budget": "Budget",
    "Monthly budget": "Monatsbudget",
    "empty: no limit": "leer: keine Grenze",
    "Spent this month": "Diesen Monat ausgegeben",
    "Forecast, next 30 days": "Prognose, nächste 30 Tage",
    "Holdout share (%)": "Kontrollgruppe (%)",
    "Buyers in the holdout get no message, so the dashboard can measure what messages add.": (
        "Kunden in der Kontrollgruppe bekommen keine Nachricht, damit die Übersicht messen kann, "
        "was Nachrichten bewirken."
    ),
    "WhatsApp": "WhatsApp",
    "Not connected.": "Nicht verbunden.",
    "Phone number": "Telefonnummer",
    "Quality": "Qualität",
    "Messaging tier": "Nachrichtenstufe",
    "Dry run (records instead of sending)": "Probelauf (zeichnet auf statt zu senden)",
    "Templates": "Vorlagen",
    "No templates yet.": "Noch keine Vorlagen.",
    "Name": "Name",
    "Status": "Status",
    "Purpose": "Zweck",
    "Rejection reason": "Ablehnungsgrund",
    "Sending": "Versand",
    "Sending is on.": "Der Versand ist eingeschaltet.",
    "Sending is paused.": "Der Versand ist angehalten.",
    "Pause all sending": "Gesamten Versand anhalten",
    "Resume sending": "Versand fortsetzen",
    "Reason (optional)": "Grund (optional)",
    "Change log": "Änderungsprotokoll",
    "When": "Wann",
    "Who": "Wer",
    "What": "Was",
    "Old": "Alt",
    "New": "Neu",
    "Messages": "Nachrichten",
    "Sent": "Gesendet",
    "Delivered": "Zugestellt",
    "Read": "Gelesen",
    "Failed": "Fehlgeschlagen",
    "Skipped": "Übersprungen",
    "Opt-ins by source": "Anmeldungen nach Quelle",
    "Source": "Quelle",
    "Opt-ins": "Anmeldungen",
    "Confirmations": "Bestätigungen",
    "Opt-outs": "Abmeldungen",
    "Spend": "Kosten",
    "of": "von",
    "no budget set": "kein Budget festgelegt",
    "Recovered carts and revenue": "Zurückgewonnene Warenkörbe und Umsatz",
    "Attributed (last touch)": "Zugeordnet (letzter Kontakt)",
    "Orders": "Bestellungen",
    "Incremental against the holdout": "Zusätzlich gegenüber der Kontrollgruppe",
    "Carts recovered with a reminder": "Warenkörbe mit Erinnerung zurückgewonnen",
    "Carts recovered in the holdout": "Warenkörbe in der Kontrollgruppe zurückgewonnen",
    "Difference": "Unterschied",
    "Extra carts recovered thanks to reminders": "Zusätzlich zurückgewonnene Warenkörbe",
    "Extra revenue thanks to reminders": "Zusätzlicher Umsatz durch Erinnerungen",
    "95% interval": "95-%-Intervall",
    "Too few carts in the holdout to measure yet.": (
        "Noch zu wenige Warenkörbe in der Kontrollgruppe, um zu messen."
    ),
    "Phone number quality": "Qualität der Telefonnummer",
    "No data yet.": "Noch keine Daten.",
    "No messages yet.": "Noch keine Nachrichten.",
    "No opt-ins yet.": "Noch keine Anmeldungen.",
    "No conversions yet.": "Noch keine Umsätze zugeordnet.",
    "Last 90 days, by week": "Letzte 90 Tage, nach Woche",
    "Week": "Woche",
    "State": "Zustand",
    "Flow": "Ablauf",
    "Skip reason": "Grund für das Überspringen",
    "any": "alle",
    "Filter": "Filtern",
    "Due": "Fällig",
    "Reason": "Grund",
    "Cost": "Kosten",
    "No messages match.": "Keine Nachrichten passen.",
    "Newer": "Neuere",
    "Older": "Ältere",
    "Message": "Nachricht",
    "Find": "Suchen",
    "No subscription for this number.": "Keine Anmeldung für diese Nummer.",
    "Consent ledger": "Einwilligungsprotokoll",
    "Kind": "Art",
    "Wording shown": "Gezeigter Text",
    "IP address": "IP-Adresse",
    "Browser": "Browser",
    "Message id": "Nachrichten-ID",
    "Details": "Details",
    "Opt-in wording (version {version})": "Einwilligungstext (Version {version})",
    "Current state": "Aktueller Zustand",
    "Back to the outbox": "Zurück zum Postausgang",
    "Parameters": "Parameter",
    "Context": "Kontext",
    "Monday": "Montag",
    "Tuesday": "Dienstag",
    "Wednesday": "Mittwoch",
    "Thursday": "Donnerstag",
    "Friday": "Freitag",
    "Saturday": "Samstag",
    "Sunday": "Sonntag",
    "Sign in to ShopNudge": "Bei ShopNudge anmelden",
    "Open the demo shop": "Demo-Shop öffnen",
    "Spend per week": "Kosten pro Woche",
    "Messages per week": "Nachrichten pro Woche",
    "Opt-ins per week": "Anmeldungen pro Woche",
    "Attributed revenue per week": "Zugeordneter Umsatz pro Woche",
    "Revenue": "Umsatz",
    "Forecast": "Prognose",
    "Enter a phone number with country code, e.g. +49 151 …": (
        "Telefonnummer mit Ländervorwahl eingeben, z. B. +49 151 …"
    ),
    "This is not a valid phone number.": "Das ist keine gültige Telefonnummer.",
    "Lint": "Prüfung",
    "Looks good.": "Sieht gut aus.",
}

CATALOGUES: dict[str, dict[str, str]] = {"de": GERMAN}

#: Wording lint messages by code, for owners who read German; {business} is the shop's name.
LINT_GERMAN: dict[str, str] = {
    "empty": "Der Text ist leer.",
    "business_missing": "Der Text muss das Geschäft so nennen, wie Kunden es kennen ({business}).",
    "channel_missing": 'Der Text muss den Kanal "WhatsApp" nennen.',
    "opt_out_hint_missing": (
        "Sagen Sie, wie man sich abmeldet, z. B. 'Antwort STOPP' (Metas Opt-in-Richtlinie "
        "erwartet das)."
    ),
}


#: Why an opt-in was refused, in the buyer's words, by machine-readable reason. The widget
#: shows these; the API answers with them, never with a library's own error text.
BUYER_REASONS: dict[str, dict[str, str]] = {
    "consent_missing": {
        "en": "Please tick the box to sign up.",
        "de": "Bitte setzen Sie das Häkchen, um sich anzumelden.",
    },
    "phone_missing": {
        "en": "Please enter your mobile number.",
        "de": "Bitte geben Sie Ihre Handynummer ein.",
    },
    "phone_not_text": {
        "en": "Please enter your mobile number as text, e.g. +49 151 23456789.",
        "de": "Bitte geben Sie Ihre Handynummer als Text ein, z. B. +49 151 23456789.",
    },
    "phone_unparseable": {
        "en": "This is not a phone number. Please check it.",
        "de": "Das ist keine Telefonnummer. Bitte prüfen Sie die Eingabe.",
    },
    "phone_invalid": {
        "en": "This does not look like a valid mobile number.",
        "de": "Das ist keine gültige Handynummer.",
    },
    "phone_not_mobile": {
        "en": "WhatsApp needs a mobile number.",
        "de": "WhatsApp braucht eine Handynummer.",
    },
    "customer_id_invalid": {
        "en": "The shop sent an invalid customer number. Please reload the page.",
        "de": "Der Shop hat eine ungültige Kundennummer gesendet. Bitte laden Sie die Seite neu.",
    },
    "cart_token_invalid": {
        "en": "The shop sent an invalid cart. Please reload the page.",
        "de": "Der Shop hat einen ungültigen Warenkorb gesendet. Bitte laden Sie die Seite neu.",
    },
    "source_not_allowed": {
        "en": "This sign-up form may not be used here. Please reload the page.",
        "de": "Dieses Anmeldeformular darf hier nicht verwendet werden. Bitte laden Sie die "
        "Seite neu.",
    },
    "source_unknown": {
        "en": "This sign-up form is out of date. Please reload the page.",
        "de": "Dieses Anmeldeformular ist veraltet. Bitte laden Sie die Seite neu.",
    },
    "wording_version_missing": {
        "en": "The sign-up text is missing. Please reload the page.",
        "de": "Der Anmeldetext fehlt. Bitte laden Sie die Seite neu.",
    },
    "wording_version_stale": {
        "en": "The sign-up text has changed. Please reload the page and read it again.",
        "de": "Der Anmeldetext hat sich geändert. Bitte laden Sie die Seite neu und lesen Sie "
        "ihn erneut.",
    },
    "locale_invalid": {
        "en": "The page's language is not valid. Please reload the page.",
        "de": "Die Sprache der Seite ist ungültig. Bitte laden Sie die Seite neu.",
    },
    "locale_unknown": {
        "en": "Signing up is not available in this language yet.",
        "de": "Die Anmeldung ist in dieser Sprache noch nicht möglich.",
    },
    "rate_limited": {
        "en": "Too many attempts. Please try again in a few minutes.",
        "de": "Zu viele Versuche. Bitte versuchen Sie es in ein paar Minuten erneut.",
    },
    "body_invalid": {
        "en": "Something went wrong. Please reload the page.",
        "de": "Etwas ist schiefgegangen. Bitte laden Sie die Seite neu.",
    },
    "origin_not_allowed": {
        "en": "This page may not sign you up for this shop.",
        "de": "Über diese Seite können Sie sich für diesen Shop nicht anmelden.",
    },
}


def buyer_reason(reason: str, language: str) -> str:
    """A refusal in the buyer's language (English where the language has no catalogue)."""
    texts = BUYER_REASONS.get(reason, BUYER_REASONS["body_invalid"])
    return texts.get(language, texts[DEFAULT])


def buyer_reasons(language: str) -> dict[str, str]:
    """Every refusal in one language, for the widget to show by reason."""
    return {reason: buyer_reason(reason, language) for reason in BUYER_REASONS}


def lint_text(code: str, message: str, business: str) -> str:
    """A lint message in the owner's language; unknown codes keep the original sentence."""
    if current_language() == "de" and code in LINT_GERMAN:
        return LINT_GERMAN[code].format(business=business)
    return message


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


def gettext(text: str, **values: Any) -> str:
    """Translate into the request's language; named `{placeholders}` are filled after."""
    translated = CATALOGUES.get(current_language(), {}).get(text, text)
    return translated.format(**values) if values else translated


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(_=gettext, current_language=current_language)
