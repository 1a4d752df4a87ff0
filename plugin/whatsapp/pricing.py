"""What a message costs, what a shop spent this month, and whether its budget allows more.

Meta charges per delivered template message by category and the recipient's country code
(per-message pricing since 2025-07-01):
https://developers.facebook.com/docs/whatsapp/pricing
Amounts are micros (millionths of the currency) because Meta's rates have four decimals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import Notification, NotificationState, Store
from plugin.phones import phone_region

#: When the shipped figures took effect: Meta's per-message rate card of 2025-07-01. Read from
#: https://developers.facebook.com/docs/whatsapp/pricing (rate cards linked there) and checked
#: against published copies of the card (EUR, Germany: hello-charles.com's pricing guide;
#: USD by country: docs.sent.dm's pricing table, "effective July 1, 2025").
RATE_CARD_DATE = dt.date(2025, 7, 1)
#: Markets whose figures could not be verified against the card when it was shipped; they use
#: the "*" row until an owner sets their own (settings "rate_card_overrides").
UNVERIFIED_MARKETS = ("AT", "BE", "CH", "ES", "FR", "GB", "IT", "NL", "PL")

#: Meta's free pricing types: nothing is charged for these messages.
FREE_TYPES = frozenset({"free_customer_service", "free_entry_point"})


@dataclass(frozen=True)
class Rate:
    marketing: int
    utility: int
    authentication: int


def _micros(marketing: str, utility: str, authentication: str) -> Rate:
    return Rate(*(round(float(v) * 1_000_000) for v in (marketing, utility, authentication)))


_eur = _micros

#: EUR per delivered message by recipient country ("*": every country not listed).
RATE_CARD_EUR: dict[str, Rate] = {
    "DE": _eur("0.1131", "0.0456", "0.0456"),
    # Unknown and unverified markets are priced as Germany (among the dearest), never as free.
    "*": _eur("0.1131", "0.0456", "0.0456"),
}

#: USD per delivered message; only verified rows. Austria is in Meta's "Rest of Western Europe"
#: market. A country missing here is priced from the EUR card (and reported in EUR).
RATE_CARD_USD: dict[str, Rate] = {
    "AT": _micros("0.0592", "0.0171", "0.0171"),
}

RATE_CARDS = {"EUR": RATE_CARD_EUR, "USD": RATE_CARD_USD}


def rate_card(store: Store) -> dict[str, Rate]:
    """The shipped EUR card with the owner's overrides (settings "rate_card_overrides")."""
    card = dict(RATE_CARD_EUR)
    overrides = (store.settings or {}).get("rate_card_overrides") or {}
    for country, values in overrides.items():
        card[country.upper()] = Rate(**{k: int(v) for k, v in values.items()})
    return card


def expected_cost_micros(store: Store, phone: str | None, category: str = "marketing") -> int:
    """The price of one delivered message of this category to this number, in EUR micros."""
    card = rate_card(store)
    country = phone_region(phone) if phone else None
    rate = card.get(country or "*", card["*"])
    return getattr(rate, category.lower())


def expected_cost(store: Store, phone: str | None, category: str = "marketing") -> tuple[int, str]:
    """(micros, currency): in the shop's currency where the card has a verified row, else EUR."""
    country = phone_region(phone) if phone else None
    overridden = country and country in ((store.settings or {}).get("rate_card_overrides") or {})
    card = RATE_CARDS.get(store.currency, {})
    if (
        country in card
        and not overridden
        and category.lower() in ("marketing", "utility", "authentication")
    ):
        return getattr(card[country], category.lower()), store.currency
    return expected_cost_micros(store, phone, category), "EUR"


def charged_cost(store: Store, phone: str | None, pricing: dict[str, object]) -> tuple[int, str]:
    """What Meta charged for one message, from a status webhook's `pricing` block.

    Free types and non-billable messages cost 0; otherwise the card's price for the category.
    https://developers.facebook.com/docs/whatsapp/pricing#pricing-in-webhooks
    """
    kind = str(pricing.get("type") or "regular")
    category = str(pricing.get("category") or "marketing").lower()
    if kind in FREE_TYPES or pricing.get("billable") is False:
        return 0, "EUR"
    if category not in ("marketing", "utility", "authentication"):
        category = "marketing" if category.startswith("marketing") else "utility"
    return expected_cost(store, phone, category)


def month_start(store: Store, now: dt.datetime) -> dt.datetime:
    """Start of the shop's current calendar month, in the shop's own time zone."""
    local = now.astimezone(ZoneInfo(store.timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def month_spend_micros(session: Session, store: Store, now: dt.datetime) -> int:
    """Spent (and committed to: messages sending or sent) since the shop's month began."""
    total = session.scalar(
        select(func.coalesce(func.sum(Notification.cost_micros), 0)).where(
            Notification.store_id == store.id,
            Notification.state.in_([NotificationState.SENDING, NotificationState.SENT]),
            Notification.sent_at.is_(None) | (Notification.sent_at >= month_start(store, now)),
        )
    )
    return int(total or 0)


def budget_allows(session: Session, store: Store, now: dt.datetime, extra_micros: int = 0) -> bool:
    """True when no budget is set or this month's spend plus `extra_micros` stays within it."""
    budget_minor = store.setting("monthly_budget_minor")
    if budget_minor is None:
        return True
    return month_spend_micros(session, store, now) + extra_micros <= int(budget_minor) * 10_000


def forecast_micros(store: Store, recipients: list[str], category: str = "marketing") -> int:
    """What sending one message of this category to each recipient would cost."""
    return sum(expected_cost_micros(store, phone, category) for phone in recipients)
