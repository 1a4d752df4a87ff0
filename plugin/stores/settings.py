"""Read a shop setting typed as text (the command line) into a validated value.

Every rule the engine reads from `DEFAULT_SETTINGS`, and the shop's own columns that shape
sending (time zone, country, currency, locale, privacy page, name), can be set this way; a value
that does not fit is refused with one line that says what would.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

from plugin.consent.wording import InvalidLocale, normalise_locale
from plugin.models.store import DEFAULT_SETTINGS

TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class InvalidSetting(ValueError):
    """The value cannot be used; the message says what to type instead."""


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise InvalidSetting(f"a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise InvalidSetting(f"a whole number from {low} to {high}")
        return value

    return parse


def _optional_integer(low: int, high: int) -> Callable[[str], int | None]:
    whole = _integer(low, high)

    def parse(text: str) -> int | None:
        return None if text.strip().lower() in ("", "none", "off") else whole(text)

    return parse


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise InvalidSetting("one of " + ", ".join(choices))
        return text

    return parse


def _time(text: str) -> str:
    if not TIME.match(text):
        raise InvalidSetting("a time as HH:MM, e.g. 20:00")
    return text


def _words(text: str) -> list[str]:
    """A JSON list, or words separated by commas or lines (the page's text areas)."""
    if text.strip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidSetting("a JSON list or comma-separated values") from None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise InvalidSetting("a JSON list of strings")
        return [i.strip() for i in items if i.strip()]
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def storefront_origins(text: str) -> list[str]:
    origins = []
    for item in _words(text):
        parts = urlsplit(item)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidSetting(f"{item!r} is not an origin such as https://shop.example.com")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise InvalidSetting(f"{item!r}: an origin has no path, e.g. https://shop.example.com")
        origins.append(f"{parts.scheme}://{parts.netloc}".lower())
    return sorted(set(origins))


def _weekdays(text: str) -> list[int]:
    try:
        days = sorted({int(day) for day in _words(text)})
    except ValueError:
        raise InvalidSetting("ISO weekday numbers, 1 (Monday) to 7 (Sunday)") from None
    if any(not 1 <= day <= 7 for day in days):
        raise InvalidSetting("ISO weekday numbers, 1 (Monday) to 7 (Sunday)")
    return days


def _reminder_steps(text: str) -> list[dict[str, Any]]:
    message = 'a JSON list like [{"delay_minutes": 60, "template": "cart_reminder_1"}]'
    try:
        steps = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidSetting(message) from None
    if not isinstance(steps, list) or not 1 <= len(steps) <= 3:
        raise InvalidSetting(message + " with one to three steps")
    for step in steps:
        delay = step.get("delay_minutes") if isinstance(step, dict) else None
        template = step.get("template") if isinstance(step, dict) else None
        if not isinstance(delay, int) or not 15 <= delay <= 7 * 1440 or not template:
            raise InvalidSetting(message + " (delays from 15 to 10080 minutes)")
    return [{"delay_minutes": s["delay_minutes"], "template": str(s["template"])} for s in steps]


#: Meta's rates have four decimals; an override above 10 EUR a message is a typing error.
RATE_LIMIT_MICROS = 10_000_000
RATE_CATEGORIES = ("marketing", "utility", "authentication")
RATE_HINT = (
    "one line per country: CODE MARKETING UTILITY AUTHENTICATION in EUR per delivered "
    "message, e.g. AT 0.0592 0.0171 0.0171 (or the same as JSON)"
)


def _rate_micros(value: Any) -> int:
    try:
        micros = round(Decimal(str(value).replace(",", ".")) * 1_000_000)
    except (ArithmeticError, ValueError):  # not a number, NaN, infinity
        raise InvalidSetting(RATE_HINT) from None
    if not 0 <= micros <= RATE_LIMIT_MICROS:
        raise InvalidSetting(RATE_HINT + "; each rate from 0 to 10")
    return micros


def _rate_rows(text: str) -> dict[str, Any]:
    """The overrides as typed: JSON {"AT": {"marketing": 0.0592, …}} or one line per country."""
    if text.strip().startswith("{"):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidSetting(RATE_HINT) from None
        if not isinstance(rows, dict) or not all(isinstance(r, dict) for r in rows.values()):
            raise InvalidSetting(RATE_HINT)
        return rows
    rows = {}
    for line in re.split(r"[;\n]", text):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 1 + len(RATE_CATEGORIES):
            raise InvalidSetting(RATE_HINT)
        rows[parts[0]] = dict(zip(RATE_CATEGORIES, parts[1:], strict=True))
    return rows


def rate_card_overrides(text: str) -> dict[str, dict[str, int]]:
    """Owner's own prices by recipient country, stored in EUR micros as the card is."""
    if text.strip().lower() in ("", "none", "off"):
        return {}
    overrides = {}
    for country, rates in _rate_rows(text).items():
        code = str(country).strip().upper()
        if code != "*" and code not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidSetting(f"{RATE_HINT}; {country!r} is not a country code")
        if set(rates) != set(RATE_CATEGORIES):
            raise InvalidSetting(RATE_HINT)
        overrides[code] = {name: _rate_micros(rates[name]) for name in RATE_CATEGORIES}
    return dict(sorted(overrides.items()))


def format_rate_card_overrides(overrides: dict[str, dict[str, int]]) -> str:
    """The overrides in the line format the settings page shows and reads back."""
    return "\n".join(
        " ".join(
            [country]
            + [
                format(Decimal(rates[name]) / 1_000_000, "f").rstrip("0").rstrip(".") or "0"
                for name in RATE_CATEGORIES
            ]
        )
        for country, rates in sorted(overrides.items())
    )


def _optional_text(text: str) -> str | None:
    return text.strip() or None


def _timezone(text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidSetting("an IANA time zone such as Europe/Berlin") from None
    return text


def _country(text: str) -> str:
    code = text.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidSetting("a two-letter country code such as DE")
    return code


def _currency(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise InvalidSetting("a three-letter ISO 4217 currency code such as EUR")
    return code


def _locale(text: str) -> str:
    try:
        return normalise_locale(text)
    except InvalidLocale:
        raise InvalidSetting("a language tag such as de or en-GB") from None


def _url(text: str) -> str:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidSetting("an address starting with https://")
    return text.strip()


def _optional_url(text: str) -> str | None:
    """An https address, or nothing ("none" clears it)."""
    if text.strip().lower() in ("", "none", "off"):
        return None
    parts = urlsplit(text.strip())
    if parts.scheme != "https" or not parts.hostname or len(text.strip()) > 512:
        raise InvalidSetting("an address starting with https:// (or none)")
    return text.strip()


def _name(text: str) -> str:
    if not text.strip() or len(text) > 255:
        raise InvalidSetting("the business name, 1 to 255 characters")
    return text.strip()


#: How each setting is read from text; the keys are every setting an owner may change.
PARSERS: dict[str, Callable[[str], Any]] = {
    "double_optin_mode": _choice("template", "link"),
    "pending_optin_days": _integer(1, 30),
    "reminder_steps": _reminder_steps,
    "cart_max_age_hours": _integer(1, 24 * 30),
    "cart_abandon_minutes": _integer(15, 24 * 60),
    "recommendation_delay_days": _integer(1, 365),
    "recommendation_period_days": _integer(1, 365),
    "recommendation_local_hour": _integer(0, 23),
    "excluded_categories": _words,
    "consumable_categories": _words,
    "quiet_hours_start": _time,
    "quiet_hours_end": _time,
    "quiet_days": _weekdays,
    "cap_per_24h": _integer(0, 10),
    "cap_per_7d": _integer(0, 50),
    "monthly_budget_minor": _optional_integer(0, 10**12),
    "holdout_percent": _integer(0, 100),
    "campaign_opt_out_pause_basis_points": _integer(1, 10_000),
    "attribution_window_days": _integer(1, 90),
    "discount_code": _optional_text,
    "storefront_origins": storefront_origins,
    "rate_card_overrides": rate_card_overrides,
    "logo_url": _optional_url,
    "timezone": _timezone,
    "country": _country,
    "currency": _currency,
    "default_locale": _locale,
    "privacy_url": _url,
    "name": _name,
}
#: The shop's own columns among them (the rest live in `Store.settings`).
STORE_COLUMNS = ("timezone", "country", "currency", "default_locale", "privacy_url", "name")

assert set(PARSERS) == set(DEFAULT_SETTINGS) | set(STORE_COLUMNS), "a setting without a parser"


def parse_setting(name: str, text: str) -> Any:
    """The value for `name` read from `text`; InvalidSetting says what would fit."""
    parser = PARSERS.get(name)
    if parser is None:
        raise InvalidSetting(f"unknown setting {name!r}; one of: {', '.join(sorted(PARSERS))}")
    try:
        return parser(text)
    except InvalidSetting as error:
        raise InvalidSetting(f"{name} must be {error}") from None
